"""Copies seen from this host: what every target holds, and fetching one back when the
local file is gone (a rebuilt host), for `ops restore`, `ops backups --remote` and the page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ops.config import Settings
from ops.copies.copier import RemoteBackup, fetch, remote_backups
from ops.copies.targets import CopyError, open_target, shown


@dataclass
class TargetListing:
    target: str
    backups: list[RemoteBackup] = field(default_factory=list)
    error: str | None = None


def listings(settings: Settings) -> list[TargetListing]:
    """What each target holds, newest first; a target that cannot be read says why."""
    found = []
    for url in settings.backup_copy_urls or []:
        try:
            target = open_target(url, settings)
            try:
                found.append(TargetListing(target.shown, remote_backups(target)))
            finally:
                target.close()
        except CopyError as exc:
            found.append(TargetListing(shown(url), error=str(exc)))
    return found


def fetch_from_targets(settings: Settings, ident: str) -> Path:
    """Fetch copy `ident` into BACKUP_DIR from the first target holding a complete one."""
    if not settings.backup_copy_urls:
        raise CopyError(f"{ident} is not in {settings.backup_dir}, and no BACKUP_COPY_URLS "
                        "are set to fetch it from")
    problems = []
    for url in settings.backup_copy_urls:
        try:
            target = open_target(url, settings)
            try:
                if any(b.id == ident and b.complete for b in remote_backups(target)):
                    return fetch(target, ident, settings.backup_dir,
                                 settings.backup_copy_identity_file)
                problems.append(f"{target.shown}: no complete copy")
            finally:
                target.close()
        except CopyError as exc:
            problems.append(str(exc))
    raise CopyError(f"{ident} could not be fetched: {'; '.join(problems)}")
