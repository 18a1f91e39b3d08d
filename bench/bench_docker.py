"""The docker source's cost with 0, 5 and 20 running containers on a real engine (Debian's
dockerd, started here as the tests start it): wall time of one probe (list, then inspect
and one-shot stats of every container at once), the collector process's CPU time per
probe, and a whole collector tick (probe + deltas + sample + container rows and events).

The tick budget at the default 5 s interval is the probe deadline, 2.5 s.

Run (as root, needs docker.io and busybox-static): .venv/bin/python -m bench.bench_docker [probes]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.common import machine, summary
from collector.containers import ContainerRecorder
from collector.loop import Collector, Tick
from ops.config import load_settings
from ops.housekeeping import Retention
from ops.sources.configured import build_sources
from ops.sources.docker import DockerSource
from ops.storage import Store
from tests.docker_engine import DockerEngine

COUNTS = (0, 5, 20)


def probes(source: DockerSource, n: int) -> tuple[list[float], list[float]]:
    """Wall ms and CPU ms (this process, all threads) of `n` probes, one a second."""
    wall, cpu = [], []
    for _ in range(n):
        started, cpu_started = time.perf_counter(), time.process_time()
        reading = source.probe()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
        assert reading.up, reading.error
        time.sleep(1)
    return wall, cpu


def ticks(engine: DockerEngine, work: Path, n: int) -> list[float]:
    settings = load_settings({"OPS_DATA_DIR": str(work / "data"), "DOCKER_HOST": engine.host},
                             env_file=None)
    store = Store(settings.database_path)
    recorder = ContainerRecorder(store, 48)

    def record(tick: Tick) -> None:
        recorder.record(tick.ts, tick.readings)

    collector = Collector(store, build_sources(settings), 5, Retention.from_settings(settings),
                          after_tick=[record])
    collector.run_once()
    took = []
    for _ in range(n):
        started = time.perf_counter()
        collector.run_once()
        took.append((time.perf_counter() - started) * 1000)
        time.sleep(1)
    collector.close()
    store.close()
    return took


def main(n: int = 15) -> None:
    print(machine())
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        engine = DockerEngine(Path(tmp) / "engine").start()
        try:
            running = 0
            for count in COUNTS:
                while running < count:
                    engine.run(f"bench-{running}", "--label", "com.docker.compose.project=bench",
                               "--label", f"com.docker.compose.service=svc{running}")
                    running += 1
                source = DockerSource(engine.host)
                source.probe()  # connections opened, previous readings kept
                wall, cpu = probes(source, n)
                source.close()
                took = ticks(engine, Path(tmp) / f"t{count}", n)
                print(f"{count:2d} containers: probe wall ms {summary(wall)}")
                print(f"{count:2d} containers: probe CPU ms median "
                      f"{statistics.median(cpu):.1f} (this process, all threads)")
                print(f"{count:2d} containers: collector tick ms {summary(took)}")
        finally:
            engine.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
