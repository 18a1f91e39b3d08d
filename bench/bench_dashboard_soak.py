"""Dashboard memory over a long soak: does its RSS level off?

`python -m ops up` (collector and dashboard, as `./run` starts them) samples the local
stack every second while readers use the dashboard as admins do: Chromium keeps the
Overview and the History page open (their live parts rerun every sample), every
RELOAD_S both tabs are closed and opened again (sessions come and go), and a poller asks
the JSON endpoints and /metrics once a second. Every minute the dashboard's and the
collector's RSS are printed; at the end, the RSS per hour and the growth over the first
and the second half.

Run: .venv/bin/python -m bench.bench_dashboard_soak [minutes]   (default 120)
"""

from __future__ import annotations

import http.client
import sys
import threading
import time
from pathlib import Path

import psutil
from playwright.sync_api import Page, sync_playwright

from bench.common import local_stack, machine
from tests.browser_support import OpsUp, launch_chromium, new_page

RELOAD_S = 600
POLLED = ("/api/monitoring/health/detailed", "/api/monitoring/metrics", "/metrics")


def dashboard_and_collector(up: OpsUp) -> tuple[psutil.Process, psutil.Process]:
    children = psutil.Process(up.proc.pid).children(recursive=True)
    dashboard = next(p for p in children if "streamlit" in " ".join(p.cmdline()))
    collector = next(p for p in children if "collector" in " ".join(p.cmdline()))
    return dashboard, collector


def poll(port: int, stop: threading.Event, counts: list[int]) -> None:
    while not stop.wait(1.0):
        for path in POLLED:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request("GET", path)
                conn.getresponse().read()
                counts[0] += 1
            except OSError:
                counts[1] += 1
            finally:
                conn.close()


def mb(process: psutil.Process) -> float:
    return float(process.memory_info().rss) / 1e6


def main(minutes: float = 120) -> None:
    print(machine())
    with local_stack() as stack, sync_playwright() as playwright:
        up = OpsUp({**stack.env(), "SAMPLE_INTERVAL_SECONDS": "1"},
                   Path(stack.workdir) / "ops-up.log")
        stop = threading.Event()
        counts = [0, 0]
        try:
            up.wait_healthy()
            up.wait_for_samples(3)
            dashboard, collector = dashboard_and_collector(up)
            browser = launch_chromium(playwright)
            poller = threading.Thread(target=poll, args=(up.port, stop, counts), daemon=True)
            poller.start()
            started = time.monotonic()
            readings: list[tuple[float, float, float]] = []
            pages: list[Page] = []
            opened_at = -float(RELOAD_S)
            print(" minute  dashboard MB  collector MB  requests")
            while (elapsed := time.monotonic() - started) < minutes * 60:
                if elapsed - opened_at >= RELOAD_S:
                    for page in pages:
                        page.context.close()
                    pages = [new_page(browser), new_page(browser)]
                    pages[0].goto(up.url)
                    pages[1].goto(f"{up.url}/history")
                    opened_at = elapsed
                reading = (elapsed / 60, mb(dashboard), mb(collector))
                readings.append(reading)
                print(f"{reading[0]:7.1f}  {reading[1]:12.1f}  {reading[2]:12.1f}  "
                      f"{counts[0]:8d}", flush=True)
                pages[0].wait_for_timeout(60_000)  # the browser keeps running meanwhile
            report(readings, counts)
        finally:
            stop.set()
            up.stop()


def report(readings: list[tuple[float, float, float]], counts: list[int]) -> None:
    """RSS at each hour and the growth rate over each half of the run (after warm-up)."""
    print(f"\n{counts[0]} requests answered, {counts[1]} failed")
    for hour in range(int(readings[-1][0] // 60) + 1):
        at = min(readings, key=lambda r: abs(r[0] - hour * 60))
        print(f"hour {hour}: dashboard {at[1]:.1f} MB, collector {at[2]:.1f} MB "
              f"(minute {at[0]:.0f})")
    warm = [r for r in readings if r[0] >= 10] or readings
    half = len(warm) // 2
    for name, part in (("first half", warm[:half + 1]), ("second half", warm[half:])):
        if len(part) >= 2 and part[-1][0] > part[0][0]:
            hours = (part[-1][0] - part[0][0]) / 60
            print(f"{name} (minutes {part[0][0]:.0f}-{part[-1][0]:.0f}): dashboard "
                  f"{(part[-1][1] - part[0][1]) / hours:+.1f} MB/h, collector "
                  f"{(part[-1][2] - part[0][2]) / hours:+.1f} MB/h")
    print(f"peak: dashboard {max(r[1] for r in readings):.1f} MB, "
          f"collector {max(r[2] for r in readings):.1f} MB")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 120)
