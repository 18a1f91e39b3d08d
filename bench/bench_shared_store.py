"""One Store shared by many threads, as the dashboard shares it between sessions.

A day of 5 s samples, then T threads on ONE Store each run the Overview/History reads
(latest, jobs, a 24 h chart at 1,500 points) and a Backup now request, while a writer
thread appends a sample with its events and heartbeat in one transaction every 50 ms, as
the collector does. Prints per-operation times (ms) for 1 thread and for T threads, and
what a thread's first use costs (its connection is opened then).
Run: .venv/bin/python -m bench.bench_shared_store [threads] [rounds]
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import machine, summary
from bench.synthetic import fill, finish_with_latest
from ops.clock import DAY_MS, now_ms
from ops.storage import Heartbeat, Store


def reader(store: Store, rounds: int, start: int, times: dict[str, list[float]],
           lock: threading.Lock) -> None:
    mine: dict[str, list[float]] = {"latest": [], "jobs": [], "series 24h": [],
                                    "request_job": []}
    for _ in range(rounds):
        for name, work in (("latest", store.latest), ("jobs", store.jobs),
                           ("series 24h", lambda: store.series(
                               start, now_ms(), ["host_mem_used_pct"],
                               ["redis_keyspace_hits", "redis_keyspace_misses"])),
                           ("request_job", lambda: store.request_job("backup", "bench",
                                                                     now_ms()))):
            began = time.perf_counter()
            work()
            mine[name].append((time.perf_counter() - began) * 1000)
    with lock:
        for name, values in mine.items():
            times.setdefault(name, []).extend(values)


def writer(store: Store, stop: threading.Event, written: list[int]) -> None:
    ts = now_ms()
    while not stop.is_set():
        ts += 5000
        with store.transaction():
            store.append_sample(ts, {"dt_s": 5.0, "host_mem_used_pct": 42.0})
            store.record_event(ts, "bench", "tick")
            store.beat(Heartbeat(0, "bench", ts, ts, 5.0, "bench"))
        written.append(ts)
        stop.wait(0.05)


def run(store: Store, threads: int, rounds: int, start: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {}
    lock = threading.Lock()
    stop = threading.Event()
    written: list[int] = []
    background = threading.Thread(target=writer, args=(store, stop, written))
    background.start()
    workers = [threading.Thread(target=reader, args=(store, rounds, start, times, lock))
               for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    stop.set()
    background.join()
    return times


def main(threads: int = 8, rounds: int = 20) -> None:
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "ops.sqlite3")
        now = now_ms()
        fill(store, now - DAY_MS, now)
        finish_with_latest(store, now)
        store.checkpoint()

        def first_use() -> None:
            store.heartbeat()

        opened = []
        for _ in range(50):
            thread = threading.Thread(target=first_use)
            began = time.perf_counter()
            thread.start()
            thread.join()
            opened.append((time.perf_counter() - began) * 1000)
        print(f"a new thread's first read (thread start + connection open): {summary(opened)}")
        for count in (1, threads):
            print(f"\n{count} thread(s) sharing one Store, {rounds} rounds each, "
                  "a writer committing every 50 ms:")
            for name, values in run(store, count, rounds, now - DAY_MS).items():
                print(f"  {name:<12} {summary(values)}")
        print(f"\nconnections open after the threads ended: {store.connections_open()}")
        store.close()


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
