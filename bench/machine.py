"""The machine a benchmark ran on: CPU model and the vector extensions that decide its speed."""

from __future__ import annotations

from kb.encoders import cpu_line

__all__ = ["cpu_line"]
