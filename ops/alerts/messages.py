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
secrets before it is sent, in the language the caller speaks (OPS_LANGUAGE, see
ops.alerts.notify): an alert's stored English message is told again in it
(ops.alerts.shown), with figures, names and errors as left-to-right islands.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ops.alerts import shown
from ops.alerts.wording import ended_text, is_resolution
from ops.formatting import figure, uptime
from ops.i18n import N_, _, ltr, ngettext
from ops.redaction import one_line

TITLE_MAX = 150
DIGEST_LINES = 30
TEST_TEXT = N_("ops-dashboard test message: alerts reach this channel")
# How a digest's title counts each event.
COUNTED = {"firing": N_("{count} firing"), "resolved": N_("{count} resolved"),
           "repeat": N_("{count} still firing")}


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


def _rule(payload: Mapping[str, Any]) -> str:
    """The rule's name as told (`service down`)."""
    rule = payload.get("rule")
    if isinstance(rule, str) and rule in shown.RULE_NAMES:
        return shown.rule_name(rule)
    return ltr(one_line(rule or _("alert")).replace("_", " "))


def title(payload: Mapping[str, Any]) -> str:
    """`cache down`, or `disk full (host)` when the subject is not in the rule's name."""
    rule = one_line(payload.get("rule") or "alert").replace("_", " ")
    subject = one_line(payload.get("subject") or "")
    if subject and subject.lower() not in rule.lower():
        return _("{rule} ({subject})").format(rule=_rule(payload),
                                              subject=shown.subject(subject))
    return _rule(payload)


def _english_text(payload: Mapping[str, Any]) -> str:
    """The message on one line as stored (English), or the resolution's wording."""
    message = one_line(payload.get("message") or "")
    if payload.get("event") != "resolved" or is_resolution(message):
        return message
    return ended_text(lasted_s(payload), message or None)


def message_text(payload: Mapping[str, Any]) -> str:
    """The message as told, on one line: for a resolution, what recovered and after how
    long; a resolved message queued by an older version (its firing text) says so."""
    return shown.message_text(_english_text(payload))


def _short_title(payload: Mapping[str, Any]) -> str:
    """The title, leaving the subject out when the message already names it."""
    subject = one_line(payload.get("subject") or "")
    if subject and subject.lower() in shown.bare(_english_text(payload)).lower():
        return _rule(payload)
    return title(payload)


def _test_text(payload: Mapping[str, Any]) -> str:
    """A test message and when it was sent."""
    said = one_line(payload.get("message") or "test message")
    told = _(TEST_TEXT) if said == TEST_TEXT else ltr(said)
    return _("{message} (sent {time})").format(
        message=told, time=ltr(_clock(int(payload.get("ts") or 0))))


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
        return _("TEST") + " " + _test_text(payload)
    if event == "resolved":
        return _("RESOLVED {title}: {message}").format(title=_short_title(payload),
                                                       message=message_text(payload))
    severity = one_line(payload.get("severity") or "")
    lead = _("STILL FIRING") if event == "repeat" else _("FIRING")
    text = lead + " " + (f"[{shown.severity(severity)}] " if severity else "") \
        + _short_title(payload)
    lasted = lasted_s(payload)
    if event == "repeat" and lasted is not None:
        text += " " + _("for {duration}").format(duration=uptime(lasted))
    message = message_text(payload)
    if message:
        text += f": {message}"
    start = started_ts(payload)
    if start is not None and event != "repeat":
        text += " " + _("(since {time})").format(time=ltr(_clock(start, payload.get("ts"))))
    return text


def details(payload: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Name and value of each detail worth showing, in order."""
    if _event(payload) == "test":
        return [(_("Sent"), ltr(_full_clock(payload.get("ts"))))]
    rows = [(_("What"), title(payload)),
            (_("Where"), shown.subject(str(payload.get("subject") or "-"))),
            (_("Severity"), shown.severity(str(payload.get("severity") or "-"))),
            (_("Since"), ltr(_full_clock(started_ts(payload)))),
            (_("Value"), figure(number(payload.get("value"))))]
    if payload.get("limit") is not None:
        rows.append((_("Limit"), figure(number(payload.get("limit")))))
    if _event(payload) == "resolved":
        rows.append((_("Resolved"), ltr(_full_clock(payload.get("resolved_ts")))))
    lasted = lasted_s(payload)
    if lasted is not None and _event(payload) != "firing":
        rows.append((_("Lasted") if _event(payload) == "resolved" else _("Firing for"),
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
    said = message_text(payload) if _event(payload) != "test" else _test_text(payload)
    rows = details(payload)
    width = max(len(name) for name, _value in rows) + 2
    lines = [said, ""] + [f"{name + ':':<{width}}{value}" for name, value in rows]
    if link(public_url) and _event(payload) != "test":
        lines += ["", _("Open: {link}").format(link=ltr(link(public_url)))]
    kind = KINDS.get(_event(payload), "info")
    if kind == "failure" and payload.get("severity") == "warning":
        kind = "warning"
    return Message(_clip(text, TITLE_MAX), "\n".join(lines), kind)


def _counted(event: str, count: int) -> str:
    """`2 firing`, `1 still firing`: how many messages of one event a digest holds."""
    if event in COUNTED:
        return _(COUNTED[event]).format(count=figure(str(count)))
    return f"{figure(str(count))} {ltr(event)}"


def digest(payloads: Sequence[Mapping[str, Any]], public_url: str | None = None) -> Message:
    """One message for many: a count by event in the title, a headline per alert."""
    counted = Counter(_event(p) for p in payloads)
    said = ", ".join(_counted(event, count) for event, count in sorted(counted.items()))
    heading = ngettext("{count} alert message: {events}", "{count} alert messages: {events}",
                       len(payloads)).format(count=figure(str(len(payloads))), events=said)
    lines = [heading, ""] + [f"- {headline(p)}" for p in payloads[:DIGEST_LINES]]
    if len(payloads) > DIGEST_LINES:
        more = len(payloads) - DIGEST_LINES
        lines.append("- " + ngettext("... and {count} more (see the Alerts page)",
                                     "... and {count} more (see the Alerts page)",
                                     more).format(count=figure(str(more))))
    if link(public_url):
        lines += ["", _("Open: {link}").format(link=ltr(link(public_url)))]
    kind = "failure" if counted.keys() & {"firing", "repeat"} else "success"
    return Message(_clip(heading, TITLE_MAX), "\n".join(lines), kind)
