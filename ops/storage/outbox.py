"""The notification outbox: one row per message to send, kept until it is sent or given up.

Rows live in the `notifications` table (migration m005). The collector's alert rules
enqueue a row per alert, event and channel; the notifier thread sends what is due and
records the outcome. A UNIQUE index on (alert_id, event, channel) means an alert's firing
or resolution can be queued only once per channel, however often it is announced; test
messages (alert_id NULL) are outside that index and may be queued any number of times.

Statuses: `pending` (waiting for its next attempt at `next_attempt_ts`), `sent`, `failed`
(given up), `silenced` (kept, never sent: queued during a maintenance window; `note` says
which). Channels are named by ops.alerts.channels (`webhook`, `email`, or a URL's scheme and
a short hash). Times are integer milliseconds since the epoch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ops.redaction import clean, clean_json
from ops.storage.rows import columns, from_row, json_or_empty
from ops.storage.store import Store

EVENTS = ("firing", "resolved", "test")
_REPEAT = re.compile(r"repeat-[1-9]\d{0,5}")  # a still-firing alert told again: repeat-1, ...
_CHANNEL = re.compile(r"[a-z][a-z0-9_-]{0,40}")


@dataclass(frozen=True)
class Notification:
    id: int
    alert_id: int | None
    event: str  # firing, resolved, test
    channel: str  # webhook, email, ntfy-1a2b3c4d, ...
    created_ts: int
    status: str  # pending, sent, failed, silenced
    attempts: int
    next_attempt_ts: int
    sent_ts: int | None
    last_error: str | None
    payload: dict[str, Any]
    note: str | None = None


_COLUMNS = columns(Notification)


def _select(store: Store, where: str, params: tuple[Any, ...] = ()) -> list[Notification]:
    rows = store._rows(f"SELECT {_COLUMNS} FROM notifications AS n {where}", params)
    return [from_row(Notification, row, {"payload": json_or_empty}) for row in rows]


def enqueue(store: Store, alert_id: int | None, event: str, channel: str,
            payload: dict[str, Any], now_ts: int, due_ts: int | None = None,
            silenced: str | None = None) -> bool:
    """Queue one message (due at `due_ts`, default now). False when this alert already has
    a row for this event and channel (the unique index ignores the insert): a message is
    never queued twice."""
    return add(store, alert_id, event, channel, payload, now_ts, due_ts,
               silenced) is not None


def add(store: Store, alert_id: int | None, event: str, channel: str,
        payload: dict[str, Any], now_ts: int, due_ts: int | None = None,
        silenced: str | None = None) -> int | None:
    """`enqueue`, returning the new row's id (None when it was already queued), so the
    one who queued it can follow what becomes of it. `due_ts` (default now) is its first
    attempt; `silenced` keeps it unsent with that note (a maintenance window)."""
    if event not in EVENTS and not _REPEAT.fullmatch(event):
        raise ValueError(f"not a notification event: {event!r}")
    if not _CHANNEL.fullmatch(channel):
        raise ValueError(f"not a notification channel: {channel!r}")
    cursor = store._execute(
        "INSERT OR IGNORE INTO notifications (alert_id, event, channel, created_ts, status, "
        "attempts, next_attempt_ts, payload, note) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?)",
        (alert_id, event, channel, now_ts, "silenced" if silenced else "pending",
         now_ts if due_ts is None else due_ts, clean_json(payload),
         None if silenced is None else clean(silenced)))
    return int(cursor.lastrowid) if cursor.rowcount == 1 and cursor.lastrowid else None


def due(store: Store, now_ts: int, limit: int = 20) -> list[Notification]:
    """Pending messages whose next attempt is due, in the order they were queued.

    An alert's `resolved` message waits while its `firing` message on the same channel is
    pending and not due (backing off, or being sent): when both are due the firing one
    comes first, so a receiver never hears of the end before the start.
    """
    return _select(
        store, "WHERE status = 'pending' AND next_attempt_ts <= ? AND NOT (event = 'resolved' "
        "AND EXISTS (SELECT 1 FROM notifications AS f WHERE f.alert_id = n.alert_id "
        "AND f.channel = n.channel AND f.event = 'firing' AND f.status = 'pending' "
        "AND f.next_attempt_ts > ?)) ORDER BY id LIMIT ?", (now_ts, now_ts, limit))


def claim(store: Store, notification_id: int, now_ts: int, lease_ms: int) -> bool:
    """Take a due message for one attempt: its next attempt moves `lease_ms` ahead, so a
    second sender polling the same file skips it. False when it is no longer due (sent,
    given up, or taken by another sender). A sender that dies mid-attempt leaves the
    message to be tried again when the lease ends."""
    cursor = store._execute(
        "UPDATE notifications SET next_attempt_ts = ? "
        "WHERE id = ? AND status = 'pending' AND next_attempt_ts <= ?",
        (now_ts + lease_ms, notification_id, now_ts))
    return cursor.rowcount == 1


def release(store: Store, ids: list[int], due_ts: int) -> None:
    """Give claimed rows back, untried, due at `due_ts`."""
    for notification_id in ids:
        store._execute("UPDATE notifications SET next_attempt_ts = ? "
                       "WHERE id = ? AND status = 'pending'", (due_ts, notification_id))


def mark_sent(store: Store, notification_id: int, attempts: int, sent_ts: int) -> None:
    store._execute(
        "UPDATE notifications SET status = 'sent', attempts = ?, sent_ts = ?, "
        "next_attempt_ts = ? WHERE id = ?", (attempts, sent_ts, sent_ts, notification_id))


def mark_retry(store: Store, notification_id: int, attempts: int, next_attempt_ts: int,
               error: str) -> None:
    store._execute(
        "UPDATE notifications SET status = 'pending', attempts = ?, next_attempt_ts = ?, "
        "last_error = ? WHERE id = ?", (attempts, next_attempt_ts, clean(error), notification_id))


def mark_failed(store: Store, notification_id: int, error: str,
                attempts: int | None = None) -> None:
    """Give up on a message; `attempts`, when given, records the attempt that just failed."""
    store._execute(
        "UPDATE notifications SET status = 'failed', last_error = ?, "
        "attempts = coalesce(?, attempts) WHERE id = ?", (clean(error), attempts, notification_id))


def get(store: Store, notification_id: int) -> Notification | None:
    found = _select(store, "WHERE id = ?", (notification_id,))
    return found[0] if found else None


def with_ids(store: Store, ids: list[int]) -> list[Notification]:
    """These messages as they are now, in id order (ids no longer there are left out)."""
    marks = ", ".join("?" for _ in ids) or "NULL"
    return _select(store, f"WHERE id IN ({marks}) ORDER BY id", tuple(ids))


def for_alert(store: Store, alert_id: int) -> list[Notification]:
    """Every message about one alert, oldest first."""
    return _select(store, "WHERE alert_id = ? ORDER BY id", (alert_id,))


def recent(store: Store, limit: int = 50) -> list[Notification]:
    """The newest messages first, for the dashboard."""
    return _select(store, "ORDER BY id DESC LIMIT ?", (limit,))


def counts(store: Store) -> dict[str, int]:
    """How many messages are pending, sent, failed and silenced."""
    found = {"pending": 0, "sent": 0, "failed": 0, "silenced": 0}
    for status, count in store._execute(
            "SELECT status, count(*) FROM notifications GROUP BY status").fetchall():
        found[status] = int(count)
    return found
