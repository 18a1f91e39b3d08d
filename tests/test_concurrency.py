"""One Store shared by many threads, on a real SQLite file, beside the collector.

The dashboard process shares one Store between every Streamlit session (each script run
is a thread of its own) and the JSON endpoints (the event loop's thread); the collector
writes samples, alert states and job updates at the same time. These tests run that
mix with real threads and a real uvicorn server and check that nothing fails, nothing
is told "database is locked", and every row is accounted for. Loop counts are bounded;
nothing is timed.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette

from collector.loop import Collector, Tick
from ops.alerts.notify import announce, send_test
from ops.alerts.rules import DEFAULT_RULES
from ops.alerts.watch import AlertWatch
from ops.clock import now_ms
from ops.config import SETTINGS, Settings, load_settings
from ops.housekeeping import Retention
from ops.sources.configured import build_sources
from ops.storage import Store, outbox
from ops.storage import alerts as records
from ops.web import routes
from tests.servers import free_port

SESSIONS = 8
ROUNDS = 40
TICKS = 30
CLIENTS = 4
REQUESTS = 40
STEP_MS = 5000
PATHS = ("/api/monitoring/health/detailed", "/api/monitoring/metrics",
         "/api/monitoring/dashboard", "/api/monitoring/cache/stats", "/metrics")


class Errors:
    """Exceptions raised in any thread, kept for the main thread to assert on."""

    def __init__(self) -> None:
        self.found: list[str] = []
        self.lock = threading.Lock()

    def guard(self, work: Callable[..., None], *args: Any) -> Callable[[], None]:
        def run() -> None:
            try:
                work(*args)
            except BaseException as error:
                with self.lock:
                    self.found.append(f"{threading.current_thread().name}: "
                                      f"{type(error).__name__}: {error}")
        return run


def run_all(targets: dict[str, Callable[[], None]]) -> None:
    threads = [threading.Thread(target=target, name=name) for name, target in targets.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(240)
    assert not any(thread.is_alive() for thread in threads), "every thread finished"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The process environment the endpoints read: a data directory, an HTTP health URL
    nobody answers (so the service-down alert fires) and a webhook for messages."""
    for setting in SETTINGS:
        monkeypatch.delenv(setting.name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env file here
    env = {"OPS_DATA_DIR": str(tmp_path / "data"),
           "API_HEALTH_URL": f"http://127.0.0.1:{free_port()}/health",
           "ALERT_WEBHOOK_URL": f"http://127.0.0.1:{free_port()}/hook/abcdef123456",
           "SAMPLE_INTERVAL_SECONDS": "5"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield load_settings()
    routes.close_stores()


@pytest.fixture
def server(settings: Settings) -> Iterator[int]:
    """The real JSON routes under uvicorn on 127.0.0.1, in a thread."""
    port = free_port()
    config = uvicorn.Config(Starlette(routes=routes.routes()), host="127.0.0.1", port=port,
                            log_level="warning", lifespan="off")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, name="uvicorn", daemon=True)
    thread.start()
    started = threading.Event()
    for _ in range(400):
        if running.started:
            started.set()
            break
        thread.join(0.05)
    assert started.is_set(), "uvicorn started"
    yield port
    running.should_exit = True
    thread.join(30)


def collector_for(settings: Settings, store: Store, start_ts: int) -> Collector:
    """The collector's real tick (probe, sample, events, heartbeat, housekeeping, alert
    rules) on a clock that steps 5 s per tick, so every tick is a new sample."""
    ticks = iter(range(start_ts, start_ts + 10 * TICKS * STEP_MS, STEP_MS))
    watch = AlertWatch(store, settings, DEFAULT_RULES, announce)

    def judge_alerts(tick: Tick) -> None:
        watch.after_tick(tick.ts, tick.row, {r.source: r.error for r in tick.readings})

    return Collector(store, build_sources(settings), settings.sample_interval_seconds,
                     Retention.from_settings(settings), clock=lambda: next(ticks),
                     after_tick=[judge_alerts])


def get(port: int, path: str) -> tuple[int, bytes, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read(), response.getheader("content-type") or ""
    finally:
        connection.close()


def test_sessions_collector_and_endpoints_share_the_file(settings: Settings,
                                                         server: int) -> None:
    path = settings.database_path
    shared = routes.store_for(path)  # the dashboard's one Store: sessions and endpoints
    collector_store = Store(path)  # the collector process's own
    start_ts = now_ms() - TICKS * STEP_MS
    collector = collector_for(settings, collector_store, start_ts)
    errors = Errors()
    backups: list[tuple[int, bool]] = []
    verifies: list[int] = []
    tests_queued: list[int] = []
    answers: list[tuple[str, int, str]] = []
    written: list[Tick] = []
    lock = threading.Lock()

    def session(number: int) -> None:
        for round_ in range(ROUNDS):
            now = now_ms()
            job, created = shared.request_job("backup", f"session-{number}", now)
            verify, made = shared.request_job("verify", f"session-{number}", now,
                                              {"backup": f"b{number}-{round_}"}, join=False)
            queued = send_test(shared, settings, now)  # the Alerts page's Send test
            assert made and verify.params == {"backup": f"b{number}-{round_}"}
            assert job.kind == "backup" and job.active
            shared.latest()
            shared.jobs(limit=20)
            shared.series(start_ts, now, ["host_mem_used_pct"], ["host_net_bytes_sent"],
                          max_points=200)
            shared.heartbeat()
            records.firing(shared)
            outbox.recent(shared, 20)
            with lock:
                backups.append((job.id, created))
                verifies.append(verify.id)
                tests_queued.append(queued)

    def collect() -> None:
        for _ in range(TICKS):
            tick = collector.run_once()
            assert tick is not None
            written.append(tick)

    def client(number: int) -> None:
        for i in range(REQUESTS):
            where = PATHS[(number + i) % len(PATHS)]
            status, body, kind = get(server, where)
            if where == "/metrics":
                assert status == 200 and body.startswith(b"#"), body[:200]
            else:
                assert kind.startswith("application/json"), kind
                json.loads(body)
            with lock:
                answers.append((where, status, body[:200].decode(errors="replace")))

    targets = {f"session-{n}": errors.guard(session, n) for n in range(SESSIONS)}
    targets["collector"] = errors.guard(collect)
    targets.update({f"client-{n}": errors.guard(client, n) for n in range(CLIENTS)})
    try:
        run_all(targets)
    finally:
        collector.close()

    assert errors.found == []
    assert len(answers) == CLIENTS * REQUESTS
    assert {status for _, status, _ in answers} <= {200, 503}, [
        a for a in answers if a[1] not in (200, 503)]
    assert not any("locked" in body for _, _, body in answers)

    # Requests that join share one backup job: created once, active, the same for all.
    assert len(backups) == SESSIONS * ROUNDS
    assert {job_id for job_id, _ in backups} == {backups[0][0]}
    assert sum(created for _, created in backups) == 1
    active = [job for job in shared.jobs("backup") if job.active]
    assert len(active) == 1 and active[0].id == backups[0][0]
    # Verifications do not join: one row each.
    assert len(set(verifies)) == SESSIONS * ROUNDS == shared.count_jobs("verify", "queued")
    assert len(shared.jobs(limit=10_000)) == 1 + SESSIONS * ROUNDS

    # Every test message queued once on the one channel (the webhook); the alert
    # messages are one per firing, queued by the collector's alert rules.
    assert tests_queued == [1] * (SESSIONS * ROUNDS)
    messages = outbox.recent(shared, 10_000)
    assert sum(m.event == "test" for m in messages) == SESSIONS * ROUNDS
    fired = records.history(shared)
    assert [a.rule for a in fired] == ["service_down"], "the unanswered health URL fired"
    assert sorted((m.alert_id, m.event) for m in messages if m.event != "test") == \
        [(fired[0].id, "firing")]
    assert outbox.counts(shared) == {"pending": len(messages), "sent": 0, "failed": 0,
                                     "silenced": 0}

    # The collector's rows: a sample and a heartbeat per tick, the state changes.
    assert len(written) == TICKS == shared.sample_count()
    assert [b.ts - a.ts for a, b in itertools.pairwise(written)] == [STEP_MS] * (TICKS - 1)
    assert shared.time_span() == (written[0].ts, written[-1].ts)
    beat = shared.heartbeat()
    assert beat is not None and beat.last_tick_ts == written[-1].ts and beat.pid == os.getpid()
    assert sorted((e.source, e.kind) for e in shared.events(0, 2**62)) == \
        [("api", "down"), ("host", "up")]
    assert set(shared.latest()) == {"host", "api"}
    collector_store.close()


def test_job_requests_while_the_worker_runs_them(tmp_path: Path) -> None:
    """Sessions keep asking for a backup while the collector's worker claims and
    finishes jobs: never two active backups, every claimed job finished once, and every
    request either created a job or joined an active one."""
    path = tmp_path / "ops.sqlite3"
    dashboard, collector_side = Store(path), Store(path)
    errors = Errors()
    seen: list[tuple[int, bool, str]] = []
    finished: list[int] = []
    sessions_done = threading.Event()
    lock = threading.Lock()

    def session(number: int) -> None:
        for _ in range(40):
            job, created = dashboard.request_job("backup", f"session-{number}", now_ms())
            active = [j for j in dashboard.jobs("backup", limit=5) if j.active]
            assert len(active) <= 1, active
            with lock:
                seen.append((job.id, created, job.status))

    def worker() -> None:
        while True:
            job = collector_side.claim_job(now_ms(), os.getpid(), "here")
            if job is None:
                if sessions_done.is_set():
                    return
                sessions_done.wait(0.001)
                continue
            assert job.status == "running" and job.pid == os.getpid()
            collector_side.job_progress(job.id, {"step": "dump"})
            collector_side.finish_job(job.id, now_ms(), "ok", result={"ok": True})
            with lock:
                finished.append(job.id)

    def sessions() -> None:
        try:
            run_all({f"session-{n}": errors.guard(session, n) for n in range(SESSIONS)})
        finally:
            sessions_done.set()

    run_all({"sessions": errors.guard(sessions), "worker": errors.guard(worker)})

    assert errors.found == []
    assert len(seen) == SESSIONS * 40
    assert all(status in ("queued", "running") for _, _, status in seen), \
        "a request is answered with an active job"
    created = [job_id for job_id, new, _ in seen if new]
    assert len(created) == len(set(created)) == len(dashboard.jobs("backup", limit=10_000))
    assert sorted(finished) == sorted(created), "each job claimed and finished once"
    assert dashboard.count_jobs("backup", "ok") == len(created)
    assert all(job.result == {"ok": True} and job.progress == {"step": "dump"}
               for job in dashboard.jobs("backup", limit=10_000))
    dashboard.close()
    collector_side.close()
