"""Load on /api/ask: N concurrent keep-alive clients over the dev questions, cold then warm.

    .venv/bin/python bench/load.py                  # builds (once) and serves ../shared/corpus
    .venv/bin/python bench/load.py --url http://127.0.0.1:8080 --clients 16

The cold pass asks each dev question once (nothing cached); the warm pass repeats them (answers
may come from the answer cache). The baseline, measured in the same run with the same clients,
is GET /api/health: the floor cost of a request through waitress and Flask. Goal on the 2-core
dev machine: >= 100 asks/s with p99 < 100 ms.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.server import start_server, stop_server  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
QUESTIONS = SHARED / "eval" / "dev-questions.jsonl"
SOURCES = [SHARED / "corpus" / "articles.jsonl", SHARED / "seed" / "000_e760251becf4f2f2.txt"]
DEFAULT_DATA_DIR = Path(tempfile.gettempdir()) / "marketkb-bench-load"


@dataclass
class Pass:
    """Latencies and failures of one pass."""

    name: str
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cache_hits: int = 0
    seconds: float = 0.0

    def report(self, baseline: float | None = None) -> str:
        done = len(self.latencies)
        rate = done / self.seconds if self.seconds else 0.0
        ms = sorted(x * 1000 for x in self.latencies) or [0.0]
        p99 = ms[min(len(ms) - 1, int(round(0.99 * (len(ms) - 1))))]
        line = (
            f"{self.name:<8} {done:>5} ok {len(self.errors):>3} errors  {rate:7.1f} req/s  "
            f"p50 {statistics.median(ms):6.1f} ms  p99 {p99:6.1f} ms  "
            f"cache hits {self.cache_hits}"
        )
        if baseline:
            line += f"  ({rate / baseline:.2f}x of baseline throughput)"
        return line


def run_pass(name: str, host: str, port: int, paths: list[str], clients: int) -> Pass:
    """Send ``paths`` over ``clients`` keep-alive connections; each client takes the next path."""
    result = Pass(name)
    lock = threading.Lock()
    queue = iter(list(paths))

    def client() -> None:
        connection = http.client.HTTPConnection(host, port, timeout=60)
        while True:
            with lock:
                path = next(queue, None)
            if path is None:
                break
            started = time.perf_counter()
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                body = response.read()
                elapsed = time.perf_counter() - started
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=60)
                with lock:
                    result.errors.append(f"{path[:60]}: {error}")
                continue
            with lock:
                if response.status == 200:
                    result.latencies.append(elapsed)
                    result.cache_hits += response.getheader("X-Answer-Cache") == "hit"
                else:
                    result.errors.append(f"{response.status}: {body[:120]!r}")
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    return result


def build_data_dir(data_dir: Path) -> None:
    """Ingest the shared corpus into ``data_dir`` with ``kb ingest`` unless it holds it already."""
    if (data_dir / "kb.sqlite3").exists():
        return
    print(f"building {data_dir} from {', '.join(str(s) for s in SOURCES)} ...", flush=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "--data-dir",
            str(data_dir),
            "ingest",
            "--quiet",
            *map(str, SOURCES),
        ],
        cwd=ROOT,
        check=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="Target a running kb serve instead of starting one.")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="Data directory to build (once) and serve when --url is not given.",
    )
    parser.add_argument("--clients", type=int, default=8, help="Concurrent clients.")
    parser.add_argument("--threads", type=int, default=8, help="Server threads (KB_THREADS).")
    parser.add_argument("--repeat", type=int, default=5, help="Warm-pass repeats of each question.")
    parser.add_argument("-k", type=int, default=5, help="k passed to /api/ask.")
    args = parser.parse_args(argv)

    questions = [
        json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line.strip()
    ]
    process = None
    if args.url:
        url = args.url.rstrip("/")
    else:
        build_data_dir(args.data_dir)
        process, url = start_server(args.data_dir, args.threads)
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or 80
        with urllib.request.urlopen(url + "/api/health", timeout=10) as response:
            stats = json.load(response)
        # A run tag keeps an earlier run's cached answers out of the cold pass.
        tag = f" ({int(time.time())})"
        asks = [f"/api/ask?{urlencode({'q': q + tag, 'k': args.k})}" for q in questions]
        baseline = run_pass("health", host, port, ["/api/health"] * 2000, args.clients)
        cold = run_pass("cold", host, port, asks, args.clients)
        warm = run_pass("warm", host, port, asks * args.repeat, args.clients)
    finally:
        if process is not None:
            stop_server(process)

    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}"
    )
    print(
        f"server: {url}, {stats['articles']} articles, {stats['passages']} passages; "
        f"{args.clients} clients, {len(questions)} dev questions, k={args.k}"
    )
    base_rate = len(baseline.latencies) / baseline.seconds if baseline.seconds else None
    for result in (baseline, cold, warm):
        print(result.report(None if result is baseline else base_rate))
        for error in result.errors[:5]:
            print(f"    error: {error}")
    return 1 if cold.errors or warm.errors else 0


if __name__ == "__main__":
    sys.exit(main())
