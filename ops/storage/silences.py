"""The silences table: maintenance windows during which no alert message is sent.

A silence covers every alert (`target` NULL) or those of one rule or one service
(subject), from `created_ts` until `until_ts`, or until it is ended early (`ended_ts`).
Times are integer milliseconds since the epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ops.storage.rows import columns, from_row
from ops.storage.store import Store


@dataclass(frozen=True)
class Silence:
    id: int
    created_ts: int
    until_ts: int
    target: str | None  # a rule or a service; None: everything
    created_by: str
    ended_ts: int | None


_COLUMNS = columns(Silence)


def _select(store: Store, where: str, params: tuple[Any, ...] = ()) -> list[Silence]:
    return [from_row(Silence, row)
            for row in store._rows(f"SELECT {_COLUMNS} FROM silences {where}", params)]


def add(store: Store, now_ts: int, until_ts: int, target: str | None,
        created_by: str) -> Silence:
    cursor = store._execute(
        "INSERT INTO silences (created_ts, until_ts, target, created_by) VALUES (?, ?, ?, ?)",
        (now_ts, until_ts, target, created_by))
    return Silence(int(cursor.lastrowid or 0), now_ts, until_ts, target, created_by, None)


def active(store: Store, now_ts: int) -> list[Silence]:
    """The silences in force at `now_ts`, the one ending last first."""
    return _select(store, "WHERE created_ts <= ? AND until_ts > ? AND ended_ts IS NULL "
                   "ORDER BY until_ts DESC", (now_ts, now_ts))


def end(store: Store, silence_id: int | None, now_ts: int) -> int:
    """End one silence (or all in force, `silence_id` None) now; how many were ended."""
    cursor = store._execute(
        "UPDATE silences SET ended_ts = ? WHERE ended_ts IS NULL AND until_ts > ? "
        "AND (? IS NULL OR id = ?)", (now_ts, now_ts, silence_id, silence_id))
    return int(cursor.rowcount)
