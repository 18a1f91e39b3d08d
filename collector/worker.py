"""The collector's second thread: the daily schedule, the catch-up, and queued jobs.

It has its own SQLite connection and never blocks sampling. At start it marks jobs
whose worker died (kill -9, a restarted container) as interrupted and removes stray
`.partial` files - under the backup lock, so a dump running in another process is left
alone - then queues a catch-up backup when the last scheduled time passed without a
successful backup.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psutil
from filelock import Timeout

from ops.backup.catalogue import list_backups, remove_partials
from ops.backup.jobs import JobRunner, backup_lock
from ops.backup.retention import still_intact
from ops.backup.schedule import (
    DRILL_QUEUED_KEY,
    NEXT_BACKUP_KEY,
    catch_up_due,
    drill_due,
    next_run,
)
from ops.config import Settings
from ops.copies import records as copy_records
from ops.copies.run import due as copies_due
from ops.storage import Job, Store

log = logging.getLogger("collector.worker")

POLL_SECONDS = 0.5
RETRY_SECONDS = 5.0
OTHER_HOST_SILENCE_MS = 60_000
DRILL_CHECK_EVERY = timedelta(minutes=1)  # how often drills and copies are looked at


class JobWorker:
    def __init__(self, settings: Settings, clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self.clock = clock or (lambda: datetime.now(UTC))
        self.store = Store(settings.database_path)
        self.runner = JobRunner(settings, self.store, self.clock)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="jobs", daemon=True)
        self.pid = os.getpid()
        self.hostname = socket.gethostname()
        self.next_backup: datetime | None = None
        self.next_look: dict[str, datetime] = {}  # per once-a-minute check: drill, copy

    # --- start-up ---

    def recover(self) -> None:
        """Interrupted jobs marked, stray partial files removed, catch-up queued."""
        now_ms = self.runner.now_ms()
        for job in self.store.interrupt_jobs(now_ms, self._worker_alive):
            if job.kind == "backup" and self._finished_anyway(job, now_ms):
                continue
            self.store.record_event(now_ms, "backup", f"{job.kind}_interrupted",
                                    f"job {job.id} stopped before it finished")
            log.warning("%s job %d was interrupted (its worker stopped)", job.kind, job.id)
        self._remove_partials()
        for copy in copy_records.interrupted(self.store, now_ms):
            log.warning("copy of %s to %s was interrupted; it is tried again", copy.backup,
                        copy.target)
        if self.settings.enable_auto_backup and self.settings.mongo_uri is not None:
            self._schedule_next()
            self._catch_up()

    def _finished_anyway(self, job: Job, now_ms: int) -> bool:
        """A backup whose worker stopped after the archive got its final name (which
        happens only once it is complete and verified) is recorded as the success it is,
        so no job says interrupted and no backup_failed alert fires for a good backup."""
        started = datetime.fromtimestamp((job.started_ts or job.requested_ts) / 1000 - 1, UTC)
        made = next((e for e in list_backups(self.settings.backup_dir)
                     if e.good_daily and e.manifest is not None and e.created >= started
                     and still_intact(e)), None)
        if made is None or made.manifest is None:
            return False
        self.store.finish_job(job.id, now_ms, "ok", result=made.manifest.to_dict())
        self.store.record_event(now_ms, "backup", "backup_ok",
                                f"{made.file.name}: complete and verified when job {job.id}'s "
                                "worker stopped; recorded at start")
        log.warning("backup job %d: its worker stopped after %s was complete; recorded as ok",
                    job.id, made.file.name)
        return True

    def _worker_alive(self, job: Job) -> bool:
        if job.hostname == self.hostname:
            return job.pid != self.pid and job.pid is not None and psutil.pid_exists(job.pid)
        updated = (job.progress or {}).get("updated_ts") or job.started_ts or 0
        return self.runner.now_ms() - int(updated) < OTHER_HOST_SILENCE_MS

    def _remove_partials(self) -> None:
        lock = backup_lock(self.settings.backup_dir)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            log.info("another process is backing up; its .partial file is left alone")
            return
        try:
            for path in remove_partials(self.settings.backup_dir):
                log.warning("removed unfinished backup file %s", path.name)
        finally:
            lock.release()

    def _catch_up(self) -> None:
        good = [e for e in list_backups(self.settings.backup_dir) if e.good_daily]
        last = good[0].created if good else None
        if catch_up_due(self.clock(), self.settings.backup_time, self.settings.backup_timezone,
                        last):
            job, created = self.store.request_job("backup", "catch-up", self.runner.now_ms())
            if created:
                log.info("no successful backup since the last scheduled time: backing up now "
                         "(job %d)", job.id)

    def _schedule_next(self) -> None:
        self.next_backup = next_run(self.clock(), self.settings.backup_time,
                                    self.settings.backup_timezone)
        self.store.set_state(NEXT_BACKUP_KEY, int(self.next_backup.timestamp() * 1000))
        log.info("next backup at %s (%s)", self.next_backup.astimezone(
            self.settings.backup_timezone).strftime("%Y-%m-%d %H:%M %Z"),
            self.next_backup.strftime("%H:%M UTC"))

    # --- the loop ---

    def start(self) -> None:
        self.recover()
        self.thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        """Stop polling; a job still running is marked interrupted (its file is removed
        as a stray .partial at the next start)."""
        self.stop_event.set()
        if self.thread.is_alive():
            self.thread.join(timeout)
        for job in self.store.interrupt_jobs(self.runner.now_ms(),
                                             lambda job: job.pid != self.pid):
            log.warning("%s job %d interrupted by shutdown", job.kind, job.id)
            self.store.record_event(self.runner.now_ms(), "backup", f"{job.kind}_interrupted",
                                    f"job {job.id}: the collector stopped during it")

    def run_pending(self) -> Job | None:
        """One pass: queue the scheduled backup when due, then run one queued job."""
        if self.next_backup is not None and self.clock() >= self.next_backup:
            self.store.request_job("backup", "schedule", self.runner.now_ms())
            self._schedule_next()
        self._drill_if_due()
        self._copy_if_due()
        job = self.store.claim_job(self.runner.now_ms(), self.pid, self.hostname)
        if job is None:
            return None
        log.info("%s job %d started (requested by %s)", job.kind, job.id, job.requested_by)
        try:
            self.runner.run_job(job)
        except Exception as error:  # noqa: BLE001 - logged with its traceback by fail()
            # The job's boundary on this thread: run_job records the failures it expects
            # (BackupError); anything else is a bug, which must fail this job, not end the
            # worker. fail() logs the traceback and stores one line without the password.
            self.runner.fail(job, error)
        finished = self.store.job(job.id)
        if finished is not None:
            log.info("%s job %d %s", job.kind, job.id, finished.status)
        return finished

    def _time_to_look(self, what: str, now: datetime) -> bool:
        """Once a minute per check; a clock stepped back does not put the next look off."""
        due = self.next_look.get(what)
        if due is not None and due > now >= due - DRILL_CHECK_EVERY:
            return False
        self.next_look[what] = now + DRILL_CHECK_EVERY
        return True

    def _drill_if_due(self) -> None:
        """Queue the scheduled restore drill (BACKUP_DRILL) of the newest good backup once
        its period has passed since the last one was queued; looked at once a minute."""
        if self.settings.backup_drill == "off" or self.settings.mongo_uri is None:
            return
        now = self.clock()
        if not self._time_to_look("drill", now):
            return
        queued_ms = self.store.state(DRILL_QUEUED_KEY)
        last = datetime.fromtimestamp(queued_ms / 1000, UTC) if queued_ms else None
        if not drill_due(now, self.settings.backup_drill, last):
            return
        if not any(e.good_daily for e in list_backups(self.settings.backup_dir)):
            return  # nothing to drill yet: looked at again in a minute
        job, created = self.store.request_job("drill", "schedule", self.runner.now_ms())
        self.store.set_state(DRILL_QUEUED_KEY, self.runner.now_ms())
        if created:
            log.info("restore drill due (%s): job %d queued", self.settings.backup_drill,
                     job.id)

    def _copy_if_due(self) -> None:
        """Queue a copy job for the newest good backup when a target lacks its copy, a
        failed copy's retry time came, or a good copy was not read back for a day."""
        if not self.settings.backup_copy_urls:
            return
        now = self.clock()
        if not self._time_to_look("copy", now):
            return
        newest = next((e for e in list_backups(self.settings.backup_dir) if e.good_daily), None)
        if newest is not None and copies_due(self.settings, self.store, newest,
                                             self.runner.now_ms()):
            job, created = self.store.request_job("copy", "schedule", self.runner.now_ms(),
                                                  {"backup": newest.id})
            if created:
                log.info("copy of %s due: job %d queued", newest.id, job.id)

    def _loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                job = self.run_pending()
            except Exception:
                # The thread's boundary: nothing above it would see the error, and the
                # thread would end with backups silently stopped. A failed pass (the
                # database locked or unwritable, the backup directory gone) is logged with
                # its traceback and retried.
                log.exception("backup scheduler pass failed; retrying in %.0f s",
                              RETRY_SECONDS)
                self.stop_event.wait(RETRY_SECONDS)
                continue
            if job is None:
                self.stop_event.wait(POLL_SECONDS)
