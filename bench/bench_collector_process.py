"""The collector process with every source, next to Prometheus' node and redis exporters.

For each interval (1 s, then the default 5 s) it runs, side by side for the same wall
time: our collector (host + Redis + MongoDB + HTTP), and prometheus-node-exporter plus
prometheus-redis-exporter (Debian packages) scraped at the same interval. It prints CPU
as % of one core and peak RSS (VmHWM) of each, and the ratio.
Run: .venv/bin/python -m bench.bench_collector_process [seconds]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil

from bench.common import Stack, local_stack, machine
from tests.servers import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[1]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def start_collector(stack: Stack, interval: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, **stack.env(), "SAMPLE_INTERVAL_SECONDS": str(interval),
           "OPS_DATA_DIR": str(stack.workdir / f"data-{interval}")}
    return subprocess.Popen([sys.executable, "-m", "collector"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_exporters(stack: Stack) -> tuple[list[subprocess.Popen[bytes]], list[str]]:
    node_port, redis_port = free_port(), free_port()
    node = subprocess.Popen([shutil.which("prometheus-node-exporter") or "",
                             f"--web.listen-address=127.0.0.1:{node_port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    redis = subprocess.Popen([shutil.which("prometheus-redis-exporter") or "",
                              "-redis.addr", stack.redis_url,
                              "-web.listen-address", f"127.0.0.1:{redis_port}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for port in (node_port, redis_port):
        wait_for_port(port)
    return [node, redis], [f"http://127.0.0.1:{p}/metrics" for p in (node_port, redis_port)]


def scrape(urls: list[str], interval: int, stop: threading.Event) -> None:
    while not stop.wait(interval):
        for url in urls:
            with urllib.request.urlopen(url, timeout=5) as answer:
                answer.read()


def measure(stack: Stack, interval: int, seconds: int) -> None:
    collector = start_collector(stack, interval)
    exporters, urls = start_exporters(stack)
    time.sleep(3)  # past start-up: imports, first connections
    pids = {"collector": [collector.pid], "exporters": [p.pid for p in exporters]}
    before = {k: sum(cpu_seconds(p) for p in v) for k, v in pids.items()}
    stop = threading.Event()
    scraper = threading.Thread(target=scrape, args=(urls, interval, stop), daemon=True)
    scraper.start()
    started = time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - started
    cpu = {k: (sum(cpu_seconds(p) for p in v) - before[k]) / wall * 100 for k, v in pids.items()}
    rss = {k: sum(peak_rss_mb(p) for p in v) for k, v in pids.items()}
    stop.set()
    for process in [collector, *exporters]:
        process.terminate()
        process.wait(10)
    print(f"interval {interval} s, {wall:.0f} s:")
    print(f"  ops collector (host+redis+mongo+http): CPU {cpu['collector']:.2f} % of one core, "
          f"peak RSS {rss['collector']:.1f} MB")
    print(f"  node-exporter + redis-exporter (host+redis): CPU {cpu['exporters']:.2f} %, "
          f"peak RSS {rss['exporters']:.1f} MB")
    print(f"  ratio ours/exporters: CPU {cpu['collector'] / max(cpu['exporters'], 1e-9):.2f}x, "
          f"RSS {rss['collector'] / rss['exporters']:.2f}x")


def main(seconds: int = 60) -> None:
    print(machine())
    with local_stack() as stack:
        for interval in (1, 5):
            measure(stack, interval, seconds)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 60)
