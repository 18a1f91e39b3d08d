"""Login sessions: a signed, expiring cookie that survives reload, new tab and bookmark.

The cookie holds a random session id and its expiry, signed (HMAC-SHA256) with a key
derived from the data directory's random key and the admin password: changing
OPS_ADMIN_PASSWORD ends every session at once. Log out records the id as revoked in the
store until it would have expired anyway, so a copied cookie stops working too. The
cookie is HttpOnly (no script reads it), SameSite=Strict (no other site sends it) and
Secure when the dashboard is served over HTTPS.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from ops.config import Settings
from ops.storage import Store
from ops.web.downloads import signing_key

COOKIE = "ops_session"
REVOKED_KEY = "revoked_sessions"


@dataclass(frozen=True)
class Session:
    id: str
    expires: int  # unix seconds


def _key(settings: Settings) -> bytes:
    password = settings.ops_admin_password.reveal() if settings.ops_admin_password else ""
    return hmac.new(signing_key(settings.ops_data_dir),
                    b"session:" + hashlib.sha256(password.encode()).digest(),
                    hashlib.sha256).digest()


def _signature(settings: Settings, session_id: str, expires: int) -> str:
    return hmac.new(_key(settings), f"{session_id}.{expires}".encode(),
                    hashlib.sha256).hexdigest()


def new_session(settings: Settings, now: float | None = None) -> tuple[Session, str]:
    """A fresh session and the cookie value that carries it."""
    issued = time.time() if now is None else now
    session = Session(secrets.token_urlsafe(18),
                      int(issued + settings.ops_session_hours * 3600))
    signature = _signature(settings, session.id, session.expires)
    return session, f"{session.id}.{session.expires}.{signature}"


def valid_session(settings: Settings, store: Store, cookie: str | None,
                  now: float | None = None) -> Session | None:
    """The session a cookie carries when its signature holds, it has not expired and it
    was not logged out; otherwise None."""
    if not isinstance(cookie, str) or not cookie or settings.ops_admin_password is None:
        return None
    session_id, _, rest = cookie.partition(".")
    expires, _, signature = rest.partition(".")
    if not session_id or not expires.isdigit() or len(expires) > 12:
        return None
    if not hmac.compare_digest(_signature(settings, session_id, int(expires)), signature):
        return None
    if int(expires) <= (time.time() if now is None else now):
        return None
    if session_id in (store.state(REVOKED_KEY) or {}):
        return None
    return Session(session_id, int(expires))


def revoke(store: Store, session: Session, now: float | None = None) -> None:
    """Log a session out for good; ids past their expiry are forgotten on the way."""
    moment = time.time() if now is None else now
    with store.transaction():
        revoked = {sid: until for sid, until in (store.state(REVOKED_KEY) or {}).items()
                   if until > moment}
        revoked[session.id] = session.expires
        store.set_state(REVOKED_KEY, revoked)


def cookie_header(value: str, max_age: int, secure: bool) -> str:
    """The Set-Cookie value: HttpOnly, SameSite=Strict, the whole site, Secure on HTTPS."""
    return (f"{COOKIE}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Strict"
            + ("; Secure" if secure else ""))
