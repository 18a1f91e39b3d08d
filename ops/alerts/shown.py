"""An alert as a person reads it, in the language of the page or the notification.

The collector writes each alert's message in English and stores it: the JSON endpoints,
the commands and the logs give it as it is. A page, a banner or a notification tells it
again at display time, rebuilt from the alert's rule, subject and the figures of its
message (`shown_message`): `cache is down: Connection refused` becomes, on an Arabic
page, the translated sentence with the service's own error as a left-to-right island.
A message it cannot rebuild (written by an older or newer version) is shown as it is,
as an island; in English every text here is exactly the stored one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ops import formatting
from ops.catalogue import WATCHED
from ops.i18n import (
    LEFT_TO_RIGHT_ISOLATE,
    N_,
    POP_DIRECTIONAL_ISOLATE,
    _,
    language,
    ltr,
    right_to_left,
)

# Rule names as the notifications' titles show them (`service down`): the rule's
# name with spaces.
RULE_NAMES = {name.replace(" ", "_"): name for name in (
    N_("service down"), N_("api latency"), N_("memory high"), N_("load high"),
    N_("disk high"), N_("redis hit rate low"), N_("redis memory high"),
    N_("redis evicting"), N_("mongo connections high"), N_("backup missing"),
    N_("backup failed"), N_("backup drill failed"), N_("backup copy failed"),
    N_("container down"), N_("container unhealthy"), N_("container oom killed"),
    N_("container memory high"), N_("collector silent"))}

# What the rules table's "what" column says (ops.alerts.rules.Rule.title), by rule.
RULE_TITLES = {
    "api_latency": N_("API or an HTTP check answers slowly (ms)"),
    "memory_high": N_("host memory used (%)"),
    "load_high": N_("load average (5 min) per core"),
    "disk_high": N_("disk of the data or backup directory used (%)"),
    "redis_hit_rate_low": N_("cache hit rate over 15 min (%)"),
    "redis_memory_high": N_("cache memory used of maxmemory (%)"),
    "redis_evicting": N_("cache evicting keys (keys in 15 min)"),
    "mongo_connections_high": N_("database connections used of the limit (%)"),
    "backup_missing": N_("no successful backup for (hours)"),
    "backup_failed": N_("the last backup failed"),
    "backup_drill_failed": N_("the last restore drill failed"),
    "backup_copy_failed": N_("the last copy of a backup to an off-host target failed"),
    "container_down": N_("a container exited with an error, or is restarting"),
    "container_unhealthy": N_("a container's health check fails"),
    "container_oom_killed": N_("a container was killed for lack of memory"),
    "container_memory_high": N_("container memory used of its limit (%)"),
}

SEVERITIES = {"critical": N_("critical"), "warning": N_("warning")}
STATES = {"pending": N_("pending"), "firing": N_("firing"), "resolved": N_("resolved"),
          "cleared": N_("cleared")}
# Subjects the rules name in English; the others (containers, checks, copy targets)
# are names, shown as they are.
SUBJECTS = {"host": N_("host"), "data dir": N_("data dir"), "backup dir": N_("backup dir"),
            "backups": N_("backups"), "collector": N_("collector"), "cache": N_("cache"),
            "database": N_("database")}
# A service's noun in a message ("cache is down"); an acronym (API) stays a name.
_SERVICES = {service.noun: service.label for service in WATCHED
             if not service.label.isupper()}


def rule_name(rule: str | None) -> str:
    """`service down`, translated; a rule this version does not know, as it is."""
    name = str(rule or "alert")
    known = RULE_NAMES.get(name)
    if known is not None:
        return _(known)
    return _("alert") if rule is None else ltr(name.replace("_", " "))


def rule_title(rule: str, title: str) -> str:
    """What a rule watches, as the rules table says it."""
    if rule == "service_down":
        services = ("، " if right_to_left() else ", ").join(
            subject(service.noun) for service in WATCHED)
        return _("service down ({services}, HTTP checks)").format(services=services)
    known = RULE_TITLES.get(rule)
    return _(known) if known is not None and known == title else ltr(title)


def severity(value: str | None) -> str:
    text = str(value or "")
    return _(SEVERITIES[text]) if text in SEVERITIES else ltr(text)


def state(value: str | None) -> str:
    text = str(value or "")
    return _(STATES[text]) if text in STATES else ltr(text)


def subject(value: str | None) -> str:
    """An alert's subject: a service or a directory translated, a name as an island."""
    text = str(value or "")
    if language() == "en":
        return text
    if text in SUBJECTS:
        return _(SUBJECTS[text])
    if text in _SERVICES:
        return _(_SERVICES[text])
    return ltr(text)


# --- messages ---

_FIG = r"-?[\d,]+(?:\.\d+)?"
_DURATION = r"(?:\d+[dhm] )*\d+s"
_UNKNOWN_TIME = N_("an unknown time")


@dataclass(frozen=True)
class _Wording:
    pattern: re.Pattern[str]
    msgid: str
    # How each placeholder is shown; a group not named here is a figure.
    kinds: Mapping[str, str]


def _w(pattern: str, msgid: str, **kinds: str) -> _Wording:
    return _Wording(re.compile(f"^{pattern}$", re.DOTALL), msgid, kinds)


# The English messages of ops.alerts.rules, container_checks, silent and wording, each
# with its wording. Kinds: name (a subject), text (a service's or the system's words,
# an island), duration (an uptime), message (another message, told again).
_WORDINGS: tuple[_Wording, ...] = (
    # ops.alerts.wording: resolutions around another message
    _w(rf"no longer judged after (?P<after>{_DURATION}|{_UNKNOWN_TIME}): its figure or "
       r"limit is gone \(was: (?P<was>.*)\)",
       N_("no longer judged after {after}: its figure or limit is gone (was: {was})"),
       after="duration", was="message"),
    _w(rf"no longer judged after (?P<after>{_DURATION}|{_UNKNOWN_TIME}): its figure or "
       r"limit is gone",
       N_("no longer judged after {after}: its figure or limit is gone"), after="duration"),
    _w(rf"back to normal after (?P<after>{_DURATION}|{_UNKNOWN_TIME}): (?P<recovered>.*?) "
       r"\(was: (?P<was>.*)\)",
       N_("back to normal after {after}: {recovered} (was: {was})"),
       after="duration", recovered="message", was="message"),
    _w(rf"back to normal after (?P<after>{_DURATION}|{_UNKNOWN_TIME}): (?P<recovered>.*)",
       N_("back to normal after {after}: {recovered}"), after="duration",
       recovered="message"),
    _w(rf"ended after (?P<after>{_DURATION}|{_UNKNOWN_TIME}) \(was: (?P<was>.*)\)",
       N_("ended after {after} (was: {was})"), after="duration", was="message"),
    _w(rf"ended after (?P<after>{_DURATION}|{_UNKNOWN_TIME})",
       N_("ended after {after}"), after="duration"),
    _w(rf"(?P<recovered>.*?) again after (?P<after>{_DURATION}|{_UNKNOWN_TIME}) "
       r"\(was: (?P<was>.*)\)",
       N_("{recovered} again after {after} (was: {was})"),
       after="duration", recovered="message", was="message"),
    _w(rf"(?P<recovered>.*?) again after (?P<after>{_DURATION}|{_UNKNOWN_TIME})",
       N_("{recovered} again after {after}"), after="duration", recovered="message"),
    # ops.alerts.silent
    _w(rf"collector is not sampling: no sample for (?P<quiet>{_DURATION}) \(it samples "
       rf"every (?P<interval>{_FIG}) s; silent after (?P<intervals>\d+) intervals\)",
       N_("collector is not sampling: no sample for {quiet} (it samples every {interval} s;"
          " silent after {intervals} intervals)"), quiet="duration"),
    _w("collector is sampling", N_("collector is sampling")),
    # ops.alerts.rules
    _w(rf"host memory (?P<value>{_FIG})% used \(limit (?P<limit>{_FIG})%\)",
       N_("host memory {value} used (limit {limit})"),
       value="percent", limit="percent"),
    _w(rf"load average (?P<load>{_FIG}) on (?P<cores>{_FIG}) cores = (?P<per_core>{_FIG}) "
       rf"per core \(limit (?P<limit>{_FIG})\)",
       N_("load average {load} on {cores} cores = {per_core} per core (limit {limit})")),
    _w(rf"(?P<subject>data dir|backup dir) disk (?P<value>{_FIG})% full "
       rf"\(limit (?P<limit>{_FIG})%\)",
       N_("{subject} disk {value} full (limit {limit})"), subject="name",
       value="percent", limit="percent"),
    _w(rf"too little traffic over 15 min to judge the hit rate \((?P<lookups>{_FIG}) "
       rf"lookups, at least (?P<needed>{_FIG}) needed\)",
       N_("too little traffic over 15 min to judge the hit rate ({lookups} lookups, at "
          "least {needed} needed)")),
    _w(rf"cache hit rate (?P<rate>{_FIG})% over 15 min \((?P<lookups>{_FIG}) lookups; "
       rf"limit (?P<limit>{_FIG})%\)",
       N_("cache hit rate {rate} over 15 min ({lookups} lookups; limit {limit})"),
       rate="percent", limit="percent"),
    _w(rf"cache memory (?P<value>{_FIG})% of maxmemory \(limit (?P<limit>{_FIG})%\)",
       N_("cache memory {value} of maxmemory (limit {limit})"),
       value="percent", limit="percent"),
    _w(rf"cache evicted (?P<keys>{_FIG}) keys in 15 min \(maxmemory reached\)",
       N_("cache evicted {keys} keys in 15 min (maxmemory reached)")),
    _w(rf"cache evicted (?P<keys>{_FIG}) keys in 15 min",
       N_("cache evicted {keys} keys in 15 min")),
    _w(rf"database connections (?P<current>{_FIG}) of (?P<total>{_FIG}) "
       rf"\((?P<used>{_FIG})%, limit (?P<limit>{_FIG})%\)",
       N_("database connections {current} of {total} ({used}, limit {limit})"),
       used="percent", limit="percent"),
    _w(rf"last good backup (?P<hours>{_FIG}) h ago \(limit (?P<limit>{_FIG}) h\)",
       N_("last good backup {hours} h ago (limit {limit} h)")),
    _w(rf"no backup since watching began (?P<hours>{_FIG}) h ago "
       rf"\(limit (?P<limit>{_FIG}) h\)",
       N_("no backup since watching began {hours} h ago (limit {limit} h)")),
    _w(r"the last backup failed: (?P<error>.*)", N_("the last backup failed: {error}"),
       error="text"),
    _w("last backup ok", N_("last backup ok")),
    _w(r"restore drill failed: (?P<error>.*)", N_("restore drill failed: {error}"),
       error="text"),
    _w("last drill matched", N_("last drill matched")),
    _w(r"copy to (?P<target>\S+) failed: (?P<error>.*)",
       N_("copy to {target} failed: {error}"), target="text", error="text"),
    _w(r"copy to (?P<target>\S+) good", N_("copy to {target} good"), target="text"),
    # ops.alerts.container_checks (a container's key has no spaces)
    _w(r"(?P<container>\S+) is (?P<state>\S+) with exit code (?P<code>-?\d+)",
       N_("{container} is {state} with exit code {code}"), container="text", state="text"),
    _w(r"(?P<container>\S+) is restarting \(restart count (?P<restarts>\d+)\)",
       N_("{container} is restarting (restart count {restarts})"), container="text"),
    _w(r"(?P<container>\S+) is unhealthy: (?P<output>.*)",
       N_("{container} is unhealthy: {output}"), container="text", output="text"),
    _w(r"(?P<container>\S+) was killed for lack of memory \(OOM killer; limit "
       rf"(?P<limit>{_FIG}) MB\)",
       N_("{container} was killed for lack of memory (OOM killer; limit {limit} MB)"),
       container="text"),
    _w(r"(?P<container>\S+) was killed for lack of memory \(OOM killer\)",
       N_("{container} was killed for lack of memory (OOM killer)"), container="text"),
    _w(r"(?P<container>\S+) was not OOM-killed", N_("{container} was not OOM-killed"),
       container="text"),
    _w(rf"(?P<container>\S+) memory (?P<value>{_FIG})% of its (?P<size>{_FIG}) MB limit "
       rf"\(limit (?P<limit>{_FIG})%\)",
       N_("{container} memory {value} of its {size} MB limit (limit {limit})"),
       container="text", value="percent", limit="percent"),
    # service_down and api_latency: a service's noun or a check's name
    _w(r"(?P<service>.+?) is down: no answer", N_("{service} is down: no answer"),
       service="name"),
    _w(r"(?P<service>.+?) is down: (?P<error>.*)", N_("{service} is down: {error}"),
       service="name", error="text"),
    _w(r"(?P<service>.+?) is up", N_("{service} is up"), service="name"),
    _w(rf"(?P<service>.+?) answered in (?P<value>{_FIG}) ms \(limit (?P<limit>{_FIG}) ms\)",
       N_("{service} answered in {value} ms (limit {limit} ms)"), service="name"),
    # container states last: "<key> is <state>"
    _w(r"(?P<container>\S+) is unhealthy", N_("{container} is unhealthy"), container="text"),
    _w(r"(?P<container>\S+) is (?P<state>starting|healthy|running|exited|created|paused)",
       N_("{container} is {state}"), container="text", state="state"),
)

_CONTAINER_STATES = {"starting": N_("starting"), "healthy": N_("healthy"),
                     "running": N_("running"), "exited": N_("exited"),
                     "created": N_("created"), "paused": N_("paused")}


Island = Callable[[str], str]


def _part(kind: str, value: str, depth: int, island: Island) -> str:
    shown: dict[str, Callable[[str], str]] = {
        "name": lambda text: subject(text) if text in _SERVICES or text in SUBJECTS
        else island(text),
        "text": island,
        "percent": lambda text: formatting.figure(f"{text}%"),
        "state": lambda text: _(_CONTAINER_STATES[text]),
        "duration": lambda text: _(_UNKNOWN_TIME) if text == _UNKNOWN_TIME
        else formatting.figure(text),
        "message": lambda text: _told(text, island, depth + 1),
    }
    return shown.get(kind, formatting.figure)(value)


def _told(message: str, island: Island, depth: int = 0) -> str:
    if depth < 3:
        for wording in _WORDINGS:
            found = wording.pattern.match(message)
            if found is not None:
                return _(wording.msgid).format(**{
                    key: _part(wording.kinds.get(key, "figure"), value, depth, island)
                    for key, value in found.groupdict().items()})
    return island(message)


def bare(text: str) -> str:
    """`text` without the isolates around its islands."""
    return text.replace(LEFT_TO_RIGHT_ISOLATE, "").replace(POP_DIRECTIONAL_ISOLATE, "")


def message_text(message: str | None, island: Island = ltr) -> str:
    """A stored alert message told in the current language; in English the message
    itself (through `island`, when one is given)."""
    text = str(message or "")
    if language() == "en" or not text:
        return island(text) if island is not ltr else text
    return _told(bare(text), island)


def shown_message(alert: Any, island: Island = ltr) -> str:
    """The text of an alert (an Alert, or a mapping with its fields) as a page or a
    notification tells it: its message rebuilt in the current language, figures, names
    and errors as left-to-right islands; in English the stored message exactly. An
    alert with no message is named by its rule.

    `island` makes an island of a text a service, the system or an older message wrote
    (ops.i18n.ltr); for Markdown (st.error, st.markdown) pass pages.common.plain, which
    also makes it inert. In English the whole message goes through it."""
    fields = alert if isinstance(alert, Mapping) else getattr(alert, "__dict__", {})
    message = fields.get("message")
    if message:
        return message_text(str(message), island)
    if language() != "en":
        return rule_name(fields.get("rule"))
    rule = str(fields.get("rule") or "")
    return island(rule) if island is not ltr else rule
