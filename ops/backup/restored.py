"""Databases this tool restored into as copies: left out of the default backup set.

A restore into a new name (alaweal_db -> alaweal_db_restored) copies data the backups
already hold, and backing the copy up again silently doubled the next backup. So with
BACKUP_DATABASES unset a backup takes every database but admin, local, config and the
copies remembered here. A restore into the backed-up database's own name (a recovery)
or over a database that held collections (replaced with drop) is not a copy and is never
remembered. The list lives in the store, shared by the collector, the commands and the
page; listing a copy in BACKUP_DATABASES, or `forget` (the page's button), backs it up.

The scratch databases of restore drills (drill.py, named `ops_drill_<n>`) are never
backed up either: a drill drops its own, but one killed half-way leaves one behind until
the next drill.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ops.storage import Store

STATE_KEY = "restored_databases"
EVENT_SOURCE = "backup"
SCRATCH_PREFIX = "ops_drill_"


@dataclass(frozen=True)
class RestoredCopy:
    name: str
    from_db: str
    backup: str
    ts: int


def is_copy(from_db: str, to_db: str, replaced: list[str]) -> bool:
    """A restore made a copy when it wrote a new name into a database that held nothing."""
    return from_db != to_db and not replaced


def is_scratch(name: str) -> bool:
    """A restore drill's scratch database: this tool's own, dropped after each drill."""
    return name.startswith(SCRATCH_PREFIX)


def restored_copies(store: Store) -> list[RestoredCopy]:
    """Every remembered copy, by name."""
    saved: dict[str, dict[str, Any]] = store.state(STATE_KEY, {}) or {}
    return [RestoredCopy(name, str(v.get("from_db", "")), str(v.get("backup", "")),
                         int(v.get("ts", 0))) for name, v in sorted(saved.items())]


def left_out(store: Store, backup_databases: list[str] | None) -> list[str]:
    """The databases a default backup leaves out besides MongoDB's own: none when
    BACKUP_DATABASES names the databases itself."""
    if backup_databases is not None:
        return []
    return [copy.name for copy in restored_copies(store)]


def remember(store: Store, copy: RestoredCopy) -> None:
    """Record `copy` (before the restore writes, so a half-done copy is left out too)."""
    with store.transaction():
        saved = dict(store.state(STATE_KEY, {}) or {})
        saved[copy.name] = {"from_db": copy.from_db, "backup": copy.backup, "ts": copy.ts}
        store.set_state(STATE_KEY, saved)
        store.record_event(copy.ts, EVENT_SOURCE, "restored_copy_left_out",
                           f"{copy.name} is a restored copy of {copy.from_db} ({copy.backup}): "
                           "left out of the default backups")


def forget(store: Store, name: str, ts: int) -> None:
    """Back `name` up again with the others."""
    with store.transaction():
        saved = dict(store.state(STATE_KEY, {}) or {})
        if saved.pop(name, None) is None:
            return
        store.set_state(STATE_KEY, saved)
        store.record_event(ts, EVENT_SOURCE, "restored_copy_included",
                           f"{name} is backed up again with the other databases")
