"""The transformer behind the embeddings, run one of several ways: an inference path.

Every path reads the same word pieces (the model's own ``tokenizer.json`` through the
``tokenizers`` library) and returns the last hidden layer, one vector per word piece; pooling
into passage, sentence and query vectors happens once, in ``kb.embedding``, whatever ran the
model. Paths:

- ``float32``: PyTorch in float32, the reference every other path is compared with;
- ``bfloat16``: PyTorch in bfloat16, fast only where the CPU computes bfloat16 natively (AMX);
- ``onnx-float32``: ONNX Runtime over the exported graph, the same arithmetic with less
  per-call overhead (a short query costs a few milliseconds instead of fifteen);
- ``onnx-int8``: ONNX Runtime with the linear layers' weights quantised to int8 per output
  channel and activations quantised per batch (dynamic quantisation), which runs on the integer
  dot-product instructions every x86-64 CPU with AVX2 has (VNNI where present).
"""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

TORCH_PATHS = ("float32", "bfloat16")
ONNX_PATHS = ("onnx-float32", "onnx-int8")
PATHS = TORCH_PATHS + ONNX_PATHS


@dataclass(frozen=True)
class Pieces:
    """A batch of tokenised texts, padded to one length: ids, mask and character offsets."""

    ids: np.ndarray  # (batch, length) int64
    mask: np.ndarray  # (batch, length) int64, 1 for real word pieces and special tokens
    offsets: np.ndarray  # (batch, length, 2) character offsets; special tokens and padding (0, 0)


class WordPieces:
    """The model's tokenizer, truncating to the length the model was trained to read."""

    def __init__(self, tokenizer_file: Path, max_length: int) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.enable_truncation(max_length)
        self._tokenizer.no_padding()
        self.max_length = max_length

    def __call__(self, texts: Sequence[str]) -> Pieces:
        """Tokenise ``texts`` (with the model's special tokens) and pad them to one length."""
        encoded = self._tokenizer.encode_batch(list(texts))
        length = max(len(e.ids) for e in encoded)
        ids = np.zeros((len(encoded), length), dtype=np.int64)
        mask = np.zeros((len(encoded), length), dtype=np.int64)
        offsets = np.zeros((len(encoded), length, 2), dtype=np.int64)
        for row, e in enumerate(encoded):
            n = len(e.ids)
            ids[row, :n] = e.ids
            mask[row, :n] = e.attention_mask
            offsets[row, :n] = e.offsets
        return Pieces(ids, mask, offsets)


class Encoder(Protocol):
    """One inference path: word pieces in, the last hidden layer out."""

    path: str

    def hidden(self, pieces: Pieces) -> np.ndarray:
        """The (batch, length, dim) float32 last hidden layer of ``pieces``."""
        ...


class TorchEncoder:
    """The transformer in PyTorch, in float32 or bfloat16."""

    def __init__(self, transformer: Any, path: str) -> None:
        import torch

        if path not in TORCH_PATHS:
            raise ValueError(f"not a PyTorch path: {path!r}")
        self.path = path
        self._torch = torch
        self._model = transformer if path == "float32" else _bf16_copy(transformer)

    def hidden(self, pieces: Pieces) -> np.ndarray:
        """The last hidden layer, computed under ``inference_mode`` and returned in float32."""
        torch = self._torch
        with torch.inference_mode():
            out = self._model(
                input_ids=torch.from_numpy(pieces.ids),
                attention_mask=torch.from_numpy(pieces.mask),
                token_type_ids=torch.zeros_like(torch.from_numpy(pieces.ids)),
            ).last_hidden_state
        return out.float().numpy()


def _bf16_copy(transformer: Any) -> Any:
    """A bfloat16 copy of a float32 module (the original stays the float32 reference)."""
    import copy

    import torch

    return copy.deepcopy(transformer).to(torch.bfloat16).eval()


class OnnxEncoder:
    """The exported transformer in ONNX Runtime, on as many threads as this process may use."""

    def __init__(self, model_file: Path, path: str, threads: int | None = None) -> None:
        if path not in ONNX_PATHS:
            raise ValueError(f"not an ONNX path: {path!r}")
        self.path = path
        # Two sessions over one file. Batches (ingest) run with pool threads that sleep when
        # idle, leaving the cores to the article work that overlaps encoding: measured here,
        # ingest 30.2 s → 26.8 s. A single text (a query) runs where idle threads spin, which
        # saves their wake-up: 4.7 against 6.5 ms per question.
        self._batches = _session(model_file, threads, spinning=False)
        self._single = _session(model_file, threads, spinning=True)

    def hidden(self, pieces: Pieces) -> np.ndarray:
        """The last hidden layer, as ONNX Runtime computes it."""
        session = self._single if len(pieces.ids) == 1 else self._batches
        (out,) = session.run(
            None,
            {
                "input_ids": pieces.ids,
                "attention_mask": pieces.mask,
                "token_type_ids": np.zeros_like(pieces.ids),
            },
        )
        return np.asarray(out, dtype=np.float32)


def _session(model_file: Path, threads: int | None, spinning: bool) -> Any:
    """An ONNX Runtime session on the CPU with every usable core and no inter-operator pool."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    # One encoder serves every request (calls are serialised by the embedder), so it gets every
    # core and no inter-operator pool: more threads than cores only contend.
    options.intra_op_num_threads = threads or usable_cpus()
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return onnxruntime.InferenceSession(
        str(model_file), options, providers=["CPUExecutionProvider"]
    )


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per row, the mean of the hidden vectors of its real word pieces, in float32."""
    weights = mask[..., None].astype(np.float32)
    return (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)


# The CPU flags that decide which path is fast: AVX2/AVX-512 everywhere, VNNI for int8, bfloat16
# and AMX only on some CPUs.
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16")


def _cpu() -> tuple[str, set[str]]:
    """The CPU model name and its flags, from /proc/cpuinfo where there is one."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and ":" in line:
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and ":" in line:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return model, flags


def cpu_line() -> str:
    """The CPU model, which of CPU_FLAGS it has, and the CPUs this process may use."""
    model, flags = _cpu()
    shown = ",".join(f for f in CPU_FLAGS if f in flags) or "none of avx2/avx512/amx"
    return f"{model}; flags: {shown}; {usable_cpus()} CPUs"


def machine_signature() -> dict[str, object]:
    """What a measured choice of path depends on: CPU, its flags, cores and library versions."""
    import importlib.metadata

    model, flags = _cpu()
    versions = {}
    for package in ("torch", "onnxruntime"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpu": model,
        "flags": [f for f in CPU_FLAGS if f in flags],
        "cpus": usable_cpus(),
        "versions": versions,
    }
