"""Text fit to show, log, store or send: secrets out, errors on one line.

`clean()` is the choke point: every error text of a source, job or notifier passes
through it before it is stored (ops.storage), logged (`SecretFilter`), shown or sent
(ops.alerts.notify). It masks, as `***`:

- every secret the process knows (`remember()`: the settings' passwords, tokens and the
  secrets inside their URLs, registered when the settings are loaded), in each spelling
  a driver may quote it (as written, %-decoded, %-encoded), so a message that quotes
  only a password is clean too;
- in every URL found in the text: the password, query values whose name or value may
  hold a secret (`password=`, `AWS_SESSION_TOKEN:...`), the token path of webhook hosts
  (Slack, Discord, Teams, Telegram).

Connection strings are parsed by hand rather than with urlsplit, which refuses or
misreads the hostile ones (an unencoded `@` or `/` in a password, IPv6 host lists,
mongodb+srv).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from base64 import b64encode
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus, unquote

MASK = "***"
# A remembered secret shorter than this is not masked in free text: it would mask every
# "pw" or "ops" in every message. URLs still mask their passwords of any length.
MIN_KNOWN = 4

# Query parameter names that carry a secret: passwords, tokens, keys, signed-URL parts,
# MongoDB's AWS session token (authMechanismProperties) and TLS key password.
_SECRET_NAME = re.compile(
    r"pass|pwd|secret|token|key|credential|signature|^sig$|^auth$|^code$|"
    r"authmechanismproperties", re.IGNORECASE)
# A value that names a secret inside itself: AWS_SESSION_TOKEN:..., password=...
_SECRET_VALUE = re.compile(r"(pass|pwd|secret|token|key|credential)[\w.-]*[:=]",
                           re.IGNORECASE)
_PARAMETER = re.compile(r"(?<=[?&;#])([^&;#=]*)=([^&;#]*)")
# A URL inside free text: from its scheme to the next blank, quote or bracket.
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]{1,30}://[^\s'\"<>`]*[^\s'\"<>`).,;:\]]")
# Webhook hosts whose path is the token: host (or its suffix) -> path segments shown.
_WEBHOOK_HOSTS = (("hooks.slack.com", 1), ("discord.com", 2), ("discordapp.com", 2),
                  ("webhook.office.com", 1), ("outlook.office.com", 1))
# Any host: a path segment after one of these is a token; a Telegram bot token.
_TOKEN_SEGMENT = re.compile(r"token|tokens|secret|secrets|apikey|api_key|key|keys",
                            re.IGNORECASE)
_BOT_TOKEN = re.compile(r"bot\d+:.*", re.IGNORECASE)


# --- URLs ---


def split_userinfo(url: str) -> tuple[str, str | None, str]:
    """(`scheme://`, user info or None, the rest: hosts, path, query) of a URL.

    The user info ends at the last `@` before the first `/`, so a password with an
    unencoded `@`, `?` or `#` stays in it; or, further, at the last `@` before the query
    when what precedes it reads as `user:password` with an unencoded `/` (base64, or
    `p@ss/word`). An `@` in a path (`/users/@me`, Teams webhooks) is not user info."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "", None, url
    at = rest.split("/", 1)[0].rfind("@")
    further = re.split(r"[?#]", rest, maxsplit=1)[0].rfind("@")
    if further > at:
        user, _, password = rest[:further].partition(":")
        if "/" not in user and not re.match(r"\d*/", password):  # not host:port/path
            at = further
    if at < 0:
        return scheme + sep, None, rest
    return scheme + sep, rest[:at], rest[at + 1:]


def _secret_parameter(name: str, value: str = "") -> bool:
    return bool(_SECRET_NAME.search(unquote(name)) or _SECRET_VALUE.search(unquote(value)))


def _host(rest: str) -> str:
    """The host of `rest` (hosts, path, query), lower case, without port."""
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    return authority.rsplit(":", 1)[0].strip("[]").lower()


def _segment_secrets(rest: str) -> list[tuple[int, str]]:
    """(index, secret) of each path segment of `rest` that holds a token: past the
    segments a webhook host shows, after a `/token/`-like segment, a Telegram bot's."""
    host = _host(rest)
    shown = next((count for known, count in _WEBHOOK_HOSTS
                  if host == known or host.endswith("." + known)), None)
    path = re.split(r"[?#]", rest, maxsplit=1)[0].partition("/")[2]
    segments = path.split("/")
    found = []
    for index, segment in enumerate(segments):
        if _BOT_TOKEN.fullmatch(segment):
            found.append((index, segment[3:]))
        elif segment and ((shown is not None and index >= shown)
                          or (index > 0 and _TOKEN_SEGMENT.fullmatch(segments[index - 1]))):
            found.append((index, segment))
    return found


def _redact_path(rest: str) -> str:
    cut = re.search(r"[?#]", rest)
    path, tail = (rest[:cut.start()], rest[cut.start():]) if cut else (rest, "")
    authority, slash, segments = path.partition("/")
    parts = segments.split("/")
    for index, secret in _segment_secrets(rest):
        parts[index] = parts[index].replace(secret, MASK)
    return authority + slash + "/".join(parts) + tail


def redact(url: str) -> str:
    """The URL with its password, secret query values and webhook token path replaced by
    ***; user name, hosts, other path segments and options kept, so the value can still be
    recognised."""
    head, userinfo, rest = split_userinfo(url)
    rest = _redact_path(rest)
    path, sep, query = rest.partition("?")
    if sep:
        query = _PARAMETER.sub(lambda m: f"{m[1]}={MASK}" if _secret_parameter(m[1], m[2])
                               else m[0], "?" + query)[1:]
    if userinfo is not None:
        user, colon, _ = userinfo.partition(":")
        head += f"{user}:{MASK}@" if colon else f"{userinfo}@"
    return head + path + sep + query


def url_secrets(url: str) -> list[str]:
    """The secrets a URL carries, as written in it: its password, secret query values,
    the token path segments of a webhook host."""
    _, userinfo, rest = split_userinfo(url)
    password = userinfo.partition(":")[2] if userinfo else ""
    values = [value for name, value in _PARAMETER.findall("?" + rest.partition("?")[2])
              if _secret_parameter(name, value)]
    segments = [secret for _, secret in _segment_secrets(rest)]
    return [s for s in (password, *values, *_inner(values), *segments) if s]


def _inner(values: list[str]) -> list[str]:
    """The secrets inside `KEY:value,...` options (AWS_SESSION_TOKEN:tok), quoted alone."""
    pairs = [re.split(r"[:=]", pair, maxsplit=1) for value in values
             for pair in unquote(value).split(",")]
    return [pair[1] for pair in pairs if len(pair) == 2 and _SECRET_NAME.search(pair[0])]


def webhook_secrets(url: str) -> list[str]:
    """What a webhook URL may hide beyond url_secrets(): it is shown as its host only, so
    everything after the host, and each part of it that looks like a token."""
    _, _, rest = split_userinfo(url)
    found = [url, *url_secrets(url)]
    tail = rest[len(re.split(r"[/?#]", rest, maxsplit=1)[0]):]
    path, _, query = tail.partition("?")
    if len(tail) > 1:
        found.append(tail)
    if len(path) > 1:
        found.append(path)
    found += [segment for segment in path.split("/")
              if len(segment) >= 20 or (len(segment) >= 6 and not segment.isalpha())]
    found += [value for _, value in _PARAMETER.findall("?" + query) if len(value) >= 6]
    return found


# --- the process-wide list of known secrets ---

_lock = threading.Lock()
_known: set[str] = set()
_spellings: tuple[str, ...] = ()  # longest first


def _spell(secret: str) -> set[str]:
    plain = unquote(secret)
    return {secret, plain, quote(plain, safe=""), quote_plus(plain, safe="")}


def remember(*secrets: str | None) -> None:
    """Mask these secrets in every text clean() sees from now on, in this process."""
    global _spellings
    new = {s for s in secrets if s and s not in _known}
    if not new:
        return
    with _lock:
        _known.update(new)
        spellings = set(_spellings)
        for secret in new:
            spellings |= {s for s in _spell(secret) if len(s) >= MIN_KNOWN}
        _spellings = tuple(sorted(spellings, key=len, reverse=True))


def remember_url(url: str) -> None:
    """Remember the secrets inside a connection string or URL."""
    remember(*url_secrets(url))


def remember_login(user: str, password: str) -> None:
    """Remember a password and its base64 forms, as SMTP AUTH PLAIN and LOGIN send it."""
    remember(password, *(b64encode(text.encode()).decode()
                         for text in (password, f"\0{user}\0{password}") if password))


def _mask(text: str) -> str:
    """Remembered secrets out (longest spelling first), then every URL redacted."""
    for spelling in _spellings:
        if spelling in text:
            text = text.replace(spelling, MASK)
    return _URL.sub(lambda m: redact(m[0]), text) if "://" in text else text


# --- the choke point ---


def clean(text: object, limit: int | None = None, *, keep_lines: bool = False) -> str:
    """`text` (an exception, a driver's message, a log line) fit to store, log, show or
    send: remembered secrets masked, every URL in it redacted, on one line (named by its
    type when an exception) unless `keep_lines` (a traceback), at most `limit` long."""
    cleaned = _mask(str(text) if keep_lines else one_line(text))
    if limit is not None and len(cleaned) > limit:
        cleaned = cleaned[: limit - 1] + "…"
    return cleaned


def clean_data(value: Any) -> Any:
    """`value` (JSON-like: dicts, lists, strings) with every string masked as clean()
    does, lines and spaces kept: for what is stored or sent as JSON."""
    if isinstance(value, str):
        return _mask(value)
    if isinstance(value, dict):
        return {key: clean_data(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_data(item) for item in value]
    return value


def clean_json(value: Any) -> str:
    """`value` as JSON text for a column or a request body, cleaned as clean_data() does
    (objects JSON cannot hold are written as their cleaned str())."""
    return json.dumps(clean_data(value), default=lambda item: _mask(str(item)))


def scrub(text: str, *secrets: str | None) -> str:
    """`text` with these secrets replaced by ***, as written, %-decoded or %-encoded,
    whatever their length: for a text made before the secrets are remembered (settings
    being validated)."""
    spellings: set[str] = set()
    for secret in filter(None, secrets):
        spellings |= _spell(secret)
    for spelling in sorted(filter(None, spellings), key=len, reverse=True):
        text = text.replace(spelling, MASK)
    return text


def one_line(error: object, limit: int | None = None) -> str:
    """An exception or a message as one line (events, logs and JSON errors are one line
    each); an exception is named by its type, alone when it says nothing."""
    text = " ".join(str(error).split())
    if isinstance(error, BaseException):
        name = type(error).__name__
        text = f"{name}: {text}" if text else name
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


# --- logs ---


class SecretFilter(logging.Filter):
    """Cleans every record a handler writes: its message on one line (no forged log
    lines), its traceback and stack with their lines kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - bad arguments: still never print them raw
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = clean(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = clean(record.exc_text, keep_lines=True)
        if record.stack_info:
            record.stack_info = clean(record.stack_info, keep_lines=True)
        return True


def filter_logs(handlers: Iterable[logging.Handler] | None = None) -> None:
    """Put a SecretFilter on these handlers (default: every handler of every logger now
    configured), once each."""
    if handlers is None:
        loggers = [logging.getLogger(), *(logger for logger in
                                          logging.Logger.manager.loggerDict.values()
                                          if isinstance(logger, logging.Logger))]
        handlers = [handler for logger in loggers for handler in logger.handlers]
    for handler in handlers:
        if not any(isinstance(f, SecretFilter) for f in handler.filters):
            handler.addFilter(SecretFilter())
