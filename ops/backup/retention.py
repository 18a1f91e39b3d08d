"""Delete backups older than the retention period, never the newest good one.

A pure function of the directory and `now`: a backup's age comes from the time in its
name (`mongo-<UTC time>`), so a copy or a touch does not change what is pruned.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

from ops.backup.catalogue import BackupEntry, list_backups
from ops.backup.manifest import manifest_path, to_utc

log = logging.getLogger("ops.backup")


def prune(backup_dir: Path, retention_days: int, now: datetime) -> list[str]:
    """Delete archives (and manifests) created more than `retention_days` before `now`.

    A backup exactly `retention_days` old is kept. The newest backup whose status is
    "ok" is kept whatever its age, so a stopped schedule never leaves zero backups.
    Returns the ids removed, newest first.
    """
    if retention_days < 0:
        raise ValueError(f"retention_days must be 0 or more, not {retention_days}")
    cutoff = to_utc(now) - timedelta(days=retention_days)
    entries = list_backups(backup_dir)
    keep = next((e for e in entries if e.ok), None)
    removed = []
    for entry in entries:
        if entry is keep or entry.created >= cutoff:
            continue
        _delete(entry)
        removed.append(entry.id)
    return removed


def _delete(entry: BackupEntry) -> None:
    """Archive first: a manifest without its archive is never listed."""
    entry.file.unlink(missing_ok=True)
    manifest_path(entry.file).unlink(missing_ok=True)
    log.info("pruned backup %s (created %s)", entry.id, entry.created.isoformat())
