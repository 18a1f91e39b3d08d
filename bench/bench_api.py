"""The JSON endpoints and /metrics under load, on a store holding 30 days of 5 s samples.

Setup: a real Redis, MongoDB (TEST_MONGO_URI or the stand-in) and HTTP health endpoint;
the store filled with 30 days of samples (every real column, as bench_store does); the
collector running as a subprocess; the dashboard server (`streamlit run`) in another.

Prints, per endpoint: one client in sequence (median, p99), then 50 concurrent
keep-alive connections for N seconds (median, p99, requests/s, status codes). The load
comes from Python: 5 processes x 10 threads, each thread with its own http.client
connection (wrk is not installed here); client and server share the machine's cores,
so the figures include the client's own CPU use. Target: p99 under 50 ms. For
reference, the same load on Streamlit's own `/_stcore/health` shows what the server
itself (uvicorn + Streamlit's middleware) can answer on this machine.
Then the same load while MongoDB hangs: the collector is restarted against a TCP server
that accepts connections and never answers, so every MongoDB probe runs to its timeout.
Run: .venv/bin/python -m bench.bench_api [days] [seconds]
"""

from __future__ import annotations

import http.client
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from bench.bench_store import STEP_MS, fill
from bench.common import Stack, local_stack, machine, percentile
from ops.config import SETTINGS
from ops.housekeeping import roll_up_due
from ops.storage import Store
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
ENDPOINTS = ("/api/monitoring/health/detailed", "/api/monitoring/metrics",
             "/api/monitoring/dashboard", "/api/monitoring/cache/stats", "/metrics")
PROCESSES, THREADS = 5, 10


def _clean_env(extra: dict[str, str]) -> dict[str, str]:
    """This machine's environment without our settings, plus the stack's."""
    ours = {s.name for s in SETTINGS}
    return {**{k: v for k, v in os.environ.items() if k not in ours}, **extra}


@contextmanager
def process(command: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(command, cwd=ROOT, env=_clean_env(env), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def get(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def wait_healthy(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if get(port, "/_stcore/health") == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError("dashboard not healthy")


def wait_for_tick(store: Store, after_ts: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        beat = store.heartbeat()
        if beat is not None and beat.last_tick_ts > after_ts:
            return
        time.sleep(0.2)
    raise TimeoutError("the collector wrote no sample")


# --- the load: runs in worker processes ---


def _client(port: int, path: str, until: float, out: list[tuple[float, int]]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    while time.monotonic() < until:
        started = time.perf_counter()
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            status = 0
        out.append(((time.perf_counter() - started) * 1000, status))
    conn.close()


def hammer(port: int, path: str, threads: int, seconds: float) -> list[tuple[float, int]]:
    """`threads` keep-alive connections in a loop for `seconds`; (ms, status) per request."""
    until = time.monotonic() + seconds
    results: list[list[tuple[float, int]]] = [[] for _ in range(threads)]
    workers = [threading.Thread(target=_client, args=(port, path, until, results[i]))
               for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return [item for chunk in results for item in chunk]


def concurrent(pool: ProcessPoolExecutor, port: int, path: str, seconds: float) -> str:
    futures = [pool.submit(hammer, port, path, THREADS, seconds) for _ in range(PROCESSES)]
    results = [item for future in futures for item in future.result()]
    times = [ms for ms, _ in results]
    statuses = Counter(status for _, status in results)
    verdict = "ok" if percentile(times, 99) < 50 else "OVER 50 ms"
    return (f"{path:34} median {statistics.median(times):6.2f} ms  p99 "
            f"{percentile(times, 99):6.2f} ms  {len(times) / seconds:7.0f} req/s  "
            f"status {dict(statuses)}  [{verdict}]")


def sequential(port: int, path: str, count: int = 200) -> str:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        get(port, path)
        times.append((time.perf_counter() - started) * 1000)
    return (f"{path:34} median {statistics.median(times):6.2f} ms  "
            f"p99 {percentile(times, 99):6.2f} ms  (n={count}, one client)")


# --- a MongoDB that accepts connections and never answers ---


class BlackHole:
    """Accepts TCP connections, reads nothing, answers nothing, closes nothing."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def measure(label: str, port: int, seconds: float, paths: tuple[str, ...] = ENDPOINTS) -> None:
    print(f"\n{label}: {PROCESSES * THREADS} concurrent connections, {seconds:.0f} s each")
    with ProcessPoolExecutor(PROCESSES) as pool:
        for path in paths:
            print(concurrent(pool, port, path, seconds), flush=True)


def fill_history(stack: Stack, days: int) -> Store:
    store = Store(Path(stack.env()["OPS_DATA_DIR"]) / "ops.sqlite3")
    rows = days * 86_400_000 // STEP_MS
    start = int(time.time() * 1000) - rows * STEP_MS - STEP_MS
    took = fill(store, rows, start)
    # Rolled up here, as a running collector would have done as the days passed: a
    # collector started on 30 days of raw samples spends its first seconds catching up
    # (and looks stale meanwhile), which is not what the endpoints are measured on.
    began = time.perf_counter()
    roll_up_due(store, int(time.time() * 1000))
    print(f"store: {store.sample_count()} samples over {days} days written in {took:.1f} s, "
          f"rolled up in {time.perf_counter() - began:.1f} s")
    return store


def main(days: int = 30, seconds: float = 10) -> None:
    print(machine())
    with local_stack() as stack:
        store = fill_history(stack, days)
        env = {**stack.env(), "SAMPLE_INTERVAL_SECONDS": "5", "ENABLE_AUTO_BACKUP": "false"}
        port = free_port()
        dashboard = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
                     "--server.port", str(port), "--server.address", "127.0.0.1",
                     "--server.headless", "true", "--browser.gatherUsageStats", "false"]
        collector = [sys.executable, "-m", "collector"]
        with process(dashboard, env):
            with process(collector, env):
                wait_for_tick(store, 0)
                wait_healthy(port)
                print("\nsequential, collector sampling every 5 s, all services up")
                for path in ENDPOINTS:
                    print(sequential(port, path), flush=True)
                measure("all services up", port, seconds)
                measure("reference: the server's own health route (no store, no JSON)", port,
                        seconds, ("/_stcore/health",))

            hole = BlackHole()
            hanging = {**env, "MONGO_URI": f"mongodb://127.0.0.1:{hole.port}/"}
            with process(collector, hanging):
                wait_for_tick(store, int(time.time() * 1000))
                mongo = store.latest()["mongo"]
                print(f"\nMongoDB hangs (accepts, never answers): mongo up={mongo.up}, "
                      f"error={mongo.error!r}, health status {get(port, ENDPOINTS[0])}")
                measure("while every MongoDB probe hangs", port, seconds)
                beat = store.heartbeat()
                print(f"collector kept ticking: last tick "
                      f"{(time.time() * 1000 - beat.last_tick_ts) / 1000:.1f} s ago"
                      if beat else "no heartbeat")
            hole.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30,
         float(sys.argv[2]) if len(sys.argv) > 2 else 10)
