"""Shared pieces of the benchmarks: the local stack they measure against, and statistics."""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tests.servers import HealthServer, RedisServer, mongo_server


@dataclass
class Stack:
    redis_url: str
    mongo_uri: str
    health_url: str
    workdir: Path

    def env(self) -> dict[str, str]:
        return {"REDIS_URL": self.redis_url, "MONGO_URI": self.mongo_uri,
                "API_HEALTH_URL": self.health_url, "OPS_DATA_DIR": str(self.workdir / "data")}


@contextmanager
def local_stack() -> Iterator[Stack]:
    """redis-server, MongoDB (TEST_MONGO_URI or the stand-in) and an HTTP health endpoint."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        redis, mongo = RedisServer(work / "redis"), mongo_server(work / "mongo")
        health = HealthServer()
        redis.start()
        mongo.start()
        try:
            yield Stack(redis.url, mongo.uri, health.url, work)
        finally:
            health.close()
            mongo.stop()
            redis.stop()


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> str:
    return (f"median {statistics.median(values):.2f}  p95 {percentile(values, 95):.2f}  "
            f"min {min(values):.2f}  max {max(values):.2f}  (n={len(values)})")


def machine() -> str:
    return (f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d}")


def history_page_run_ms(data_dir: Path, range_label: str) -> float:
    """One History page script run (AppTest) after picking `range_label`, in ms."""
    from streamlit.testing.v1 import AppTest

    root = Path(__file__).resolve().parents[1]
    os.environ["OPS_DATA_DIR"] = str(data_dir)
    os.chdir(root)
    app = AppTest.from_file(str(root / "streamlit_app.py"), default_timeout=120)
    app.run()
    app.switch_page("pages/history.py")
    app.run()
    control = app.segmented_control(key="history_range").set_value(range_label)
    started = time.perf_counter()
    control.run()
    took = (time.perf_counter() - started) * 1000
    assert not app.exception, app.exception
    return took
