"""What every page shares: settings, login, banners and one Store for the server process
(each session's script thread gets its own connection from it)."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from ops.clock import now_ms
from ops.config import Settings, SettingsError, load_settings
from ops.storage import Store, StoreError
from ops.views.detail import Detail
from ops.web.auth import LoginThrottle


def settings_or_stop() -> Settings:
    """Settings read afresh on each run (cheap), or the one-line error on the page."""
    try:
        return load_settings()
    except SettingsError as error:
        st.error(f"Settings error: {error}")
        st.stop()
        raise


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
        st.error(str(err))
        st.stop()




def banners(settings: Settings) -> None:
    """On every page: a silent collector and the alerts that are firing."""
    from ops.heartbeat import collector_state
    from ops.storage.alerts import firing

    db = store(str(settings.database_path))
    collector = collector_state(db, settings, now_ms())
    if not collector.running:
        st.warning(collector.message, icon=":material/warning:")
    alerts = firing(db)
    if alerts:
        st.error(f"{len(alerts)} alert(s) firing: " + "; ".join(a.message or a.rule
                                                                for a in alerts[:3])
                 + (" ..." if len(alerts) > 3 else "") + " - see Alerts.",
                 icon=":material/notifications_active:")


@st.cache_resource
def login_throttle() -> LoginThrottle:
    """One throttle for the whole server, so guesses from many sessions add up."""
    return LoginThrottle()


def page_settings() -> Settings:
    """What every page starts with: the settings, and nothing at all before login (so a
    page can never be shown around the frame's login form)."""
    settings = settings_or_stop()
    if not logged_in(settings):
        st.stop()
    return settings


def logged_in(settings: Settings) -> bool:
    return settings.ops_admin_password is None or bool(st.session_state.get("logged_in"))


def require_login(settings: Settings) -> bool:
    """With OPS_ADMIN_PASSWORD set, show only the login form until the password is given;
    True when the pages may be shown."""
    if settings.ops_admin_password is None:
        st.sidebar.caption("No password set: this dashboard is for this machine only. Set "
                           "`OPS_ADMIN_PASSWORD` to require a login (and before exposing it).")
        return True
    if st.session_state.get("logged_in"):
        if st.sidebar.button("Log out", icon=":material/logout:"):
            st.session_state["logged_in"] = False
            st.rerun()
        return True
    st.title("Ops dashboard")
    with st.form("login"):
        given = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Log in")
    if submitted:
        if login_throttle().attempt(given, settings.ops_admin_password):
            st.session_state["logged_in"] = True
            st.rerun()
        st.error("Wrong password.")
    return False


def service_detail(label: str, source: str, configured: bool, range_label: str,
                   read: Callable[[Store, int, int], Detail]) -> tuple[Detail, str]:
    """The top of the Cache and Database pages: not configured, no sample yet, down, or
    the detail of the chosen range; the page goes on only with a sample."""
    from ops.catalogue import service
    from ops.sources.configured import how_to_watch
    from ops.views.history import RANGES

    settings = page_settings()
    st.title(service(source).label)
    if not configured:
        st.info(f"{label} is {how_to_watch(source)}.", icon=":material/info:")
        st.stop()
    choice = st.segmented_control(range_label, list(RANGES), default="1 h",
                                  key=f"{source}_range") or "1 h"
    now = now_ms()
    detail = read(store(str(settings.database_path)),
                  now - int(RANGES[choice].total_seconds() * 1000), now)
    if detail.latest is None:
        st.warning(f"No {label} sample yet: is the collector running?")
        st.stop()
    if not detail.latest.up:
        st.error(f"{label} is down: {detail.latest.error}", icon=":material/error:")
    return detail, choice
