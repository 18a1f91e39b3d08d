"""The alerts table: each alert's life - pending, firing, resolved (or cleared when it
never fired) - with its timestamps."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ops.redaction import clean
from ops.storage.rows import columns, from_row
from ops.storage.store import Store

OPEN = ("pending", "firing")


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


_COLUMNS = columns(Alert)


def _select(store: Store, where: str, params: tuple[Any, ...] = ()) -> list[Alert]:
    return [from_row(Alert, row)
            for row in store._rows(f"SELECT {_COLUMNS} FROM alerts {where}", params)]


def open_alerts(store: Store) -> dict[tuple[str, str], Alert]:
    found = _select(store, "WHERE status IN ('pending', 'firing')")
    return {(alert.rule, alert.subject): alert for alert in found}


def create(store: Store, rule: str, subject: str, severity: str, now_ts: int,
           value: float | None, message: str) -> Alert:
    message = clean(message)
    cursor = store._execute(
        "INSERT INTO alerts (rule, subject, severity, status, pending_ts, last_true_ts, "
        "true_count, value, message) VALUES (?, ?, ?, 'pending', ?, ?, 1, ?, ?)",
        (rule, subject, severity, now_ts, now_ts, value, message))
    return Alert(id=int(cursor.lastrowid or 0), rule=rule, subject=subject, severity=severity,
                 status="pending", pending_ts=now_ts, firing_ts=None, resolved_ts=None,
                 last_true_ts=now_ts, last_false_ts=None, true_count=1, false_count=0,
                 value=value, message=message)


def save(store: Store, alert: Alert) -> None:
    store._execute(
        "UPDATE alerts SET status = :status, firing_ts = :firing_ts, "
        "resolved_ts = :resolved_ts, last_true_ts = :last_true_ts, "
        "last_false_ts = :last_false_ts, true_count = :true_count, "
        "false_count = :false_count, value = :value, message = :message, "
        "severity = :severity WHERE id = :id",
        {**asdict(alert), "message": None if alert.message is None else clean(alert.message)})


def firing(store: Store) -> list[Alert]:
    return _select(store, "WHERE status = 'firing' ORDER BY severity, firing_ts")


def history(store: Store, limit: int = 200) -> list[Alert]:
    """Alerts that fired (firing or resolved), newest first; cleared ones are left out."""
    return _select(store, "WHERE firing_ts IS NOT NULL ORDER BY firing_ts DESC LIMIT ?",
                   (limit,))


def every(store: Store) -> list[Alert]:
    """Every alert, oldest first, cleared ones included: for checks and audits."""
    return _select(store, "ORDER BY id")
