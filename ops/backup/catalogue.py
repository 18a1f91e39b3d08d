"""What backups exist: the archives on disk, each with what its manifest says.

The directory is the truth: a file copied in by hand is listed (as "no manifest" when it
came alone), a deleted one disappears, a `.partial` is never listed and a manifest whose
archive is gone is ignored. Listing never opens an archive, so it stays fast.

Only regular files are backups: a symbolic link, a directory or a special file named like
one is not listed (lstat, never followed), so nothing above - retention, verify, restore,
downloads - ever sees it; a manifest that is a link is not read ("unreadable manifest").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ops.backup.archive import open_archive
from ops.backup.errors import ArchiveError, NotFoundError
from ops.backup.files import regular_stat
from ops.backup.manifest import (
    ARCHIVE_SUFFIX,
    MANIFEST_SUFFIX,
    PARTIAL_SUFFIX,
    PREFIX,
    Manifest,
    backup_id,
    manifest_path,
    read_manifest,
    time_of_id,
)

STATUS_NO_MANIFEST = "no manifest"
STATUS_BAD_MANIFEST = "unreadable manifest"
STATUS_SIZE_MISMATCH = "size differs from manifest"


@dataclass(frozen=True)
class BackupEntry:
    id: str
    file: Path
    created: datetime
    size_bytes: int
    status: str
    duration_s: float | None
    collections: int | None
    documents: int | None
    verified: bool
    verified_at: datetime | None
    manifest: Manifest | None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def safety(self) -> bool:
        """Taken just before a restore dropped a database: that one database, not the
        daily set (its manifest says why)."""
        return self.manifest is not None and bool(self.manifest.reason)

    @property
    def good_daily(self) -> bool:
        """A good backup of the daily set: what "the last backup" means to the schedule's
        catch-up, the backup alerts, /metrics, the Overview and retention."""
        return self.ok and not self.safety

    @property
    def databases(self) -> list[str] | None:
        """The databases the manifest says the backup holds, in dump order; None without
        a manifest (`databases_in` reads the archive then)."""
        if self.manifest is None:
            return None
        named = self.manifest.databases or [c.db for c in self.manifest.collections]
        return list(dict.fromkeys(named))

    @property
    def created_ms(self) -> int:
        return int(self.created.timestamp() * 1000)


def list_backups(backup_dir: Path) -> list[BackupEntry]:
    """Every regular file `mongo-*.archive.gz` in `backup_dir`, newest first."""
    backup_dir = Path(backup_dir)
    if not backup_dir.is_dir():
        return []
    entries = []
    for path in backup_dir.glob(f"{PREFIX}*{ARCHIVE_SUFFIX}"):
        entry = _entry_or_none(path)
        if entry is not None:
            entries.append(entry)
    return sorted(entries, key=lambda e: (e.created, e.id), reverse=True)


def _entry_or_none(path: Path) -> BackupEntry | None:
    try:
        return entry_for(path)
    except NotFoundError:  # not a regular file, or deleted since the listing
        return None


def entry_for(path: Path) -> BackupEntry:
    """The catalogue entry of one archive file, wherever it is; NotFoundError when it is
    not a regular file (a link is never followed)."""
    info = regular_stat(path)
    if info is None:
        raise NotFoundError(f"{path} is not a backup file: missing, or not a regular file "
                            "(a symbolic link is never followed)")
    size = info.st_size
    mtime = datetime.fromtimestamp(info.st_mtime, UTC)
    manifest, status = _manifest_of(path, size)
    ident = backup_id(path)
    created = time_of_id(ident) or (manifest.started if manifest else None) or mtime
    return BackupEntry(
        id=ident, file=path, created=created, size_bytes=size, status=status,
        duration_s=manifest.duration_s if manifest else None,
        collections=len(manifest.collections) if manifest else None,
        documents=manifest.documents_total if manifest else None,
        verified=bool(manifest and manifest.verified),
        verified_at=manifest.verified_at if manifest else None, manifest=manifest)


def _manifest_of(path: Path, size: int) -> tuple[Manifest | None, str]:
    meta = manifest_path(path)
    if not os.path.lexists(meta):
        return None, STATUS_NO_MANIFEST
    try:
        manifest = read_manifest(meta)
    except (OSError, ValueError, TypeError, KeyError):
        return None, STATUS_BAD_MANIFEST
    if manifest.size_bytes != size:
        return manifest, STATUS_SIZE_MISMATCH
    return manifest, manifest.status


def databases_in(entry: BackupEntry) -> list[str]:
    """The databases of one backup: its manifest's, or for an archive without one (a real
    mongodump's) those its prelude names - read only for this entry, as the Restore form
    needs them. Empty when the archive cannot be read (verify says why)."""
    if entry.databases is not None:
        return entry.databases
    try:
        with open_archive(entry.file) as reader:
            return reader.prelude.databases
    except (ArchiveError, OSError, ValueError):  # damaged, gone, not an archive
        return []


def find(backup_dir: Path, id_or_file: str | Path) -> BackupEntry:
    """A backup by id (`mongo-20261127T030000Z`), file name, or path to an archive file."""
    given = Path(id_or_file)
    if os.path.lexists(given) and (given.is_absolute() or len(given.parts) > 1):
        return entry_for(given)
    wanted = backup_id(given.name)
    for entry in list_backups(backup_dir):
        if entry.id == wanted:
            return entry
    raise NotFoundError(f"no backup {str(id_or_file)!r} in {backup_dir}")


def remove_partials(backup_dir: Path) -> list[Path]:
    """Delete leftovers of interrupted dumps (partial archives, temporary manifests, a
    manifest whose archive never got its name); call only while no dump is running."""
    backup_dir = Path(backup_dir)
    if not backup_dir.is_dir():
        return []
    orphans = [m for m in backup_dir.glob(f"{PREFIX}*{ARCHIVE_SUFFIX}{MANIFEST_SUFFIX}")
               if not os.path.lexists(m.with_name(m.name.removesuffix(MANIFEST_SUFFIX)))]
    leftovers = [*backup_dir.glob(f"{PREFIX}*{ARCHIVE_SUFFIX}{PARTIAL_SUFFIX}"),
                 *backup_dir.glob(".manifest-*.tmp"),
                 *orphans]  # a manifest written just before a kill stopped the rename
    removed = []
    for path in sorted(leftovers):
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed
