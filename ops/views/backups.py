"""What the pages say about backups: the last one, the next one, a job in words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ops import formatting
from ops.backup.catalogue import BackupEntry, databases_in, list_backups
from ops.backup.manifest import parse_iso
from ops.backup.schedule import NEXT_BACKUP_KEY
from ops.config import Settings
from ops.storage import Job, Store


@dataclass(frozen=True)
class BackupSummary:
    last: BackupEntry | None
    last_good: BackupEntry | None
    next_ts: int | None
    count: int

    def last_text(self, now_ts: int) -> str:
        if self.last is None:
            return "none yet"
        age = formatting.age(int(self.last.created.timestamp() * 1000), now_ts)
        return f"{age}, {formatting.size(self.last.size_bytes)}, {self.last.status}"

    def next_text(self, settings: Settings) -> str:
        if settings.mongo_uri is None:
            return "backups off until MONGO_URI is set"
        if not settings.enable_auto_backup:
            return "automatic backups off (ENABLE_AUTO_BACKUP=false)"
        if self.next_ts is None:
            return f"daily at {settings.backup_time:%H:%M} {settings.backup_timezone.key}"
        when = datetime.fromtimestamp(self.next_ts / 1000, settings.backup_timezone)
        return f"{when:%Y-%m-%d %H:%M} {settings.backup_timezone.key}"


def summary(settings: Settings, store: Store) -> BackupSummary:
    entries = list_backups(settings.backup_dir)
    good = next((e for e in entries if e.good_daily), None)
    return BackupSummary(entries[0] if entries else None, good,
                         store.state(NEXT_BACKUP_KEY), len(entries))


def scheduled(settings: Settings) -> bool:
    """Whether daily backups run at all (the figure "off" otherwise)."""
    return settings.mongo_uri is not None and settings.enable_auto_backup


def databases_text(entry: BackupEntry) -> str:
    """`alaweal_db, shop` as the catalogue names a backup's databases."""
    return ", ".join(databases_in(entry)) or "?"


def option_label(entry: BackupEntry) -> str:
    """A backup as the selectors offer it, read as the catalogue is: time, size,
    databases (and a status other than ok)."""
    status = "" if entry.ok else f" · {entry.status}"
    return (f"{formatting.clock(entry.created_ms)} · {formatting.size(entry.size_bytes)} · "
            f"{databases_text(entry)}{status}")


def drill_text(entry: BackupEntry) -> str:
    """The catalogue's drill column: `matched 2026-12-06` or `failed 2026-12-06`, empty
    when the backup was never drilled."""
    drill = entry.manifest.drill if entry.manifest is not None else None
    if not drill:
        return ""
    at = parse_iso(drill.get("at"))  # the day is enough in a column; the events say more
    when = formatting.local(int(at.timestamp() * 1000)).strftime("%Y-%m-%d") if at else "?"
    return f"matched {when}" if drill.get("ok") else f"failed {when}"


def last_drill(entries: list[BackupEntry]) -> dict[str, Any] | None:
    """The newest drill recorded in any backup's manifest."""
    drills = [e.manifest.drill for e in entries if e.manifest is not None and e.manifest.drill]
    return max(drills, key=lambda d: str(d.get("at") or ""), default=None)


def copy_notice(settings: Settings, copies: list[str], target: str) -> str:
    """What restoring into `target` means for the daily backups, said before it runs."""
    if settings.backup_databases is not None:
        listed = target in settings.backup_databases
        return (f"Daily backups take BACKUP_DATABASES only: {target} "
                f"{'is' if listed else 'is not'} listed there.")
    if target in copies:
        return f"{target} is a restored copy: the daily backups leave it out."
    return (f"If {target} is a new database, it becomes a restored copy that the daily "
            "backups leave out (they take every database but admin, local, config and "
            "such copies); restoring into the backed-up database's own name, or over one "
            "that has data, is a recovery and stays in the backups.")


def describe_job(job: Job) -> str:
    """One line for a job: what it is doing, or how it ended."""
    what = f"{job.kind} job {job.id}"
    p = job.progress or {}
    if job.status == "queued":
        return f"{what} is queued (waiting for the collector)"
    if job.status == "running":
        if "waiting" in p:
            return f"{what}: {p['waiting']}"
        if job.kind in ("drill", "copy", "fetch"):
            return f"{what} running: {p.get('current') or 'starting'}"
        total = p.get("documents_estimated") or p.get("documents_total") or "?"
        current = f", now {p['current']}" if p.get("current") else ""
        return (f"{what} running: {p.get('collections_done', 0)}/"
                f"{p.get('collections_total', '?')} collections, "
                f"{p.get('documents_done', 0):,} of ~{total:,} documents{current}"
                if isinstance(total, int) else
                f"{what} running: {p.get('collections_done', 0)} collections done")
    if job.status == "ok":
        r = job.result or {}
        if job.kind == "backup":
            return (f"{what} finished: {r.get('file')}, {r.get('documents_total', 0):,} "
                    f"documents, {formatting.size(r.get('size_bytes'))}, verified")
        if job.kind == "restore":
            safety = (f"; safety backup {r['safety_backup']} holds what was there before"
                      if r.get("safety_backup") else "")
            return (f"{what} finished: {r.get('documents', 0):,} documents restored into "
                    f"{r.get('to_db')}{safety}")
        if job.kind == "drill":
            return f"{what} finished: {r.get('summary')}"
        if job.kind == "copy":
            return (f"{what} finished: {r.get('backup')} copied to "
                    f"{len(r.get('copies', []))} targets, each read back and matched")
        if job.kind == "fetch":
            return f"{what} finished: {r.get('file')} fetched back and verified; restore it below"
        return f"{what} finished: {r.get('backup')} is intact ({r.get('documents', 0):,} documents)"
    return f"{what} {job.status}: {job.error or 'no detail'}"


def fraction_done(job: Job) -> float | None:
    p = job.progress or {}
    total = p.get("documents_estimated") or p.get("documents_total")
    if not total:
        return None
    return min(1.0, float(p.get("documents_done", 0)) / float(total))
