"""The one error type for knowledge-base failures a caller can act on; it carries an HTTP status."""

from __future__ import annotations


class KbError(Exception):
    """A request that cannot be served; ``detail`` says why and ``status`` how an API answers."""

    def __init__(self, detail: str, status: int = 400, extra: dict | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        # Further members of the problem document (per-item results of a refused batch).
        self.extra = dict(extra or {})


class NotFound(KbError):
    """A named article, passage or fact does not exist."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, status=404)
