"""Text fit to show, log or store: secrets out of URLs and driver messages, errors on one line.

Every password, token and error text the program shows passes through here, so a secret
is hidden the same way (`***`) wherever it appears: settings errors, pages, events,
backup manifests. Connection strings are parsed by hand rather than with urlsplit, which
refuses or misreads the hostile ones (an unencoded `@` or `/` in a password, IPv6 host
lists, mongodb+srv).
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

MASK = "***"

# Query parameter names that carry a secret: passwords, tokens, keys, signed-URL parts,
# MongoDB's AWS session token (authMechanismProperties) and TLS key password.
_SECRET_NAME = re.compile(
    r"pass|pwd|secret|token|key|credential|signature|^sig$|^auth$|authmechanismproperties",
    re.IGNORECASE)
_PARAMETER = re.compile(r"(?<=[?&;#])([^&;#=]*)=([^&;#]*)")


def split_userinfo(url: str) -> tuple[str, str | None, str]:
    """(`scheme://`, user info or None, the rest: hosts, path, query) of a URL.

    The user info ends at the last `@` before the path, so a password with an unencoded
    `@` or `?` stays in it; with no `@` there, at the last `@` before the query, so a
    password with an unencoded `/` (base64) does too."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "", None, url
    authority = rest.split("/", 1)[0]
    at = authority.rfind("@")
    if at < 0:
        at = re.split(r"[?#]", rest, maxsplit=1)[0].rfind("@")
    if at < 0:
        return scheme + sep, None, rest
    return scheme + sep, rest[:at], rest[at + 1:]


def _secret_parameter(name: str) -> bool:
    return bool(_SECRET_NAME.search(unquote(name)))


def _query_secrets(rest: str) -> list[str]:
    query = rest.partition("?")[2]
    return [value for name, value in _PARAMETER.findall("?" + query) if _secret_parameter(name)]


def redact(url: str) -> str:
    """The URL with its password and secret query values replaced by ***; user name,
    hosts, path and other options kept, so the value can still be recognised."""
    head, userinfo, rest = split_userinfo(url)
    path, sep, query = rest.partition("?")
    if sep:
        query = _PARAMETER.sub(lambda m: f"{m[1]}={MASK}" if _secret_parameter(m[1])
                               else m[0], "?" + query)[1:]
    if userinfo is not None:
        user, colon, _ = userinfo.partition(":")
        head += f"{user}:{MASK}@" if colon else f"{userinfo}@"
    return head + path + sep + query


def url_secrets(url: str) -> list[str]:
    """The secrets a URL carries, as written in it: its password, secret query values."""
    _, userinfo, rest = split_userinfo(url)
    password = userinfo.partition(":")[2] if userinfo else ""
    return [s for s in (password, *_query_secrets(rest)) if s]


def scrub(text: str, *secrets: str | None) -> str:
    """`text` (a driver's message) with every known secret replaced by ***, as written,
    %-decoded or %-encoded: drivers quote the URL in any of these."""
    spellings: set[str] = set()
    for secret in filter(None, secrets):
        plain = unquote(secret)
        spellings |= {secret, plain, quote(plain, safe="")}
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
