"""The ONNX copies of the packaged model, made once, offline, and cached in the data directory.

``ensure_onnx`` exports the float32 transformer with ``torch.onnx`` (nothing is downloaded: the
source is the extracted, hash-checked model) and quantises its matrix multiplications to int8
with ONNX Runtime's dynamic quantisation (weights per output channel, activations per batch).
Both files are written to a temporary sibling folder with a manifest (the source weights'
sha256, each file's sha256, size and modification time, and the library versions) and renamed
into place, so a half-written export is never read; a manifest that does not match this model,
or a file whose hash differs from its manifest, is rebuilt. As with the model's own stamp, a
file is hashed again only when its size or modification time changed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

ONNX_DIR_SUFFIX = "-onnx"
MANIFEST = "manifest.json"
FILES = {"onnx-float32": "model.onnx", "onnx-int8": "model-int8.onnx"}
# Bumped when the export or quantisation settings change, so an older cache is rebuilt.
EXPORT_VERSION = 1
OPSET = 17


class OnnxUnavailable(RuntimeError):
    """The ONNX paths cannot be offered here (library missing, export failed); says why."""


def onnx_dir(model_folder: Path) -> Path:
    """Where the ONNX copies of the model in ``model_folder`` live."""
    return model_folder.with_name(model_folder.name + ONNX_DIR_SUFFIX)


def ensure_onnx(
    model_folder: Path, source_sha256: str, load_transformer: Callable[[], Any]
) -> dict[str, Path]:
    """The ONNX model files by path name, exported and quantised first if needed.

    ``load_transformer`` returns the float32 module to export; it is called only when the cache
    is missing or stale, so a cached export never loads PyTorch's copy.
    """
    try:
        import onnxruntime  # noqa: F401 - the paths are useless without the runtime
    except ImportError as error:
        raise OnnxUnavailable(f"onnxruntime is not installed ({error})") from error
    target = onnx_dir(model_folder)
    if _valid(target, source_sha256):
        return {path: target / name for path, name in FILES.items()}
    logger.info("exporting the model to ONNX and quantising it (once per data directory)")
    _build(target, source_sha256, load_transformer())
    return {path: target / name for path, name in FILES.items()}


def cached(model_folder: Path, source_sha256: str) -> bool:
    """Whether valid ONNX copies of the model are already in the data directory."""
    return _valid(onnx_dir(model_folder), source_sha256)


def _valid(target: Path, source_sha256: str) -> bool:
    """Whether ``target`` holds a complete export of this model at this export version."""
    from kb.embedding import sha256_file

    try:
        manifest = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if manifest.get("source_sha256") != source_sha256 or manifest.get("version") != EXPORT_VERSION:
        return False
    files = manifest.get("files", {})
    for name in FILES.values():
        entry = files.get(name) or {}
        path = target / name
        try:
            found = path.stat()
        except OSError:
            return False
        if found.st_size != entry.get("size"):
            return False
        # As for the model itself: the hash is checked again only when the file's modification
        # time differs from the one recorded at export, so opening a cached export reads no
        # 110 MB.
        if found.st_mtime_ns == entry.get("mtime_ns"):
            continue
        if sha256_file(path) != entry.get("sha256"):
            logger.warning("%s does not match its manifest; exporting again", path)
            return False
    return True


def _build(target: Path, source_sha256: str, transformer: Any) -> None:
    """Export and quantise into a temporary folder, then rename it to ``target``."""

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        float_file = tmp / FILES["onnx-float32"]
        int8_file = tmp / FILES["onnx-int8"]
        try:
            _export(transformer, float_file)
            _quantise(float_file, int8_file)
        except Exception as error:  # noqa: BLE001 - any failure means: no ONNX paths here
            raise OnnxUnavailable(f"exporting the model to ONNX failed ({error})") from error
        manifest = {
            "version": EXPORT_VERSION,
            "source_sha256": source_sha256,
            "opset": OPSET,
            "quantisation": "dynamic int8 (QInt8 weights per channel, MatMul only)",
            "versions": _versions(),
            "files": {p.name: _file_entry(p) for p in (float_file, int8_file)},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        try:
            os.rename(tmp, target)
        except OSError:
            # Another process won the race; its copy is checked like any other.
            if not _valid(target, source_sha256):
                raise
        logger.info("exported the model to ONNX in %s", target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _file_entry(path: Path) -> dict[str, object]:
    """What the manifest records of one exported file: hash, size and modification time."""
    from kb.embedding import sha256_file

    found = path.stat()
    return {"sha256": sha256_file(path), "size": found.st_size, "mtime_ns": found.st_mtime_ns}


def _export(transformer: Any, out: Path) -> None:
    """Trace the float32 transformer into an ONNX graph with dynamic batch and length."""
    import torch

    example = torch.ones((1, 8), dtype=torch.int64)
    axes = {0: "batch", 1: "length"}

    class LastHidden(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
            ).last_hidden_state

    with warnings.catch_warnings(), torch.inference_mode():
        # Tracing warns about shape-dependent Python branches that are constant for BERT.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            LastHidden(transformer).eval(),
            (example, example, torch.zeros_like(example)),
            str(out),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                "input_ids": axes,
                "attention_mask": axes,
                "token_type_ids": axes,
                "last_hidden_state": axes,
            },
            opset_version=OPSET,
            dynamo=False,
        )


def _quantise(source: Path, out: Path) -> None:
    """Dynamic int8 quantisation of the graph's matrix multiplications."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # It logs its progress and advice through the root logger (and a root logger without
    # handlers would gain a console handler): a filter on the root logger, removed after, keeps
    # the process's logging as it was.
    root = logging.getLogger()
    placeholder = logging.NullHandler() if not root.handlers else None
    if placeholder is not None:
        root.addHandler(placeholder)
    quiet = _FromOnnxRuntime()
    root.addFilter(quiet)
    try:
        quantize_dynamic(
            str(source),
            str(out),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
        )
    finally:
        root.removeFilter(quiet)
        if placeholder is not None:
            root.removeHandler(placeholder)


class _FromOnnxRuntime(logging.Filter):
    """Drops records that ONNX Runtime's tools log through the root logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "onnxruntime" not in record.pathname


def _versions() -> dict[str, str]:
    """The versions of the libraries that made the files."""
    import onnxruntime
    import torch

    return {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__}
