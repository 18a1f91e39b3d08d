"""Running one requested job - backup, restore or verify - and recording what happened.

The collector's worker calls `run_job`; the job's row carries its progress (at least
every second while it runs), its result or its one-line error. Backups hold a file lock
in BACKUP_DIR, so two processes sharing the directory never dump at the same time.
Each backup's start, success and failure are events, and so is every backup removed by
retention; retention runs only after a successful backup.

A restore that drops a target holding collections first takes a safety backup of that
database (`SafetyBackup`): the same dump, the same lock and BACKUP_DIR, a catalogue entry
like any other whose manifest's `reason` says which restore it came before. The drop
happens only once it is written and verified; the command uses the same hook.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from ops.backup.catalogue import BackupEntry, find, list_backups
from ops.backup.drill import record, run_drill
from ops.backup.dump import DumpProgress, dump
from ops.backup.errors import BackupError, one_line
from ops.backup.manifest import load_manifest_for, manifest_path, write_manifest
from ops.backup.restore import RestoreReport, check_target, restore
from ops.backup.restored import RestoredCopy, is_copy, left_out, remember
from ops.backup.retention import prune
from ops.backup.verify import verify
from ops.config import Settings
from ops.copies.fetching import fetch_from_targets
from ops.copies.run import copy_everywhere
from ops.permissions import PRIVATE_FILE, private_dir
from ops.redaction import clean
from ops.storage import Job, Store

log = logging.getLogger("ops.backup")

LOCK_NAME = ".backup.lock"
LOCK_POLL_SECONDS = 1.0
EVENT_SOURCE = "backup"


def backup_lock(backup_dir: Path) -> FileLock:
    private_dir(backup_dir)
    return FileLock(backup_dir / LOCK_NAME, mode=PRIVATE_FILE)


def locked(backup_dir: Path, waiting: Callable[[], None]) -> FileLock:
    """The backup directory's lock, acquired; `waiting` is called about every second
    while another process holds it. Raises BackupError when it cannot be taken at all."""
    try:
        lock = backup_lock(backup_dir)
        while True:
            try:
                lock.acquire(timeout=LOCK_POLL_SECONDS)
                return lock
            except Timeout:
                waiting()
    except OSError as exc:
        raise BackupError(f"cannot lock the backup directory {backup_dir}: "
                          f"{exc.strerror or exc}") from exc


class SafetyBackup:
    """The restore's `safety_backup` hook: back up the target database as it is, before
    a restore of `restoring` drops it.

    The same dump as any backup, under the backup lock, into BACKUP_DIR; its manifest gets
    the reason and is written again (atomically) before the hook returns, so the drop
    happens only after a complete, verified, explained catalogue entry exists. Any failure
    raises BackupError, and the restore is refused with nothing dropped.
    """

    def __init__(self, settings: Settings, uri: str, restoring: str, *,
                 now: Callable[[], datetime], waiting: Callable[[], None],
                 progress: Callable[[DumpProgress], None] | None = None) -> None:
        self.settings = settings
        self.uri = uri
        self.restoring = restoring
        self.now = now
        self.waiting = waiting
        self.progress = progress

    def __call__(self, report: RestoreReport) -> str:
        backup_dir = self.settings.backup_dir
        lock = locked(backup_dir, self.waiting)
        try:
            manifest = dump(self.uri, backup_dir, [report.to_db],
                            gzip_level=self.settings.backup_gzip_level, now=self.now(),
                            progress=self.progress)
            manifest.reason = f"before restore of {self.restoring} into {report.to_db}"
            try:
                write_manifest(manifest, manifest_path(backup_dir / manifest.file))
            except OSError as exc:
                raise BackupError(f"{manifest.id} was written but its manifest could not "
                                  f"record why: {exc.strerror or exc}") from exc
        finally:
            lock.release()
        log.info("safety backup %s written before dropping %s (%d documents)", manifest.id,
                 report.to_db, manifest.documents_total)
        return manifest.id


def safety_line(backup: str, to_db: str) -> str:
    """What the command prints and the job records once the safety backup exists."""
    return f"safety backup {backup} written before dropping {to_db}"


def _plain(value: Any) -> Any:
    """Dataclasses (progress, reports) as JSON-ready dicts."""
    return asdict(value) if is_dataclass(value) and not isinstance(value, type) else value


class JobRunner:
    def __init__(self, settings: Settings, store: Store,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock

    def now_ms(self) -> int:
        return int(self.clock().timestamp() * 1000)

    def run_job(self, job: Job) -> None:
        """Run a claimed job to its end and record its result or its failure.

        A failure of the job (BackupError: the server, the disk, the file) is recorded and
        not raised. Anything else is a bug: it propagates to the caller's thread boundary,
        which records it with `fail`.
        """
        handlers = {"backup": self._backup, "restore": self._restore, "verify": self._verify,
                    "drill": self._drill, "copy": self._copy, "fetch": self._fetch}
        handler = handlers.get(job.kind)
        try:
            if handler is None:
                raise BackupError(f"unknown job kind {job.kind!r}")
            if self.settings.mongo_uri is None and job.kind in ("backup", "restore", "drill"):
                raise BackupError("MONGO_URI is not set: there is no MongoDB to work with")
            result = handler(job)
        except BackupError as error:
            self.fail(job, error)
            return
        self.store.finish_job(job.id, self.now_ms(), "ok", result=result)

    def fail(self, job: Job, error: BaseException) -> str:
        """Record `job` as failed because of `error`; returns the message stored.

        The job row and the event get one line without the MongoDB password; the log
        record carries the exception itself, so its traceback and chained cause are kept.
        """
        if isinstance(error, BackupError):
            text = str(error)
        else:
            text = f"internal error: {type(error).__name__}: {error}"
        message = self._public(text)
        self.store.finish_job(job.id, self.now_ms(), "failed", error=message)
        self._event(job, "failed", message)
        log.error("%s job %d failed: %s", job.kind, job.id, message, exc_info=error)
        return message

    def _public(self, text: str) -> str:
        """One line, without a secret in any spelling (ops.redaction)."""
        return clean(text) or "no detail"

    def _progress(self, job: Job) -> Callable[[Any], None]:
        def report(progress: Any) -> None:
            self.store.job_progress(job.id, {**_plain(progress), "updated_ts": self.now_ms()})

        return report

    def _event(self, job: Job, outcome: str, message: str | None) -> None:
        kind = f"{job.kind}_{outcome}"
        self.store.record_event(self.now_ms(), EVENT_SOURCE, kind, message)

    def _locked(self, job: Job) -> FileLock:
        """The backup directory's lock, waiting (with progress saying so) while it is held."""
        return locked(self.settings.backup_dir, self._waiting(job))

    def _waiting(self, job: Job) -> Callable[[], None]:
        def waiting() -> None:
            self.store.job_progress(job.id, {"waiting": "another backup holds the lock",
                                             "updated_ts": self.now_ms()})

        return waiting

    def _backup(self, job: Job) -> dict[str, Any]:
        assert self.settings.mongo_uri is not None
        self._event(job, "started", f"requested by {job.requested_by}")
        lock = self._locked(job)
        try:
            manifest = dump(self.settings.mongo_uri.reveal(), self.settings.backup_dir,
                            self.settings.backup_databases,
                            gzip_level=self.settings.backup_gzip_level, now=self.clock(),
                            progress=self._progress(job),
                            leave_out=left_out(self.store, self.settings.backup_databases))
        finally:
            lock.release()
        self._event(job, "ok", f"{manifest.file}: {manifest.documents_total} documents, "
                               f"{manifest.size_bytes} bytes, {manifest.duration_s:.1f} s")
        self._prune()
        if self.settings.backup_copy_urls:  # off the host next, as a job of its own
            self.store.request_job("copy", "backup", self.now_ms(), {"backup": manifest.id},
                                   join=False)
        return manifest.to_dict()

    def _prune(self) -> None:
        """Retention after a good backup; its failure is logged, the backup stays good."""
        try:
            removed = prune(self.settings.backup_dir, self.settings.backup_retention_days,
                            self.clock())
        except OSError as exc:
            message = f"removing old backups failed: {exc.strerror or exc}"
            self.store.record_event(self.now_ms(), EVENT_SOURCE, "backup_prune_failed",
                                    one_line(message))
            log.error("%s", message, exc_info=exc)
            return
        for backup_id in removed:
            self.store.record_event(self.now_ms(), EVENT_SOURCE, "backup_pruned",
                                    f"{backup_id} older than "
                                    f"{self.settings.backup_retention_days} days")

    def _restore(self, job: Job) -> dict[str, Any]:
        assert self.settings.mongo_uri is not None
        to_db = _param(job, "to_db")
        check_target(to_db)  # a job row queued by anyone, not only by the page
        entry = find(self.settings.backup_dir, _param(job, "backup"))
        self._event(job, "started", f"{entry.id} into {to_db}")
        uri = self.settings.mongo_uri.reveal()
        written: list[str] = []  # the safety backup, once it exists: named by every progress

        def safety_progress(progress: DumpProgress) -> None:
            self.store.job_progress(job.id, {
                **_plain(progress), "current": f"safety backup of {to_db}"
                + (f": {progress.current}" if progress.current else ""),
                "updated_ts": self.now_ms()})

        def restore_progress(progress: Any) -> None:
            self.store.job_progress(job.id, {
                **_plain(progress), "updated_ts": self.now_ms(),
                **({"safety_backup": written[0],
                    "message": safety_line(written[0], to_db)} if written else {})})

        def safety(report: RestoreReport) -> str:
            backup = SafetyBackup(self.settings, uri, entry.id, now=self.clock,
                                  waiting=self._waiting(job), progress=safety_progress)(report)
            written.append(backup)
            self.store.record_event(self.now_ms(), EVENT_SOURCE, "restore_safety_backup",
                                    f"{safety_line(backup, to_db)} (restore of {entry.id})")
            return backup

        report = restore(entry.file, uri, to_db, from_db=job.params.get("from_db") or None,
                         drop=bool(job.params.get("drop")), progress=restore_progress,
                         before_writing=remember_copy(self.store, entry.id, self.now_ms),
                         safety_backup=safety)
        said = f"; {safety_line(report.safety_backup, to_db)}" if report.safety_backup else ""
        self._event(job, "ok", f"{entry.id} into {to_db}: {report.documents_total} "
                               f"documents{said}")
        return {"backup": entry.id, "to_db": to_db, "from_db": report.from_db,
                "documents": report.documents_total, "indexes": report.indexes_created,
                "duration_s": report.duration_s, "dropped": report.dropped,
                "safety_backup": report.safety_backup}

    def _drill(self, job: Job) -> dict[str, Any]:
        """Restore drill of the backup named in the job, else of the newest good one, under
        the backup lock: no backup dumps the scratch databases, none is pruned meanwhile.
        A drill that found a difference or could not restore fails the job (the alert)."""
        assert self.settings.mongo_uri is not None
        entry = self._named_or_newest(job)
        self._event(job, "started", f"{entry.id} into scratch databases")
        lock = self._locked(job)
        try:
            result = run_drill(entry, self.settings.mongo_uri.reveal(), now=self.clock,
                               progress=lambda text: self.store.job_progress(
                                   job.id, {"current": text, "updated_ts": self.now_ms()}))
            record(entry, result)
        finally:
            lock.release()
        if not result.ok:
            raise BackupError(result.summary)
        self._event(job, "ok", result.summary)
        return result.to_dict()

    def _copy(self, job: Job) -> dict[str, Any]:
        """Copy a backup (the one named, else the newest good one) to every target."""
        entry = self._named_or_newest(job)
        done = copy_everywhere(self.settings, self.store, entry, self.now_ms,
                               progress=lambda text: self.store.job_progress(
                                   job.id, {"current": text, "updated_ts": self.now_ms()}))
        failed = [f"{r.target}: {r.error}" for r in done if not r.good]
        if failed:
            raise BackupError(f"copy of {entry.id} failed at {'; '.join(failed)}")
        return {"backup": entry.id, "copies": [asdict(r) for r in done]}

    def _fetch(self, job: Job) -> dict[str, Any]:
        """Bring a copy back from the first target holding it (the host was rebuilt)."""
        path = fetch_from_targets(self.settings, _param(job, "backup"))
        self._event(job, "ok", f"{path.name} fetched back and verified")
        return {"backup": _param(job, "backup"), "file": path.name}

    def _named_or_newest(self, job: Job) -> BackupEntry:
        if (job.params or {}).get("backup"):
            return find(self.settings.backup_dir, _param(job, "backup"))
        good = next((e for e in list_backups(self.settings.backup_dir) if e.good_daily), None)
        if good is None:
            raise BackupError(f"no good backup in {self.settings.backup_dir} to drill yet")
        return good

    def _verify(self, job: Job) -> dict[str, Any]:
        entry = find(self.settings.backup_dir, _param(job, "backup"))
        started = time.monotonic()
        report = verify(entry.file, load_manifest_for(entry.file))
        return {"backup": entry.id, "documents": report.documents_total,
                "sha256": report.sha256, "manifest_checked": report.manifest_checked,
                "duration_s": round(time.monotonic() - started, 3)}


def remember_copy(store: Store, backup: str,
                  now_ms: Callable[[], int]) -> Callable[[RestoreReport], None]:
    """The restore's `before_writing` hook: a restore that makes a copy is remembered, so
    the default backups leave it out (restored.py)."""
    def hook(report: RestoreReport) -> None:
        if is_copy(report.from_db, report.to_db, report.dropped):
            remember(store, RestoredCopy(report.to_db, report.from_db, backup, now_ms()))

    return hook


def _param(job: Job, name: str) -> str:
    value = (job.params or {}).get(name)
    if value in (None, ""):
        raise BackupError(f"{job.kind} job {job.id} has no {name!r} parameter")
    return str(value)
