"""Maintenance windows: for a while, alert messages are kept but not sent.

`ops silence 2h [rule|service]` and the Alerts page add one; a message queued while one
covers its alert (every alert, or those of one rule, or of one service) is recorded in
the outbox as `silenced` with a note naming the window, and never sent. Alerts still
fire and resolve, and are in the history and on the pages, as always.
"""

from __future__ import annotations

import re

from ops import formatting
from ops.alerts.rules import DEFAULT_RULES
from ops.catalogue import WATCHED
from ops.config import Settings
from ops.storage import Store
from ops.storage import silences as table
from ops.storage.silences import Silence

COLLECTOR_RULE = "collector_silent"
_DURATION = re.compile(r"(\d+)\s*(m|min|h|d)")
_UNIT_MS = {"m": 60_000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
MAX_MS = 7 * 86_400_000
# A service's alerts carry its noun as subject (service_down: "cache is down").
ALIASES = {service.name: service.noun.lower() for service in WATCHED}


class SilenceError(ValueError):
    """A duration or target that cannot be used; the message is one line."""


def duration_ms(text: str) -> int:
    """`30m`, `2h`, `1d`, `1h30m`: from 1 minute to 7 days."""
    compact = text.strip().lower().replace(" ", "")
    parts = _DURATION.findall(compact)
    if not parts or "".join(f"{n}{u}" for n, u in parts) != compact:
        raise SilenceError(f"duration {text!r}: expected minutes, hours or days such as "
                           "30m, 2h, 1d or 1h30m")
    total = sum(int(number) * _UNIT_MS[unit] for number, unit in parts)
    if not 60_000 <= total <= MAX_MS:
        raise SilenceError(f"duration {text!r}: from 1m to 7d")
    return total


def targets(settings: Settings) -> list[str]:
    """What a silence can name: a rule, or a service (alert subject)."""
    rules = [rule.name for rule in DEFAULT_RULES] + [COLLECTOR_RULE]
    services = ["host", "backups", "collector"] + [s.name for s in WATCHED] + \
        sorted(ALIASES.values()) + sorted(settings.http_checks or {})
    return list(dict.fromkeys(rules + services))


def target_or_error(settings: Settings, target: str | None) -> str | None:
    if target is None or target.strip() in ("", "all"):
        return None
    name = target.strip().lower()
    known = targets(settings)
    if name not in known:
        raise SilenceError(f"{target!r} is neither a rule nor a service; one of: "
                           f"{', '.join(known)}")
    return name


def covers(silence: Silence, rule: str, subject: str) -> bool:
    if silence.target is None:
        return True
    wanted = silence.target
    return wanted in (rule, subject.lower()) or ALIASES.get(wanted) == subject.lower()


def covering(store: Store, rule: str, subject: str, now_ts: int) -> Silence | None:
    """The silence in force that covers this alert, if any."""
    return next((s for s in table.active(store, now_ts) if covers(s, rule, subject)), None)


def note(silence: Silence) -> str:
    what = "all alerts" if silence.target is None else silence.target
    return (f"not sent: maintenance window {silence.id} ({what}) until "
            f"{formatting.clock(silence.until_ts)}, set by {silence.created_by}")


def silence(store: Store, settings: Settings, duration: str, target: str | None,
            created_by: str, now_ts: int) -> Silence:
    """Start a maintenance window now; raises SilenceError on a bad duration or target."""
    until = now_ts + duration_ms(duration)
    return table.add(store, now_ts, until, target_or_error(settings, target), created_by)


def describe(silence: Silence, now_ts: int) -> str:
    what = "all alerts" if silence.target is None else silence.target
    left = formatting.uptime((silence.until_ts - now_ts) / 1000)
    return (f"{silence.id}: {what} until {formatting.clock(silence.until_ts)} ({left} left), "
            f"set by {silence.created_by}")


active = table.active
end = table.end
