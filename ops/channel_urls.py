"""Notification channels as Apprise URLs: split a list, check one, show it without its
secrets, and the older ALERT_WEBHOOK_URL and SMTP_* settings written as such URLs.

It sits below the settings so a URL Apprise cannot read stops the program at start with
one line, and so every channel's secrets are known to the redaction before any text that
may quote them is stored, logged or shown. Apprise's own log lines quote URLs, tokens and
payloads: they never reach our logs; `apprise_said()` collects, for the thread that asks,
what Apprise said during a call, to be cleaned and stored as that attempt's error.
Apprise itself is imported only where a channel is checked or used: a process without
channels does not pay its ~20 MB.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

from ops.redaction import clean, split_userinfo

_SPLIT = re.compile(r"[\s,]+(?=[A-Za-z][A-Za-z0-9+.-]*://)")
_HOSTNAME = re.compile(r"^(localhost|\[[0-9a-fA-F:.]+\]|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)$")
_PORT = re.compile(r"^\d{1,5}$")
_QUERY_HARMLESS = re.compile(r"^(to|from|cc|bcc|mode|smtp|format|overflow|method|name|"
                             r"verify|cto|rto|priority|tags?|title|image|avatar)$", re.I)
_SLACK_HOSTS = ("hooks.slack.com", "hooks.slack-gov.com")
_DISCORD_HOSTS = ("discord.com", "discordapp.com")

# --- Apprise's log lines: collected per thread, never propagated ---

_captures: dict[int, list[str]] = {}
_captures_lock = threading.Lock()


class _PerThread(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        with _captures_lock:
            found = _captures.get(record.thread or 0)
        if found is not None:
            try:
                found.append(f"{record.levelname} {record.getMessage()}")
            except Exception:  # noqa: BLE001 - a bad log call in a plugin is no error of ours
                found.append(f"{record.levelname} {record.msg}")


def _quiet_apprise() -> None:
    logger = logging.getLogger("apprise")
    if not any(isinstance(handler, _PerThread) for handler in logger.handlers):
        logger.addHandler(_PerThread(logging.DEBUG))
        logger.setLevel(logging.DEBUG)
        logger.propagate = False


_quiet_apprise()


@contextmanager
def apprise_said() -> Iterator[list[str]]:
    """What Apprise logs on this thread inside the block ("LEVEL message" lines, raw:
    clean them before use); other threads' lines are not mixed in."""
    ident = threading.get_ident()
    lines: list[str] = []
    with _captures_lock:
        _captures[ident] = lines
    try:
        yield lines
    finally:
        with _captures_lock:
            _captures.pop(ident, None)


# --- a list of URLs, one URL ---


def split_urls(text: str) -> list[str]:
    """Commas or blanks separate URLs, but only before a `scheme://`: a comma inside a
    URL (`mailtos://...?to=a@x.org,b@x.org`) stays in it."""
    return [part.strip(" ,") for part in _SPLIT.split(text.strip()) if part.strip(" ,")]


@functools.lru_cache(maxsize=64)
def problem(url: str) -> str | None:
    """Why Apprise cannot use `url` (one line, no secret), or None when it can. Cached:
    pages read the settings on every run."""
    if "://" not in url:
        return "not a URL (scheme://...)"
    import apprise  # here: 20 MB and 0.2 s that a process without channels never pays

    with apprise_said() as said:
        plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if plugin is not None:
        return None
    reasons = [line.split(" ", 1)[1] for line in said
               if line.startswith(("WARNING", "ERROR")) and "://" not in line]
    return clean(reasons[-1] if reasons else "Apprise does not know this kind of URL or it "
                 "misses a part", 200)


def _parts(url: str) -> tuple[str, str | None, str, str, str]:
    """(scheme, user info, host, port, the rest after the authority). Apprise URLs
    have their login %-encoded, so an `@` in the query (`?to=a@x.org`) is not one."""
    base, mark, query = url.strip().partition("?")
    head, login, rest = split_userinfo(base)
    rest += mark + query
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    host, colon, port = authority.rpartition(":") if not authority.endswith("]") \
        else (authority, "", "")
    if not colon:
        host, port = authority, ""
    return head.removesuffix("://"), login, host, port, rest[len(authority):]


def shown(url: str) -> str:
    """The channel as a page shows it: scheme, host and port only (`mailtos://smtp.
    example.com:587`), never a login, path or query; a "host" that is really a token
    (`tgram://123:abc/`, `slack://T/B/X`) is left out: `slack://…`."""
    scheme, _, host, port, _ = _parts(url)
    if not _HOSTNAME.match(host):
        return f"{scheme}://…"
    return f"{scheme}://{host}" + (f":{port}" if _PORT.match(port) else "")


def secrets(url: str) -> list[str]:
    """What redaction must mask wherever `url` or a part of it is quoted: the URL, its
    login, a host that is a token, path segments and query values that look like keys."""
    _, login, host, port, rest = _parts(url)
    found = [url.strip(), rest] if len(rest) > 1 else [url.strip()]
    if login:
        found += [login, login.partition(":")[2]]
    if not _HOSTNAME.match(host):
        found += [host, f"{host}:{port}" if port else host, port]
    path, _, query = rest.partition("?")
    found += [segment for segment in path.split("/")
              if len(segment) >= 20 or (len(segment) >= 6 and not segment.isalpha())]
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if value and not _QUERY_HARMLESS.match(name.lstrip("+-:")) and len(value) >= 4:
            found.append(value)
    return [item for item in found if item and len(item) >= 4]


# --- the older settings, as Apprise URLs ---


def webhook_url(url: str, fmt: str) -> str:
    """ALERT_WEBHOOK_URL in ALERT_WEBHOOK_FORMAT as an Apprise URL: `json` posts Apprise's
    JSON to the same address (its query values kept as `-name=value`); `slack` and
    `discord` take the service's own webhook URL, and `slack` a Mattermost one
    (`.../hooks/KEY`, the Slack payload). Raises ValueError naming what is expected."""
    scheme, login, host, port, rest = _parts(url)
    secure = scheme == "https"
    path, _, query = rest.partition("?")
    if fmt == "json":
        params = "&".join("-" + pair for pair in query.split("&") if pair)
        return (f"{'jsons' if secure else 'json'}://{login + '@' if login else ''}"
                f"{host}{':' + port if port else ''}{path or '/'}" + (f"?{params}" if params
                                                                      else ""))
    if fmt == "slack" and host.lower() in _SLACK_HOSTS:
        return url
    if fmt == "slack" and re.fullmatch(r"(/[^?#]*)?/hooks/[A-Za-z0-9]+/?", path):
        prefix, _, key = path.rstrip("/").rpartition("/hooks/")
        return (f"{'mmosts' if secure else 'mmost'}://{host}{':' + port if port else ''}"
                f"{prefix}/{key}")
    if fmt == "discord" and host.lower() in _DISCORD_HOSTS and "/api/webhooks/" in path:
        return url
    what = {"slack": "a Slack webhook (https://hooks.slack.com/services/...) or a Mattermost "
                     "one (.../hooks/KEY)",
            "discord": "a Discord webhook (https://discord.com/api/webhooks/ID/TOKEN)"}
    raise ValueError(f"{what.get(fmt, 'json, slack or discord')} with ALERT_WEBHOOK_FORMAT="
                     f"{fmt}; for any other service put its Apprise URL in ALERT_URLS")


def mail_url(host: str, port: int, user: str | None, password: str | None, starttls: bool,
             sender: str, recipients: list[str]) -> str:
    """SMTP_* and ALERT_EMAIL_* as an Apprise e-mail URL: `mailtos://` with STARTTLS
    (SMTP_STARTTLS=true), else `mailto://` in plain text; login when SMTP_USER is set."""
    login = ""
    if user:
        login = quote(user, safe="") + (":" + quote(password, safe="") if password else "") + "@"
    to = ",".join(quote(address, safe="@") for address in recipients)
    scheme, mode = ("mailtos", "starttls") if starttls else ("mailto", "")
    query = f"smtp={quote(host, safe='')}&from={quote(sender, safe='@')}&to={to}"
    return f"{scheme}://{login}{host}:{port}/?{query}" + (f"&mode={mode}" if mode else "")
