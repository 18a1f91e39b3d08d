"""One collector tick with host + Redis + MongoDB + HTTP all local: median and p95 time.

Run: .venv/bin/python -m bench.bench_tick [ticks]
"""

from __future__ import annotations

import sys
import time

from bench.common import local_stack, machine, summary
from collector.loop import Collector
from ops.config import load_settings
from ops.housekeeping import Retention
from ops.sources.configured import build_sources
from ops.storage import Store


def main(ticks: int = 200) -> None:
    print(machine())
    with local_stack() as stack:
        settings = load_settings(stack.env(), env_file=None)
        collector = Collector(Store(settings.database_path), build_sources(settings), 5,
                              Retention.from_settings(settings))
        collector.run_once()  # connections opened, CPU baseline primed
        took = []
        for _ in range(ticks):
            started = time.perf_counter()
            tick = collector.run_once()
            took.append((time.perf_counter() - started) * 1000)
            assert tick is not None and all(r.up for r in tick.readings), tick
        collector.close()
    print(f"tick (probe 4 sources + write), ms: {summary(took)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
