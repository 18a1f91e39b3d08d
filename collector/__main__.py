"""`python -m collector`: sample every SAMPLE_INTERVAL_SECONDS until SIGTERM or SIGINT.

`python -m collector --once` prints one sample as JSON on stdout and writes nothing.
"""

from __future__ import annotations

import sys

# sqlite-utils imports pandas and numpy whenever they are installed (the dashboard needs
# them). The collector never uses either, and they would triple its memory (~36 -> ~104
# MB), so this process tells Python they are absent before anything imports them.
sys.modules.setdefault("pandas", None)  # type: ignore[arg-type]
sys.modules.setdefault("numpy", None)  # type: ignore[arg-type]

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
import sqlite3  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import asdict  # noqa: E402
from typing import TypeVar  # noqa: E402

from collector.containers import ContainerRecorder  # noqa: E402
from collector.loop import Collector, Tick  # noqa: E402
from collector.single import AlreadyRunningError, claim  # noqa: E402
from collector.worker import JobWorker  # noqa: E402
from ops.alerts.notify import Notifier, announce  # noqa: E402
from ops.alerts.rules import Rule, RulesFileError, load_rules  # noqa: E402
from ops.alerts.watch import AlertWatch  # noqa: E402
from ops.clock import now_ms  # noqa: E402
from ops.config import Settings  # noqa: E402
from ops.housekeeping import Retention  # noqa: E402
from ops.permissions import keep_private, tighten  # noqa: E402
from ops.sources.configured import build_sources  # noqa: E402
from ops.startup import settings_or_exit, setup_logging, writable_dirs_or_exit  # noqa: E402
from ops.storage import DiskFullError, Store, StoreError, disk_full, disk_full_error  # noqa: E402
from ops.watching import record as record_watching  # noqa: E402

log = logging.getLogger("collector")
T = TypeVar("T")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m collector", description=__doc__)
    parser.add_argument("--once", action="store_true",
                        help="print one sample as JSON on stdout and exit; writes nothing")
    args = parser.parse_args(argv)
    keep_private()  # every file this process or its libraries create: 0600, directories 0700
    settings = settings_or_exit()
    setup_logging()
    if args.once:
        return print_one_sample(settings)
    alert_rules(settings)  # a bad rules file stops the program before it does anything
    writable_dirs_or_exit(settings)
    tighten(settings)  # what an older version left readable by other users, logged once
    return run_forever(settings)


def print_one_sample(settings: Settings) -> int:
    from collector.probing import ProbeRunner

    runner = ProbeRunner(build_sources(settings))
    readings = runner.probe_all() or []
    runner.close()
    sample = {"ts": now_ms(), "sources": {r.source: asdict(r) for r in readings}}
    json.dump(sample, sys.stdout, indent=2, default=str)
    print()
    return 0


def log_start_up(settings: Settings) -> None:
    """The start-up lines admins already grep for (SEED.md), then what is watched."""
    if settings.enable_auto_backup and settings.mongo_uri is not None:
        log.info("Starting automated backup system...")
        log.info("Scheduled daily backups (retention: %d days)", settings.backup_retention_days)
    elif settings.enable_auto_backup:
        log.info("Automatic backups are on but MONGO_URI is not set: no backups will be taken")
    log.info("Sampling every %d s into %s", settings.sample_interval_seconds,
             settings.database_path)


def or_exit(make: Callable[[], T], *errors: type[Exception]) -> T:
    """`make()`, or exit status 2 with the error's one line: a setting or a file for the
    admin to fix (a bad rules file, a history file that is not ours, a data directory
    another collector holds) is said before anything runs."""
    try:
        return make()
    except errors as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def open_store(settings: Settings, sleep: Callable[[float], None] = time.sleep) -> Store:
    """The history, once it can be opened: on a full disk SQLite cannot even open it, so
    the collector says so once and tries again every sample interval (stopping it then
    needs no care: nothing is written) instead of exiting into a restart loop - `ops up`
    would stop the dashboard with it. Any other StoreError is for the admin to fix."""
    said = False
    while True:
        try:
            return Store(settings.database_path)
        except (DiskFullError, sqlite3.OperationalError) as error:
            if not disk_full(settings.database_path):
                raise StoreError(f"cannot open {settings.database_path}: {error}") from error
            if not said:
                log.error("%s; sampling starts when there is space",
                          error if isinstance(error, DiskFullError)
                          else disk_full_error(settings.database_path, error))
                said = True
        sleep(settings.sample_interval_seconds)


def alert_rules(settings: Settings) -> tuple[Rule, ...]:
    return or_exit(lambda: load_rules(settings.alert_rules_file), RulesFileError)


def run_forever(settings: Settings) -> int:
    rules = alert_rules(settings)
    # Held until the process ends: a second collector on this data directory exits 2.
    hold = or_exit(lambda: claim(settings.ops_data_dir), AlreadyRunningError)  # noqa: F841
    store = or_exit(lambda: open_store(settings), StoreError)
    record_watching(store, settings)  # what every reader now counts as watched
    watch = AlertWatch(store, settings, rules, announce)

    def judge_alerts(tick: Tick) -> None:
        watch.after_tick(tick.ts, tick.row, {r.source: r.error for r in tick.readings})

    recorder = ContainerRecorder(store, settings.metrics_raw_retention_hours)

    def record_containers(tick: Tick) -> None:
        recorder.record(tick.ts, tick.readings)

    collector = Collector(store, build_sources(settings), settings.sample_interval_seconds,
                          Retention.from_settings(settings),
                          after_tick=[record_containers, judge_alerts])
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: collector.stop())
    log_start_up(settings)
    log.info("Watching: %s", ", ".join(s.name for s in collector.sources))
    worker = JobWorker(settings)
    worker.start()
    notifier = Notifier(settings, settings.database_path)
    notifier.start()
    try:
        written = collector.run()
    except Exception:
        # The main loop's boundary: a tick that cannot be stored (the database unwritable
        # or damaged) ends sampling. Log the traceback, stop the other threads cleanly
        # (a running backup is marked interrupted) and exit non-zero, so the supervisor
        # restarts the collector.
        log.exception("Sampling stopped by an unexpected error")
        return 1
    finally:
        worker.stop()
        notifier.stop()
        collector.close()
        store.close()
    log.info("Stopped after %d samples", written)
    return 0


if __name__ == "__main__":
    sys.exit(main())
