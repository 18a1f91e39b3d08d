"""What a notification says: a title and a plain-text body an admin can act on.

Firing says what, where, since when, the value and the limit, and links to the
dashboard's Alerts page (`OPS_PUBLIC_URL`); resolved says what recovered and after how
long; a repeat says the alert is still firing and for how long; a digest puts every
message due on a channel at once into one (an outage of the whole host is one message,
not ten). One-line headlines:

    FIRING [critical] service down: cache is down: Error 111 connecting to ... (since 03:12:05 UTC)
    RESOLVED service down: cache is up again after 2m 5s (was: cache is down: Error 111 ...)
    STILL FIRING [critical] disk high (host) for 6h 0m: disk 97% used (limit 90%)
    TEST ops-dashboard test message: alerts reach this channel (sent 03:12:05 UTC)

Everything is built from the stored payload (ops.alerts.notify.alert_payload), cleaned of
secrets before it is sent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ops.alerts.wording import ended_text, is_resolution
from ops.formatting import uptime
from ops.redaction import one_line

TITLE_MAX = 150
DIGEST_LINES = 30


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    kind: str  # Apprise's notify type: failure, warning, success, info


def _clock(ts: int, reference_ts: int | None = None) -> str:
    moment = datetime.fromtimestamp(ts / 1000, UTC)
    if reference_ts is not None and \
            datetime.fromtimestamp(reference_ts / 1000, UTC).date() != moment.date():
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return moment.strftime("%H:%M:%S UTC")


def _full_clock(ts: int | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return str(round(value, 3))
    return str(value)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _event(payload: Mapping[str, Any]) -> str:
    event = str(payload.get("event") or "")
    return "repeat" if event.startswith("repeat-") else event


def title(payload: Mapping[str, Any]) -> str:
    """`cache down`, or `disk full (host)` when the subject is not in the rule's name."""
    rule = one_line(payload.get("rule") or "alert").replace("_", " ")
    subject = one_line(payload.get("subject") or "")
    if subject and subject.lower() not in rule.lower():
        return f"{rule} ({subject})"
    return rule


def message_text(payload: Mapping[str, Any]) -> str:
    """The message as told, on one line: for a resolution, what recovered and after how
    long; a resolved message queued by an older version (its firing text) says so."""
    message = one_line(payload.get("message") or "")
    if payload.get("event") != "resolved" or is_resolution(message):
        return message
    return ended_text(lasted_s(payload), message or None)


def _short_title(payload: Mapping[str, Any]) -> str:
    """The title, leaving the subject out when the message already names it."""
    rule = one_line(payload.get("rule") or "alert").replace("_", " ")
    subject = one_line(payload.get("subject") or "")
    if subject and subject.lower() in message_text(payload).lower():
        return rule
    return title(payload)


def started_ts(payload: Mapping[str, Any]) -> int | None:
    """When the condition began: the alert's pending time, else its firing time."""
    for key in ("pending_ts", "firing_ts"):
        if payload.get(key) is not None:
            return int(payload[key])
    return None


def lasted_s(payload: Mapping[str, Any]) -> float | None:
    start = started_ts(payload)
    end = payload.get("resolved_ts") if payload.get("event") == "resolved" \
        else payload.get("ts")
    if start is None or end is None:
        return None
    return max(0, int(end) - start) / 1000


def headline(payload: Mapping[str, Any]) -> str:
    """The one-line text of a message (see the module's docstring)."""
    event = _event(payload)
    if event == "test":
        said = one_line(payload.get("message") or "test message")
        return f"TEST {said} (sent {_clock(int(payload.get('ts') or 0))})"
    if event == "resolved":
        return f"RESOLVED {_short_title(payload)}: {message_text(payload)}"
    severity = one_line(payload.get("severity") or "")
    lead = "STILL FIRING " if event == "repeat" else "FIRING "
    text = lead + (f"[{severity}] " if severity else "") + _short_title(payload)
    lasted = lasted_s(payload)
    if event == "repeat" and lasted is not None:
        text += f" for {uptime(lasted)}"
    message = message_text(payload)
    if message:
        text += f": {message}"
    start = started_ts(payload)
    if start is not None and event != "repeat":
        text += f" (since {_clock(start, payload.get('ts'))})"
    return text


def details(payload: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Name and value of each detail worth showing, in order."""
    if _event(payload) == "test":
        return [("Sent", _full_clock(payload.get("ts")))]
    rows = [("What", title(payload)),
            ("Where", str(payload.get("subject") or "-")),
            ("Severity", str(payload.get("severity") or "-")),
            ("Since", _full_clock(started_ts(payload))),
            ("Value", number(payload.get("value")))]
    if payload.get("limit") is not None:
        rows.append(("Limit", number(payload.get("limit"))))
    if _event(payload) == "resolved":
        rows.append(("Resolved", _full_clock(payload.get("resolved_ts"))))
    lasted = lasted_s(payload)
    if lasted is not None and _event(payload) != "firing":
        rows.append(("Lasted" if _event(payload) == "resolved" else "Firing for",
                     uptime(lasted)))
    return rows


def link(public_url: str | None) -> str | None:
    """The Alerts page of the dashboard, when its public address is known."""
    return f"{public_url.rstrip('/')}/alerts" if public_url else None


KINDS = {"firing": "failure", "repeat": "failure", "resolved": "success", "test": "info"}


def single(payload: Mapping[str, Any], public_url: str | None = None) -> Message:
    """One message about one alert event (or a test): the headline as its title (the
    subject of an e-mail), what happened and the details in its body."""
    text = headline(payload)
    said = message_text(payload) if _event(payload) != "test" else text.removeprefix("TEST ")
    width = max(len(name) for name, _ in details(payload)) + 2
    lines = [said, ""] + [f"{name + ':':<{width}}{value}" for name, value in details(payload)]
    if link(public_url) and _event(payload) != "test":
        lines += ["", f"Open: {link(public_url)}"]
    kind = KINDS.get(_event(payload), "info")
    if kind == "failure" and payload.get("severity") == "warning":
        kind = "warning"
    return Message(_clip(text, TITLE_MAX), "\n".join(lines), kind)


def digest(payloads: Sequence[Mapping[str, Any]], public_url: str | None = None) -> Message:
    """One message for many: a count by event in the title, a headline per alert."""
    counted = Counter(_event(p) for p in payloads)
    said = ", ".join(f"{count} {'still firing' if event == 'repeat' else event}"
                     for event, count in sorted(counted.items()))
    heading = f"{len(payloads)} alert messages: {said}"
    lines = [heading, ""] + [f"- {headline(p)}" for p in payloads[:DIGEST_LINES]]
    if len(payloads) > DIGEST_LINES:
        lines.append(f"- ... and {len(payloads) - DIGEST_LINES} more (see the Alerts page)")
    if link(public_url):
        lines += ["", f"Open: {link(public_url)}"]
    kind = "failure" if counted.keys() & {"firing", "repeat"} else "success"
    return Message(_clip(heading, TITLE_MAX), "\n".join(lines), kind)
