"""Session fixtures shared by the test files: the model, a data directory built once, a live server.

Everything expensive happens once per session: the model is extracted and loaded once, the shared
corpus is embedded once (~30 s on 2 cores), and the live server runs over a copy of that build.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from kb.embedding import Embedder, ensure_model, model_dir

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus" / "articles.jsonl"
SEED_PAGE = SHARED / "seed" / "000_e760251becf4f2f2.txt"
API_TOKEN = "test-token-5f1c"
SERVER_START_TIMEOUT = 120.0


def copy_model_into(src_data_dir: Path, dst_data_dir: Path) -> None:
    """Give a data directory the extracted model, its ONNX copies and the measured inference
    path by hard links (copies across filesystems), so no test process exports or measures
    again."""
    src, dst = model_dir(src_data_dir).parent, model_dir(dst_data_dir).parent
    dst.parent.mkdir(parents=True, exist_ok=True)

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(src, dst, copy_function=link)


def copy_data_dir(src: Path, dst: Path) -> Path:
    """A writable copy of a built data directory; the read-only model is linked, not copied."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("models"))
    copy_model_into(src, dst)
    return dst


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def model_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Embedder]:
    """A data directory with the model extracted, and one loaded model for the whole session.

    Its inference path is measured here, so the ONNX copies and the measured choice sit in the
    directory before any test copies it: no test process exports or measures again.
    """
    data_dir = tmp_path_factory.mktemp("kb-model")
    ensure_model(data_dir)
    embedder = Embedder(data_dir)
    embedder.encode_query("settle the inference path")
    return data_dir, embedder


@pytest.fixture(scope="session")
def model_data_dir(model_home: tuple[Path, Embedder]) -> Path:
    """A data directory with the model extracted (treat it as read-only)."""
    return model_home[0]


@pytest.fixture(scope="session")
def embedder(model_home: tuple[Path, Embedder]) -> Embedder:
    """One loaded model for the whole test session."""
    return model_home[1]


@pytest.fixture(scope="session")
def built_kb_dir(
    tmp_path_factory: pytest.TempPathFactory, model_data_dir: Path, embedder: Embedder
) -> Path:
    """A data directory holding the shared corpus and the seed page, built once per session.

    Treat it as read-only: copy it (``copy_data_dir``) before writing.
    """
    from ingest.sources import read_sources
    from kb.knowledge import KnowledgeBase

    data_dir = tmp_path_factory.mktemp("kb-built")
    copy_model_into(model_data_dir, data_dir)
    kb = KnowledgeBase(data_dir, embedder=embedder)
    results = kb.ingest(read_sources([str(CORPUS), str(SEED_PAGE)]))
    failed = [r for r in results if r.status == "failed"]
    assert len(failed) < len(results) / 10, f"the shared corpus mostly failed: {failed[:3]}"
    kb.store.close()
    return data_dir


@dataclass
class LiveServer:
    """A ``kb serve`` subprocess on 127.0.0.1."""

    host: str
    port: int
    token: str
    data_dir: Path
    log_path: Path

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"

    def output(self) -> str:
        """Everything the server printed or logged so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def start_server(
    data_dir: Path, log_path: Path, env: dict[str, str]
) -> tuple[subprocess.Popen, int]:
    """Start ``python -m cli serve`` on a free port with its output going to ``log_path``."""
    port = free_port()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli",
                "--data-dir",
                str(data_dir),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return process, port


def wait_until_healthy(
    process: subprocess.Popen, base_url: str, log_path: Path, timeout: float = SERVER_START_TIMEOUT
) -> None:
    """Poll /api/health until it answers; fail with the server's output if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"kb serve exited with {process.returncode}:\n"
                f"{log_path.read_text(errors='replace')}"
            )
        try:
            with urllib.request.urlopen(base_url + "/api/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    pytest.fail(
        f"kb serve did not answer within {timeout:.0f} s:\n{log_path.read_text(errors='replace')}"
    )


def stop_server(process: subprocess.Popen) -> None:
    """Terminate, wait, then kill if it would not stop."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def serving(data_dir: Path, log_path: Path, env: dict[str, str]) -> Iterator[LiveServer]:
    """``kb serve`` with the test token over ``data_dir``, healthy, stopped on exit."""
    process, port = start_server(data_dir, log_path, {"KB_API_TOKEN": API_TOKEN, **env})
    try:
        server = LiveServer("127.0.0.1", port, API_TOKEN, data_dir, log_path)
        wait_until_healthy(process, server.base_url, log_path)
        yield server
    finally:
        stop_server(process)


@pytest.fixture(scope="session")
def live_server(
    built_kb_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """``kb serve`` over a copy of the built data directory, with a token and private URLs."""
    work = tmp_path_factory.mktemp("live-server")
    data_dir = copy_data_dir(built_kb_dir, work / "data")
    env = {"KB_NO_SAMPLE": "1", "KB_ALLOW_PRIVATE_URLS": "1"}
    with serving(data_dir, work / "server.log", env) as server:
        yield server
