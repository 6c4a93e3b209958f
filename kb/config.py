"""Every setting in one table: name, default, environment variable and help.

The CLI, the app factory and the README all read this table; a test fails when one is undocumented.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kb.encoders import PATHS


def default_data_dir() -> str:
    """The per-user data folder: ``$XDG_DATA_HOME/marketkb`` or ``~/.local/share/marketkb``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "marketkb")


@dataclass(frozen=True)
class Setting:
    """One configurable value."""

    name: str
    env: str
    default: object
    help: str
    choices: tuple[str, ...] = ()


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "data_dir",
        "KB_DATA_DIR",
        None,
        "Data directory (SQLite store, FAISS index, model cache); default ~/.local/share/marketkb",
    ),
    Setting(
        "api_token",
        "KB_API_TOKEN",
        None,
        "Bearer token required by write endpoints; writes are refused when unset",
    ),
    Setting("host", "KB_HOST", "127.0.0.1", "Address kb serve listens on"),
    Setting("port", "KB_PORT", 8080, "Port kb serve listens on"),
    Setting("threads", "KB_THREADS", 8, "Worker threads of the WSGI server"),
    Setting(
        "no_sample",
        "KB_NO_SAMPLE",
        False,
        "Set to 1 to skip ingesting the sample corpus into an empty data directory on kb serve",
    ),
    Setting(
        "allow_private_urls",
        "KB_ALLOW_PRIVATE_URLS",
        False,
        "Set to 1 to allow fetching URLs on loopback/private addresses (tests only)",
    ),
    Setting(
        "watch",
        "KB_WATCH",
        None,
        "File of feed URLs (one per line) that kb serve polls and ingests while it runs",
    ),
    Setting(
        "watch_every",
        "KB_WATCH_EVERY",
        "10m",
        "How often each watched feed is polled (90s, 10m, 2h), jittered by 10%",
    ),
    Setting(
        "approx_threshold",
        "KB_APPROX_THRESHOLD",
        200_000,
        "Passage count past which the exact FAISS index gives way to an approximate (IVF) one",
    ),
    Setting(
        "inference",
        "KB_INFERENCE",
        "auto",
        "How the model runs: auto (the fastest path that agrees with float32, measured once per "
        "machine), float32, bfloat16, onnx-float32 or onnx-int8",
        ("auto", *PATHS),
    ),
    Setting(
        "max_passage_tokens",
        "KB_MAX_PASSAGE_TOKENS",
        254,
        "Word pieces per passage (the model reads 256 including two special tokens)",
    ),
)


def _coerce(value: str, default: object) -> object:
    if isinstance(default, bool):
        return value.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"expected an integer, got {value!r}") from None
    return value


def load_settings(overrides: dict[str, object] | None = None) -> dict[str, object]:
    """Defaults, then ``KB_*`` environment variables, then ``overrides``."""
    values: dict[str, object] = {}
    for setting in SETTINGS:
        value = setting.default
        raw = os.environ.get(setting.env)
        if raw not in (None, ""):
            try:
                value = _coerce(raw, setting.default)
            except ValueError as error:
                raise ValueError(f"{setting.env}: {error}") from None
            if setting.choices and value not in setting.choices:
                raise ValueError(
                    f"{setting.env}: expected one of {', '.join(setting.choices)}, got {raw!r}"
                )
        values[setting.name] = value
    values.update(overrides or {})
    if not values["data_dir"]:
        values["data_dir"] = default_data_dir()
    return values
