"""The alerts table: each alert's life - pending, firing, resolved (or cleared when it
never fired) - with its timestamps."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ops.storage.store import Store

OPEN = ("pending", "firing")
_COLUMNS = ("id, rule, subject, severity, status, pending_ts, firing_ts, resolved_ts, "
            "last_true_ts, last_false_ts, true_count, false_count, value, message")


@dataclass
class Alert:
    id: int
    rule: str
    subject: str
    severity: str
    status: str
    pending_ts: int
    firing_ts: int | None
    resolved_ts: int | None
    last_true_ts: int | None
    last_false_ts: int | None
    true_count: int
    false_count: int
    value: float | None
    message: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def open_alerts(store: Store) -> dict[tuple[str, str], Alert]:
    rows = store.conn.execute(
        f"SELECT {_COLUMNS} FROM alerts WHERE status IN ('pending', 'firing')").fetchall()
    return {(row[1], row[2]): Alert(*row) for row in rows}


def create(store: Store, rule: str, subject: str, severity: str, now_ts: int,
           value: float | None, message: str) -> Alert:
    cursor = store.conn.execute(
        "INSERT INTO alerts (rule, subject, severity, status, pending_ts, last_true_ts, "
        "true_count, value, message) VALUES (?, ?, ?, 'pending', ?, ?, 1, ?, ?)",
        (rule, subject, severity, now_ts, now_ts, value, message))
    return Alert(int(cursor.lastrowid or 0), rule, subject, severity, "pending", now_ts, None,
                 None, now_ts, None, 1, 0, value, message)


def save(store: Store, alert: Alert) -> None:
    store.conn.execute(
        "UPDATE alerts SET status = ?, firing_ts = ?, resolved_ts = ?, last_true_ts = ?, "
        "last_false_ts = ?, true_count = ?, false_count = ?, value = ?, message = ?, "
        "severity = ? WHERE id = ?",
        (alert.status, alert.firing_ts, alert.resolved_ts, alert.last_true_ts,
         alert.last_false_ts, alert.true_count, alert.false_count, alert.value, alert.message,
         alert.severity, alert.id))


def firing(store: Store) -> list[Alert]:
    rows = store.conn.execute(f"SELECT {_COLUMNS} FROM alerts WHERE status = 'firing' "
                              "ORDER BY severity, firing_ts").fetchall()
    return [Alert(*row) for row in rows]


def history(store: Store, limit: int = 200) -> list[Alert]:
    """Alerts that fired (firing or resolved), newest first; cleared ones are left out."""
    rows = store.conn.execute(
        f"SELECT {_COLUMNS} FROM alerts WHERE firing_ts IS NOT NULL "
        "ORDER BY firing_ts DESC LIMIT ?", (limit,)).fetchall()
    return [Alert(*row) for row in rows]
