"""Asking for a backup by hand (Backup now, `python -m ops backup`): one backup per
storm of requests.

A request joins the backup already queued or running (Store.request_job), and one made
within RECENT_SECONDS of the end of a successful backup returns that backup instead of
queueing another, unless `again` says another is wanted. Twenty clicks in two seconds on
a small database used to make several backups, because each one finished before the
next click; now they make one.

The look at the last finished backup and the queueing are one write transaction (the
store's write lock is held from the first read), so a backup that finishes between the
two cannot let a second one start.
"""

from __future__ import annotations

from dataclasses import dataclass

from ops.storage import Job, Store

RECENT_SECONDS = 60
KIND = "backup"


@dataclass(frozen=True)
class BackupRequest:
    """What a request got: the job to follow; `created` when it was queued by this
    request; `recent` when it is a backup that just finished and nothing was queued."""

    job: Job
    created: bool
    recent: bool

    def finished_seconds_ago(self, now_ms: int) -> int:
        return max(0, round((now_ms - (self.job.finished_ts or now_ms)) / 1000))


def last_finished(store: Store, now_ms: int, window_s: float = RECENT_SECONDS) -> Job | None:
    """The backup that finished successfully last, if that was less than `window_s`
    seconds from `now_ms` (either way: a clock set back does not make it old)."""
    done = [job for job in store.jobs(KIND, limit=20)
            if job.status == "ok" and job.finished_ts is not None
            and abs(now_ms - job.finished_ts) < window_s * 1000]
    return max(done, key=lambda job: (job.finished_ts or 0, job.id), default=None)


def request_backup_job(store: Store, requested_by: str, now_ms: int, again: bool = False,
                       window_s: float = RECENT_SECONDS) -> BackupRequest:
    """Queue a backup, join the active one, or (unless `again`) return the one that
    finished less than `window_s` seconds ago."""
    with store.transaction():
        if not again:
            recent = last_finished(store, now_ms, window_s)
            if recent is not None:
                return BackupRequest(recent, created=False, recent=True)
        job, created = store.request_job(KIND, requested_by, now_ms)
    return BackupRequest(job, created=created, recent=False)
