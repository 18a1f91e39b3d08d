"""Collector and dashboard as two child processes of one command, for a first run.

Either child ending stops the other, and Ctrl-C or SIGTERM stops both; in production
each runs on its own (two containers, see docker-compose.yml).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from ops.catalogue import WATCHED
from ops.config import Settings
from ops.sources.configured import how_to_watch, is_configured

log = logging.getLogger("ops.up")
ROOT = Path(__file__).resolve().parents[2]  # the checkout: streamlit_app.py, collector/
STOP_GRACE_SECONDS = 10


def dashboard_command(port: int, address: str) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"),
            "--server.port", str(port), "--server.address", address,
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--client.showErrorDetails", "none"]


def dashboard_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The dashboard's environment: glibc's malloc limited to 2 arenas (unless set).

    Streamlit runs every script run and fragment rerun on a thread of its own; with the
    default of 8 arenas per core, memory those threads free stays spread over arenas and
    the process grew about 1 MB a minute with two live tabs (BENCHMARKS.md, Dashboard
    memory over hours); with 2 arenas it levels off. Python's own allocations did not grow.
    """
    return {"MALLOC_ARENA_MAX": "2", **environ}


def collector_command() -> list[str]:
    return [sys.executable, "-m", "collector"]


def hints(settings: Settings) -> list[str]:
    """What is not watched yet and the setting that turns it on."""
    return [f"{service.name} {how_to_watch(service.name)}" for service in WATCHED
            if not is_configured(settings, service.name)]


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def run_together(settings: Settings, port: int, address: str) -> int:
    if address not in LOOPBACK and settings.ops_admin_password is None:
        print(f"error: the dashboard would listen on {address} without a password: set "
              "OPS_ADMIN_PASSWORD first, or keep the default 127.0.0.1", file=sys.stderr)
        return 2
    children = [subprocess.Popen(collector_command(), cwd=ROOT),
                subprocess.Popen(dashboard_command(port, address), cwd=ROOT,
                                 env=dashboard_environment(os.environ))]
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("Dashboard: http://%s:%d  (Ctrl-C stops collector and dashboard)",
             "127.0.0.1" if address in ("0.0.0.0", "") else address, port)
    for hint in hints(settings):
        log.info("%s", hint)
    while not stopping and all(child.poll() is None for child in children):
        time.sleep(0.2)
    return _stop_all(children)


def _stop_all(children: list[subprocess.Popen[bytes]]) -> int:
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    codes = [child.returncode for child in children]
    return next((code for code in codes if code not in (0, -signal.SIGTERM)), 0)
