"""What this host knows of its copies: per target and backup, the last attempt's outcome.

Kept in the store's state (one JSON value), written only by the collector's job thread,
read by the pages, the commands, /metrics and the alerts. A record says `good` only once
the copy's bytes were read back from the target and matched, and its manifest (written
last) is there too; `copying` while it runs (a collector killed meanwhile leaves it, and the
next start marks it failed and due at once); `failed` with the one-line error, the
number of attempts and when the next one is due (backoff).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from ops.storage import Store

STATE_KEY = "backup_copies"
GOOD, FAILED, COPYING = "good", "failed", "copying"
# Minutes to wait after the 1st, 2nd, ... failed attempt; the last repeats.
BACKOFF_MINUTES = (1, 5, 15, 60, 180, 360)


@dataclass(frozen=True)
class CopyRecord:
    target: str  # the target as shown (targets.shown): no secret
    backup: str
    status: str
    ts: int  # when this status was reached (ms)
    name: str = ""  # the archive's name at the target (.age when encrypted)
    size: int = 0  # bytes stored
    sha256: str = ""  # of the bytes stored (the ciphertext when encrypted)
    encrypted: bool = False
    error: str | None = None
    attempts: int = 0  # failed attempts in a row
    retry_ts: int | None = None
    checked_ts: int | None = None  # when the stored bytes were last read back and matched

    @property
    def good(self) -> bool:
        return self.status == GOOD


def all_records(store: Store) -> list[CopyRecord]:
    saved: dict[str, dict[str, dict[str, Any]]] = store.state(STATE_KEY, {}) or {}
    return [CopyRecord(**fields) for by_backup in saved.values()
            for fields in by_backup.values()]


def records_of(store: Store, backup: str) -> list[CopyRecord]:
    return [r for r in all_records(store) if r.backup == backup]


def record_of(store: Store, target: str, backup: str) -> CopyRecord | None:
    return next((r for r in all_records(store) if r.target == target and r.backup == backup),
                None)


def save(store: Store, record: CopyRecord) -> None:
    with store.transaction():
        saved = dict(store.state(STATE_KEY, {}) or {})
        by_backup = dict(saved.get(record.target, {}))
        by_backup[record.backup] = asdict(record)
        saved[record.target] = by_backup
        store.set_state(STATE_KEY, saved)


def forget(store: Store, target: str, backup: str) -> None:
    """The copy is gone from the target (pruned)."""
    with store.transaction():
        saved = dict(store.state(STATE_KEY, {}) or {})
        by_backup = dict(saved.get(target, {}))
        if by_backup.pop(backup, None) is not None:
            saved[target] = by_backup
            store.set_state(STATE_KEY, saved)


def failed(previous: CopyRecord | None, target: str, backup: str, error: str,
           now_ms: int) -> CopyRecord:
    """The record after a failed attempt, with the next attempt's time (backoff)."""
    attempts = (previous.attempts if previous and previous.status != GOOD else 0) + 1
    wait = BACKOFF_MINUTES[min(attempts, len(BACKOFF_MINUTES)) - 1]
    base = previous or CopyRecord(target, backup, FAILED, now_ms)
    return replace(base, status=FAILED, ts=now_ms, error=error, attempts=attempts,
                   retry_ts=now_ms + wait * 60_000)


def interrupted(store: Store, now_ms: int) -> list[CopyRecord]:
    """At start: copies left `copying` by a stopped collector become failed (retried)."""
    stuck = [r for r in all_records(store) if r.status == COPYING]
    for record in stuck:  # not the target's fault: tried again at once, no backoff
        save(store, replace(failed(record, record.target, record.backup,
                                   "interrupted: the collector stopped during the copy",
                                   now_ms), retry_ts=now_ms))
    return stuck


def last_success_ms(store: Store) -> dict[str, int]:
    """Per target, when a copy last became good (for /metrics)."""
    newest: dict[str, int] = {}
    for record in all_records(store):
        if record.good:
            newest[record.target] = max(newest.get(record.target, 0), record.ts)
    return newest
