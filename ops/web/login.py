"""/login and /logout: a plain HTML form that turns the admin password into a session
cookie (see ops.web.sessions), throttled per client address (see ops.web.auth).

The form is served by the dashboard's own server rather than drawn by Streamlit,
because only an HTTP answer can set an HttpOnly cookie; after it, the browser goes back
to the page first asked for.
"""

from __future__ import annotations

import asyncio
import html
import logging
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ops.config import Settings, SettingsError, load_settings
from ops.i18n import LANGUAGE_COOKIE, LANGUAGES, RIGHT_TO_LEFT, _, ltr, speaking
from ops.storage import StoreError
from ops.web.auth import LoginThrottle, password_matches
from ops.web.sessions import COOKIE, cookie_header, new_session, revoke, valid_session

log = logging.getLogger("ops.web.login")
throttle = LoginThrottle()

PAGE = """<!doctype html>
<html lang="{lang}" dir="{direction}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
@font-face {{ font-family: "Noto Sans Arabic"; font-weight: 400;
  src: url("/app/static/fonts/NotoSansArabic-Regular.ttf") format("truetype");
  unicode-range: U+0600-06FF, U+0750-077F, U+0870-08FF, U+FB50-FDFF, U+FE70-FEFF; }}
@font-face {{ font-family: "Noto Sans Arabic"; font-weight: 700;
  src: url("/app/static/fonts/NotoSansArabic-Bold.ttf") format("truetype");
  unicode-range: U+0600-06FF, U+0750-077F, U+0870-08FF, U+FB50-FDFF, U+FE70-FEFF; }}
body {{ font-family: "Noto Sans Arabic", system-ui, sans-serif; background: #f6f7f9;
       color: #262730; display: flex; justify-content: center; padding-top: 12vh;
       margin: 0; }}
main {{ background: #fff; border: 1px solid #d6d9de; border-radius: 8px;
        padding: 2rem 2.5rem; width: 20rem; }}
h1 {{ font-size: 1.5rem; margin: 0 0 1.5rem; }}
label {{ display: block; font-size: .9rem; margin-bottom: .4rem; }}
input[type=password] {{ width: 100%; box-sizing: border-box; padding: .5rem;
        font-size: 1rem; border: 1px solid #b9bec7; border-radius: 6px; }}
button {{ margin-top: 1rem; padding: .5rem 1.2rem; font-size: 1rem; border-radius: 6px;
          border: 1px solid #ff4b4b; background: #ff4b4b; color: #fff; cursor: pointer; }}
p.error {{ color: #b3261e; background: #fdecea; padding: .6rem; border-radius: 6px; }}
</style></head>
<body><main>
<h1>{heading}</h1>
{message}
<form method="post" action="/login">
<label for="password">{password}</label>
<input type="password" id="password" name="password" autocomplete="current-password"
       autofocus required>
<input type="hidden" name="next" value="{next}">
<button type="submit">{log_in}</button>
</form>
</main></body></html>
"""

def safe_next(target: str | None) -> str:
    """Where to go after login: a path of this site only (never `//host` or a URL)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc else target


def page_language(request: Request, settings: Settings | None) -> str:
    """The language the browser picked on the pages (its cookie), else OPS_LANGUAGE."""
    picked = request.cookies.get(LANGUAGE_COOKIE, "")
    if picked in LANGUAGES:
        return picked
    return settings.ops_language if settings is not None else "en"


def _page(code: str, next_path: str, message: str = "", status: int = 200) -> HTMLResponse:
    """The form in `code`'s language; `message` is already in it."""
    shown = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
    with speaking(code):
        text = {"title": _("Log in - Ops dashboard"), "heading": _("Ops dashboard"),
                "password": _("Password"), "log_in": _("Log in")}
    return HTMLResponse(PAGE.format(
        lang=code, direction="rtl" if code in RIGHT_TO_LEFT else "ltr", message=shown,
        next=html.escape(next_path), **{k: html.escape(v) for k, v in text.items()}),
        status_code=status)


def _is_https(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip()
    return request.url.scheme == "https" or forwarded == "https"


def _same_origin(request: Request) -> bool:
    """A login posted from another site's page is refused (the Origin header, sent by
    browsers with every POST, names the page's site)."""
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host")


def _settings_or_page(request: Request) -> Settings | Response:
    try:
        return load_settings()
    except SettingsError as error:
        code = page_language(request, None)
        with speaking(code):
            said = _("Settings error: {error}").format(error=error)
        return _page(code, "/", said, status=500)


async def show_form(request: Request) -> Response:
    settings = _settings_or_page(request)
    if isinstance(settings, Response):
        return settings
    next_path = safe_next(request.query_params.get("next"))
    if settings.ops_admin_password is None:
        return RedirectResponse(next_path, status_code=303)
    return _page(page_language(request, settings), next_path)


async def log_in(request: Request) -> Response:
    settings = _settings_or_page(request)
    if isinstance(settings, Response):
        return settings
    code = page_language(request, settings)
    form = await request.form()
    next_path = safe_next(str(form.get("next") or "/"))
    if settings.ops_admin_password is None:
        return RedirectResponse(next_path, status_code=303)
    if not _same_origin(request):
        with speaking(code):
            said = _("Refused: the form was sent from another site.")
        return _page(code, next_path, said, 403)
    address = request.client.host if request.client else "unknown"
    wait = throttle.reserve(address)
    if wait is None:
        retry = max(1, round(throttle.retry_after(address)))
        with speaking(code):
            said = _("Too many wrong passwords from {address}: try again in {seconds} s."
                     ).format(address=ltr(address), seconds=ltr(retry))
        return _page(code, next_path, said, 429)
    ok = False
    try:
        await asyncio.sleep(wait)
        ok = password_matches(str(form.get("password") or ""), settings.ops_admin_password)
    finally:
        throttle.done(address, ok)
    if not ok:
        with speaking(code):
            said = _("Wrong password.")
        return _page(code, next_path, said, 401)
    _session, value = new_session(settings)
    answer = RedirectResponse(next_path, status_code=303)
    answer.headers["set-cookie"] = cookie_header(value, settings.ops_session_hours * 3600,
                                                 secure=_is_https(request))
    return answer


async def log_out(request: Request) -> Response:
    """End the session for good (also for copies of its cookie) and forget the cookie."""
    settings = _settings_or_page(request)
    if isinstance(settings, Response):
        return settings
    from ops.web.routes import store_for

    try:
        store = store_for(settings.database_path)
        session = valid_session(settings, store, request.cookies.get(COOKIE))
        if session is not None:
            revoke(store, session)
    except StoreError as error:  # the cookie still goes; a copy of it would not
        log.warning("log out could not record the session as ended: %s", error)
    answer = RedirectResponse("/login", status_code=303)
    answer.headers["set-cookie"] = cookie_header("", 0, secure=_is_https(request))
    return answer


def routes() -> list[BaseRoute]:
    return [Route("/login", show_form, methods=["GET"]),
            Route("/login", log_in, methods=["POST"]),
            Route("/logout", log_out, methods=["GET", "POST"])]
