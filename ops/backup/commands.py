"""The backup commands of `python -m ops`: request, drill, list, verify, restore, prune.

A backup or a restore drill is requested as a job that the collector runs (the one
process that owns backups, whose job result the alerts read); verify, restore and prune
work on the files directly, so they also serve when the collector is down.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ops import formatting
from ops.backup.catalogue import BackupEntry, databases_in, find, list_backups
from ops.backup.errors import BackupError, NotFoundError, RestoreError
from ops.backup.jobs import SafetyBackup, remember_copy, safety_line
from ops.backup.manifest import iso, load_manifest_for, time_of_id
from ops.backup.requests import request_backup_job
from ops.backup.restore import RestoreProgress, RestoreReport, check_target, restore
from ops.backup.restored import is_copy
from ops.backup.retention import prune
from ops.backup.verify import verify
from ops.clock import now_ms
from ops.config import Settings
from ops.copies import records as copy_records
from ops.copies.fetching import fetch_from_targets, listings
from ops.copies.run import summary as copies_summary
from ops.heartbeat import collector_state
from ops.storage import Job, Store

WAIT_POLL_SECONDS = 0.5
EXIT_FAILED = 1
EXIT_USAGE = 2


def _fail(message: str, status: int = EXIT_FAILED) -> int:
    print(f"error: {message}", file=sys.stderr)
    return status


def request_backup(settings: Settings, wait: bool, requested_by: str = "cli",
                   again: bool = False) -> int:
    """Ask the collector for a backup: a new one, the one running (joined), or the one
    that finished less than a minute ago unless `again` (requests.py)."""
    if settings.mongo_uri is None:
        return _fail("MONGO_URI is not set: there is no MongoDB to back up", EXIT_USAGE)
    store = Store(settings.database_path)
    now = now_ms()
    asked = request_backup_job(store, requested_by, now, again=again)
    job, created = asked.job, asked.created
    if asked.recent:
        print(f"backup job {job.id} finished {asked.finished_seconds_ago(now)} s ago "
              f"({(job.result or {}).get('file', 'no file')}): not taking another; "
              "--again takes another")
        return _report(job) if wait else 0
    print(f"backup job {job.id} {'queued' if created else 'already ' + job.status + ': joined'}")
    return _follow(store, settings, job, wait, _report)


def request_drill(settings: Settings, target: str | None, wait: bool) -> int:
    """Ask the collector for a restore drill of `target` (an id or file; None: the newest
    good backup when the drill runs). A drill of the newest joins one already queued."""
    if settings.mongo_uri is None:
        return _fail("MONGO_URI is not set: there is no MongoDB to restore into", EXIT_USAGE)
    return _request_job(settings, "drill", target, wait, _report_drill)


def request_copy(settings: Settings, target: str | None, wait: bool) -> int:
    """Ask the collector to copy `target` (None: the newest good backup) off the host."""
    if not settings.backup_copy_urls:
        return _fail("BACKUP_COPY_URLS is not set: there is nowhere to copy to", EXIT_USAGE)
    return _request_job(settings, "copy", target, wait, _report_copy)


def _request_job(settings: Settings, kind: str, target: str | None, wait: bool,
                 report: Callable[[Job], int]) -> int:
    """Queue a `kind` job about backup `target` (None: the newest good one, joining one
    already queued), say so, and with `wait` follow it to its end."""
    params: dict[str, Any] = {}
    if target is not None:
        try:
            params["backup"] = find(settings.backup_dir, target).id
        except BackupError as error:
            return _fail(str(error), EXIT_USAGE)
    store = Store(settings.database_path)
    job, created = store.request_job(kind, "cli", now_ms(), params, join=not params)
    print(f"{kind} job {job.id} {'queued' if created else 'already ' + job.status + ': joined'}")
    return _follow(store, settings, job, wait, report)


def _follow(store: Store, settings: Settings, job: Job, wait: bool,
            report: Callable[[Job], int]) -> int:
    """With `wait`, follow the queued job to its end; without a running collector, say
    what becomes of the job (exit 1 when waiting, a warning otherwise)."""
    collector = collector_state(store, settings, now_ms())
    if not collector.running:
        message = f"{collector.message}; {_when_it_runs(job)}"
        return _fail(message) if wait else (print(f"warning: {message}", file=sys.stderr) or 0)
    return _wait_for(store, settings, job, report) if wait else 0


def _report_copy(job: Job) -> int:
    if job.status == "ok" and job.result:
        for copy in job.result.get("copies", []):
            print(f"copy of {copy['backup']} at {copy['target']}: {copy['status']}, "
                  f"{formatting.size(copy['size'])}"
                  + (", encrypted" if copy.get("encrypted") else ""))
        return 0
    return _fail(f"copy job {job.id} {job.status}: {job.error or 'no detail'}")


def remote_command(settings: Settings, as_json: bool) -> int:
    """What every target holds, newest first; exit 1 when a target could not be read."""
    if not settings.backup_copy_urls:
        return _fail("BACKUP_COPY_URLS is not set: there are no copies to list", EXIT_USAGE)
    found = listings(settings)
    if as_json:
        json.dump([{"target": t.target, "error": t.error, "backups": [
            {"id": b.id, "file": b.archive, "size_bytes": b.size, "encrypted": b.encrypted,
             "complete": b.complete, "modified": iso(b.modified)} for b in t.backups]}
            for t in found], sys.stdout, indent=2)
        print()
    for listing in found if not as_json else []:
        print(f"{listing.target}: " + (f"error: {listing.error}" if listing.error else
                                        f"{len(listing.backups)} backups"))
        for b in listing.backups:
            state = "complete" if b.complete else "incomplete (no manifest: not restorable)"
            print(f"  {b.id:<24} {formatting.size(b.size):>10} "
                  f"{'encrypted' if b.encrypted else 'plain':<9} {state}")
    return 1 if any(t.error for t in found) else 0


def _copies_json(settings: Settings, store: Store | None, entry: BackupEntry) -> list[Any]:
    if store is None or not settings.backup_copy_urls:
        return []
    return [{"target": r.target, "status": r.status,
             "when": iso(datetime.fromtimestamp(r.ts / 1000, UTC)), "size_bytes": r.size,
             "encrypted": r.encrypted, "error": r.error}
            for r in copy_records.records_of(store, entry.id)]


def _report_drill(job: Job) -> int:
    if job.status == "ok" and job.result:
        print(f"drill ok: {job.result.get('summary')}")
        return 0
    return _fail(f"drill job {job.id} {job.status}: {job.error or 'no detail'}")


def _when_it_runs(job: Job) -> str:
    """What becomes of a job while no collector runs: a queued one waits for the next
    collector; one a stopped collector was running is marked interrupted by the next."""
    if job.status == "queued":
        return "the job runs when the collector starts"
    return (f"job {job.id} was {job.status} when the collector stopped: the next collector "
            f"marks it interrupted; request a {job.kind} again once it runs")


def _describe_progress(job: Job) -> str:
    p = job.progress or {}
    if "waiting" in p:
        return str(p["waiting"])
    if "collections_total" not in p and p.get("current"):
        return str(p["current"])  # a drill says what it is doing in words
    return (f"{p.get('collections_done', 0)}/{p.get('collections_total', '?')} collections, "
            f"{p.get('documents_done', 0)}/{p.get('documents_estimated', '?')} documents"
            + (f" ({p['current']})" if p.get("current") else ""))


def _wait_for(store: Store, settings: Settings, job: Job,
              report: Callable[[Job], int]) -> int:
    """Follow the job to its end, one progress line a second; exit status from its result,
    or 1 as soon as the collector stops (its heartbeat goes stale)."""
    last_line = ""
    last_print = 0.0
    while True:
        current = store.job(job.id)
        assert current is not None
        if not current.active:
            return report(current)
        collector = collector_state(store, settings, now_ms())
        if not collector.running:
            return _fail(f"{collector.message}; {_when_it_runs(current)}")
        line = f"{job.kind} job {job.id} {current.status}: {_describe_progress(current)}"
        if line != last_line and time.monotonic() - last_print >= 1:
            print(line, file=sys.stderr)
            last_line, last_print = line, time.monotonic()
        time.sleep(WAIT_POLL_SECONDS)


def _report(job: Job) -> int:
    if job.status == "ok" and job.result:
        result = job.result
        print(f"backup {result['id']} ok: {result['documents_total']} documents in "
              f"{len(result['collections'])} collections, "
              f"{formatting.size(result['size_bytes'])}, {result['duration_s']:.1f} s, "
              f"verified; file {result['file']}")
        return 0
    return _fail(f"backup job {job.id} {job.status}: {job.error or 'no detail'}")


def _entry_json(entry: BackupEntry, copies: list[Any]) -> dict[str, Any]:
    return {"id": entry.id, "file": str(entry.file), "created": iso(entry.created),
            "size_bytes": entry.size_bytes, "status": entry.status,
            "duration_s": entry.duration_s, "collections": entry.collections,
            "documents": entry.documents, "databases": databases_in(entry),
            "verified": entry.verified, "verified_at": iso(entry.verified_at),
            "reason": entry.manifest.reason if entry.manifest is not None else None,
            "drill": entry.manifest.drill if entry.manifest is not None else None,
            "copies": copies}


def list_command(settings: Settings, as_json: bool) -> int:
    """The catalogue, newest first; times in UTC, what scripts parse. The databases of an
    archive without a manifest are read from its prelude."""
    entries = list_backups(settings.backup_dir)
    store = Store(settings.database_path) if settings.database_path.exists() else None
    if as_json:
        json.dump([_entry_json(e, _copies_json(settings, store, e)) for e in entries],
                  sys.stdout, indent=2)
        print()
        return 0
    if not entries:
        print(f"no backups in {settings.backup_dir}")
        return 0
    copies = settings.backup_copy_urls is not None and store is not None
    print(f"{'id':<24} {'created (UTC)':<20} {'size':>10} {'duration':>9} {'colls':>5} "
          f"{'documents':>10} {'verified':<8} {'status':<11} databases"
          + ("  copies" if copies else ""))
    for e in entries:
        duration = f"{e.duration_s:.1f} s" if e.duration_s is not None else "-"
        print(f"{e.id:<24} {e.created:%Y-%m-%d %H:%M:%S} {formatting.size(e.size_bytes):>10} "
              f"{duration:>9} {e.collections if e.collections is not None else '-':>5} "
              f"{e.documents if e.documents is not None else '-':>10} "
              f"{'yes' if e.verified else 'no':<8} {e.status:<11} "
              f"{','.join(databases_in(e)) or '-'}"
              + (f"  {copies_summary(settings, store, e.id)}" if copies and store else ""))
    return 0


def verify_command(settings: Settings, target: str) -> int:
    try:
        entry = find(settings.backup_dir, target)
        report = verify(entry.file, load_manifest_for(entry.file))
    except BackupError as error:
        return _fail(str(error))
    checked = "sha256 and counts match the manifest" if report.manifest_checked else \
        "no manifest: structure, CRCs and documents checked"
    print(f"OK {entry.file.name}: {report.documents_total} documents in "
          f"{len(report.collections)} collections; {checked}")
    return 0


def restore_command(settings: Settings, target: str, to_db: str, drop: bool,
                    from_db: str | None) -> int:
    try:
        check_target(to_db)  # a usage error: said before anything is opened
    except RestoreError as error:
        return _fail(str(error), EXIT_USAGE)
    if settings.mongo_uri is None:
        return _fail("MONGO_URI is not set: there is no MongoDB to restore into", EXIT_USAGE)
    last = [0.0]

    def show(progress: RestoreProgress) -> None:
        if time.monotonic() - last[0] >= 1:
            last[0] = time.monotonic()
            print(f"restoring: {progress.collections_done}/{progress.collections_total} "
                  f"collections, {progress.documents_done} documents", file=sys.stderr)

    waited = [False]

    def waiting() -> None:
        if not waited[0]:
            waited[0] = True
            print("safety backup: waiting for the backup that holds the lock on "
                  f"{settings.backup_dir}", file=sys.stderr)

    try:
        entry = _local_or_fetched(settings, target)
        backup = SafetyBackup(settings, settings.mongo_uri.reveal(), entry.id,
                              now=lambda: datetime.now(UTC), waiting=waiting)

        def safety(report: RestoreReport) -> str:
            written = backup(report)
            print(safety_line(written, to_db), flush=True)
            return written

        report = restore(entry.file, settings.mongo_uri.reveal(), to_db, from_db=from_db,
                         drop=drop, progress=show,
                         before_writing=remember_copy(Store(settings.database_path), entry.id,
                                                      now_ms),
                         safety_backup=safety)
    except BackupError as error:
        return _fail(str(error))
    print(f"restored {entry.file.name} ({report.from_db}) into {to_db}: "
          f"{report.documents_total} documents, {len(report.collections)} collections, "
          f"{report.indexes_created} indexes, {report.duration_s:.1f} s")
    if settings.backup_databases is None and \
            is_copy(report.from_db, report.to_db, report.dropped):
        print(f"{to_db} is a restored copy: left out of the default backups (list it in "
              "BACKUP_DATABASES, or use the Backups page, to back it up)")
    return 0


def _local_or_fetched(settings: Settings, target: str) -> BackupEntry:
    """The backup in BACKUP_DIR, or, when it is not there and copies are set, the copy
    fetched back into it (verified against its manifest) first."""
    try:
        return find(settings.backup_dir, target)
    except NotFoundError:
        if not settings.backup_copy_urls or time_of_id(target) is None:
            raise
    print(f"{target} is not in {settings.backup_dir}: fetching it from the copies",
          file=sys.stderr)
    path = fetch_from_targets(settings, target)
    print(f"fetched {path.name} and checked it against its manifest", file=sys.stderr)
    return find(settings.backup_dir, path)


def prune_command(settings: Settings) -> int:
    try:
        removed = prune(settings.backup_dir, settings.backup_retention_days, datetime.now(UTC))
    except OSError as error:
        return _fail(f"removing old backups from {settings.backup_dir} failed: "
                     f"{error.strerror or error}")
    store = Store(settings.database_path)
    for backup_id in removed:
        store.record_event(now_ms(), "backup", "backup_pruned",
                           f"{backup_id} older than {settings.backup_retention_days} days")
        print(f"removed {backup_id}")
    print(f"{len(removed)} backups removed; retention {settings.backup_retention_days} days, "
          "the newest good backup is always kept")
    return 0


__all__ = ["list_command", "prune_command", "remote_command", "request_backup",
           "request_copy", "request_drill", "restore_command", "verify_command"]
