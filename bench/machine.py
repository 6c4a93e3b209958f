"""The machine a benchmark ran on: CPU model and the vector extensions that decide its speed."""

from __future__ import annotations

import os
import platform
from pathlib import Path

# The flags that decide which inference path is fast: AVX2/AVX-512 everywhere, bfloat16 and AMX
# only on some CPUs.
FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16")


def cpu_line() -> str:
    """The CPU model, which of FLAGS it has, and the number of CPUs."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and ":" in line:
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and ":" in line:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    shown = ",".join(f for f in FLAGS if f in flags) or "none of avx2/avx512/amx"
    return f"{model}; flags: {shown}; {os.cpu_count()} CPUs"
