"""What every page shares: settings, login, banners and one Store for the server process
(each session's script thread gets its own connection from it)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from ops import formatting
from ops.clock import now_ms
from ops.config import Settings, SettingsError, load_settings
from ops.i18n import N_, _, ltr, right_to_left
from ops.storage import Store, StoreError
from ops.views.detail import Detail
from ops.web.sessions import Session
from pages import language

# Every ASCII punctuation character: each may start Markdown syntax (links, images,
# emphasis, HTML, :colour[...] and :icon: shortcodes, $math$), and each may be escaped.
_MARKDOWN_SYNTAX = re.compile(r"([!-/:-@\[-`{-~])")
# Escapes do not stop GitHub-style autolinks, which are found in the text after it is
# parsed: an invisible word joiner inside each `://`, `www.` and `@` does.
_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\.)|(?<=@)", re.IGNORECASE)
WORD_JOINER = "\u2060"


def plain(text: object) -> str:
    """Text a service, a database or an error controls, made inert for the Markdown that
    st.markdown, st.caption, st.error and friends render: shown as typed (but for an
    invisible word joiner that unlinks URLs), on one line, never a link, an image or
    HTML; on an Arabic page, a left-to-right island (services write English)."""
    unlinked = _AUTOLINK.sub(WORD_JOINER, " ".join(str(text).split()))
    return ltr(_MARKDOWN_SYNTAX.sub(r"\\\1", unlinked))


def data_table(data: pd.DataFrame | list[dict[str, Any]], **options: Any) -> None:
    """st.dataframe, with its first column on the right on a right-to-left page (the grid
    lays its columns out left to right whatever the page's direction)."""
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    if right_to_left():
        frame = frame[list(reversed(frame.columns))]
    st.dataframe(frame, **options)


def settings_or_stop() -> Settings:
    """Settings read afresh on each run (cheap), or the one-line error on the page; times
    are shown in their display zone from here on."""
    try:
        settings = load_settings()
    except SettingsError as error:
        st.error(_("Settings error: {error}").format(error=ltr(error)))
        st.stop()
        raise
    formatting.set_display_zone(settings.ops_display_timezone)
    return settings


@st.cache_resource
def _open_store(path: str) -> Store:
    from pathlib import Path

    return Store(Path(path))


def store(path: str) -> Store:
    """One Store for the server process (each session's script thread gets its own
    connection from it), or the page stops with the one line saying why the file
    cannot be used."""
    try:
        return _open_store(path)
    except StoreError as err:
        st.error(ltr(err))
        st.stop()




def banners(settings: Settings) -> None:
    """On every page: a silent collector and the alerts that are firing."""
    from ops.alerts.shown import shown_message
    from ops.heartbeat import collector_state
    from ops.storage.alerts import firing

    db = store(str(settings.database_path))
    collector = collector_state(db, settings, now_ms())
    if not collector.running:
        st.warning(collector.shown, icon=":material/warning:")
    differ = watched_settings(settings)[1]
    if differ is not None:
        st.info(ltr(differ), icon=":material/info:")
    alerts = firing(db)
    if alerts:
        shown = "; ".join(shown_message(a, plain) for a in alerts[:3])
        st.error(_("{count} alert(s) firing: {alerts}{more} - see Alerts.")
                 .format(count=formatting.figure(str(len(alerts))), alerts=shown,
                         more=" ..." if len(alerts) > 3 else ""),
                 icon=":material/notifications_active:")


def page_settings() -> Settings:
    """What every page starts with: the settings, and nothing at all before login (so a
    page can never be shown around the frame's login check)."""
    settings = settings_or_stop()
    language.start(settings)  # also when a page is run without the frame (AppTest)
    if not logged_in(settings):
        st.stop()
    return watched_settings(settings)[0]


def watched_settings(settings: Settings) -> tuple[Settings, str | None]:
    """The settings with what the collector watches (ops.watching), and a line when
    this dashboard's own differ."""
    from ops.watching import as_collector_watches

    return as_collector_watches(settings, store(str(settings.database_path)))


def _session(settings: Settings) -> Session | None:
    """This browser's login session, from the cookie its websocket was opened with."""
    from ops.web.sessions import COOKIE, valid_session

    return valid_session(settings, store(str(settings.database_path)),
                         st.context.cookies.get(COOKIE))


def logged_in(settings: Settings) -> bool:
    """Pages may be drawn: a valid session, or no password and served on loopback only
    (the server's gate, ops.web.guard, judged the client before the app ever ran)."""
    from ops.web.guard import pages_refused

    if settings.ops_admin_password is None:
        return pages_refused(settings, None) is None
    return _session(settings) is not None


def _go(path: str) -> None:
    """Send the browser to a page of the server (the login form, /logout)."""
    st.html(f"<script>window.location.replace({json.dumps(path)})</script>",
            unsafe_allow_javascript=True)


# On a phone the sidebar covers the page and Streamlit leaves it open after a page is
# chosen from it. This listens, once per browser tab, for a click on a page link and
# then closes the sidebar on screens up to 640 px wide.
_CLOSE_SIDEBAR_ON_PHONES = """<script>
if (!window.opsClosesSidebar) {
  window.opsClosesSidebar = true;
  document.addEventListener("click", (event) => {
    if (!event.target.closest('[data-testid="stSidebarNavLink"]')) return;
    if (!window.matchMedia("(max-width: 640px)").matches) return;
    const close = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
    if (close && close.offsetParent !== null) setTimeout(() => close.click(), 0);
  }, true);
}
</script>"""


def close_sidebar_on_phones() -> None:
    st.html(_CLOSE_SIDEBAR_ON_PHONES, unsafe_allow_javascript=True)


def require_login(settings: Settings) -> bool:
    """True when the pages may be shown. Logging in happens at /login (an HTTP form that
    sets the session cookie); here: the Log out button, and the way back to /login when
    the session ended while the page stayed open."""
    from ops.web.guard import pages_refused
    from ops.web.sessions import revoke

    if settings.ops_admin_password is None:
        refused = pages_refused(settings, None)
        if refused is not None:
            st.error(refused, icon=":material/lock:")
            return False
        st.sidebar.caption(_("No password set: this dashboard is for this machine only. Set "
                             "{setting} to require a login (and before exposing it).")
                           .format(setting=ltr("`OPS_ADMIN_PASSWORD`")))
        return True
    session = _session(settings)
    if session is None:
        st.title(_("Ops dashboard"))
        st.info(_("Your session has ended: [log in again](/login)."), icon=":material/lock:")
        _go("/login")
        return False
    if st.sidebar.button(_("Log out"), icon=":material/logout:"):
        revoke(store(str(settings.database_path)), session)
        _go("/logout")
        st.stop()
    return True


# The chart ranges (ops.views.history.RANGES) as a page names them.
_RANGE_NAMES = {"15 min": N_("15 min"), "1 h": N_("1 h"), "6 h": N_("6 h"),
                "24 h": N_("24 h"), "7 d": N_("7 d"), "30 d": N_("30 d"), "90 d": N_("90 d"),
                "1 y": N_("1 y"), "custom": N_("custom")}


def range_name(key: str) -> str:
    """A chart range's key ("24 h") in the page's language."""
    return _(_RANGE_NAMES.get(key, key))


def service_detail(label: str, source: str, configured: bool, range_label: str,
                   read: Callable[[Store, int, int], Detail]) -> tuple[Detail, str]:
    """The top of the Cache and Database pages: not configured, no sample yet, down, or
    the detail of the chosen range; the page goes on only with a sample."""
    from ops.catalogue import service
    from ops.sources.configured import how_to_watch
    from ops.views.history import RANGES

    settings = page_settings()
    st.title(_(service(source).label))
    if not configured:
        st.info(_("{service} is {how_to_watch}.").format(service=ltr(label),
                                                          how_to_watch=how_to_watch(source)),
                icon=":material/info:")
        st.stop()
    choice = st.segmented_control(range_label, list(RANGES), default="1 h",
                                  format_func=range_name,
                                  key=f"{source}_range") or "1 h"
    now = now_ms()
    detail = read(store(str(settings.database_path)),
                  now - int(RANGES[choice].total_seconds() * 1000), now)
    if detail.latest is None:
        st.warning(_("No {service} sample yet: is the collector running?").format(
            service=ltr(label)))
        st.stop()
    if not detail.latest.up:
        st.error(_("{service} is down: {error}").format(service=ltr(label),
                                                        error=plain(detail.latest.error)),
                 icon=":material/error:")
    return detail, choice
