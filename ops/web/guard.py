"""The gate in front of every request to the dashboard's server.

Runs before Streamlit sees a request (ASGI middleware), so the rule holds however the
server was started (`python -m ops up`, `streamlit run`, the Docker image):

- Pages, Streamlit's own routes and its websocket need a login session when
  OPS_ADMIN_PASSWORD is set (a page URL redirects to /login and comes back after it; the
  websocket is refused, so a logged-out client never runs the app at all).
- Without a password they are served only on loopback: when the server listens on
  another address, or a client comes from elsewhere (another container on a compose
  network), they are refused unless OPS_ALLOW_NO_PASSWORD=true says access is controlled
  some other way.
- The JSON endpoints, /metrics and download links keep their own checks (token, signed
  link); /_stcore/health stays open for container health checks, and Streamlit's static
  scripts and styles (the same for every install) for the login's way out, and the
  shipped fonts. An unknown
  /api/ path is a JSON 404, not the app's HTML.
- Every answer says: not in a frame, no type sniffing, no referrer to other sites; and not to be
  cached, except Streamlit's content-hashed static files.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import quote

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from ops.config import Settings, SettingsError, load_settings
from ops.storage import StoreError
from ops.web.sessions import COOKIE, valid_session

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OPEN_PATHS = frozenset({"/login", "/logout", "/_stcore/health", "/metrics"})
CACHEABLE_PREFIX = "/static/"  # Streamlit's own scripts and styles: no data in them
FONTS_PREFIX = "/app/static/fonts/"  # the shipped Arabic font, for the login form too
OPEN_PREFIXES = ("/api/", CACHEABLE_PREFIX, FONTS_PREFIX)
SECURITY_HEADERS = (
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)


def is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address((host or "").strip("[]")).is_loopback
    except ValueError:
        return False


def listening_address() -> str | None:
    """The address Streamlit was told to listen on (flag, environment or config file);
    unset means every interface."""
    from streamlit import config

    address = config.get_option("server.address")
    return str(address) if address else None


def pages_refused(settings: Settings, client_host: str | None) -> str | None:
    """Why the pages are not shown without a password, or None when they may be.
    `client_host` None: the caller does not know the client (only the listening address
    is judged)."""
    if settings.ops_admin_password is not None or settings.ops_allow_no_password:
        return None
    fix = ("set OPS_ADMIN_PASSWORD (or OPS_ALLOW_NO_PASSWORD=true when access is "
           "controlled some other way)")
    address = listening_address()
    if not is_loopback(address):
        return (f"This dashboard listens on {address or 'every interface'} without a "
                f"password: {fix}.")
    if client_host is not None and not is_loopback(client_host):
        return f"This dashboard is reached from {client_host} without a password: {fix}."
    return None


def _is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def _login_redirect(scope: Scope) -> str:
    query = scope.get("query_string", b"").decode("latin-1")
    target = scope["path"] + (f"?{query}" if query else "")
    return "/login" if target == "/" else "/login?next=" + quote(target, safe="")


def _refusal(scope: Scope, settings: Settings) -> Response | None:
    """The answer that stops this request at the gate, or None to let it through."""
    connection = HTTPConnection(scope)
    client = connection.client.host if connection.client else None
    refused = pages_refused(settings, client)
    if refused is not None:
        return PlainTextResponse(refused, status_code=403)
    if settings.ops_admin_password is None:
        return None
    from ops.web.routes import store_for

    try:
        session = valid_session(settings, store_for(settings.database_path),
                                connection.cookies.get(COOKIE))
    except StoreError:
        session = None
    if session is not None:
        return None
    if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
        return RedirectResponse(_login_redirect(scope), status_code=303)
    return PlainTextResponse("log in first: /login", status_code=401)


class Guard:
    """ASGI middleware: the gate and the headers (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "http":
            send = _with_headers(send, cacheable=scope["path"].startswith(CACHEABLE_PREFIX))
        if not _is_open(scope["path"]):
            try:
                refusal = _refusal(scope, load_settings())
            except SettingsError as error:
                refusal = PlainTextResponse(f"Settings error: {error}", status_code=500)
            if refusal is not None:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                else:
                    await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _with_headers(send: Send, cacheable: bool) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", [])
                       if k.lower() not in {name for name, _ in SECURITY_HEADERS}
                       and (cacheable or k.lower() != b"cache-control")]
            headers += SECURITY_HEADERS
            if not cacheable:
                headers.append((b"cache-control", b"no-store"))
            message["headers"] = headers
        await send(message)

    return sending


async def api_not_found(request: Request) -> Response:
    """Any /api/ path no route answers: a JSON 404 rather than the app's HTML page."""
    return JSONResponse({"error": f"no such endpoint: {request.url.path}"}, status_code=404)
