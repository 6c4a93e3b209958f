"""The one error type ingest stages raise for input they cannot turn into an article."""

from __future__ import annotations


class IngestError(ValueError):
    """A source could not be ingested; ``str(error)`` says why in words a user can act on."""

    def __init__(self, reason: str, *, source: str | None = None, status: int = 422) -> None:
        super().__init__(reason)
        self.reason = reason
        self.source = source
        # The HTTP status an API should answer with (413 too large, 400 refused URL, 422 unusable).
        self.status = status

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}" if self.source else self.reason
