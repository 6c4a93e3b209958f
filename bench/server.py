"""Starting and stopping a real ``kb serve`` on 127.0.0.1 for the benches that drive the API."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(
    data_dir: Path, threads: int = 8, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, str]:
    """``kb serve`` on a free port; returns the process and its base URL once it answers."""
    port = free_port()
    env = {**os.environ, "KB_NO_SAMPLE": "1", "KB_THREADS": str(threads), **(env or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "--data-dir", str(data_dir), "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"kb serve exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/api/health", timeout=2):
                return process, url
        except OSError:
            time.sleep(0.5)
    process.kill()
    sys.exit("kb serve did not start within 180 s")


def stop_server(process: subprocess.Popen) -> None:
    """Terminate, then kill if it does not stop."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def upload_files(url: str, token: str, paths: list[Path]) -> dict:
    """POST files to ``/api/ingest`` as multipart/form-data; returns the JSON answer."""
    boundary = uuid.uuid4().hex
    body = b""
    for path in paths:
        body += (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="{path.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
            ).encode()
            + path.read_bytes()
            + b"\r\n"
        )
    body += f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        url + "/api/ingest",
        data=body,
        method="POST",
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Authorization": f"Bearer {token}",
        },
    )
    with urllib.request.urlopen(request, timeout=1800) as response:
        return json.load(response)
