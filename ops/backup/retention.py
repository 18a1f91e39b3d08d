"""Delete backups older than the retention period, never the newest good one.

A pure function of the directory and `now`: a backup's age comes from the time in its
name (`mongo-<UTC time>`), so a copy or a touch does not change what is pruned. Only
what the catalogue lists is considered (regular files), and deleting removes a name,
never what a link points to.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from pathlib import Path

from ops.backup.catalogue import BackupEntry, list_backups
from ops.backup.files import open_regular
from ops.backup.manifest import manifest_path, to_utc

log = logging.getLogger("ops.backup")

HASH_CHUNK_BYTES = 1024 * 1024


def prune(backup_dir: Path, retention_days: int, now: datetime) -> list[str]:
    """Delete archives (and manifests) created more than `retention_days` before `now`.

    A backup exactly `retention_days` old is kept. The newest backup whose status is
    "ok" and whose bytes still match its manifest is kept whatever its age, so a stopped
    schedule never leaves zero good backups.
    Returns the ids removed, newest first.
    """
    if retention_days < 0:
        raise ValueError(f"retention_days must be 0 or more, not {retention_days}")
    cutoff = to_utc(now) - timedelta(days=retention_days)
    entries = list_backups(backup_dir)
    keep = next((e for e in entries if e.good_daily and still_intact(e)), None)
    removed = []
    for entry in entries:
        if entry is keep or entry.created >= cutoff:
            continue
        _delete(entry)
        removed.append(entry.id)
    return removed


def still_intact(entry: BackupEntry) -> bool:
    """The archive's bytes still hash to what its manifest recorded: a file damaged on
    disk since it was written is not trusted as the newest good backup (which would let
    retention delete the older good ones)."""
    if entry.manifest is None:
        return False
    digest = hashlib.sha256()
    try:
        with open_regular(entry.file) as archive:  # never through a link
            while chunk := archive.read(HASH_CHUNK_BYTES):
                digest.update(chunk)
    except OSError as err:
        log.warning("backup %s cannot be read to check it: %s", entry.id, err)
        return False
    if digest.hexdigest() != entry.manifest.sha256:
        log.warning("backup %s no longer matches the sha256 in its manifest: not kept as "
                    "the newest good backup", entry.id)
        return False
    return True


def _delete(entry: BackupEntry) -> None:
    """Archive first: a manifest without its archive is never listed."""
    entry.file.unlink(missing_ok=True)
    manifest_path(entry.file).unlink(missing_ok=True)
    log.info("pruned backup %s (created %s)", entry.id, entry.created.isoformat())
