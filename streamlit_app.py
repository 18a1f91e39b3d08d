"""The dashboard: `streamlit run streamlit_app.py`.

Imported as a module by the server, this file builds the ASGI app (`app`): Streamlit
behind the gate of ops.web.guard (login, loopback-only without a password, security
headers), plus the JSON endpoints, /metrics, backup downloads and the login form. Run as
the page script of a browser session (`__main__`), it draws the frame and the page
navigation.
"""

import streamlit as st
from starlette.middleware import Middleware
from starlette.routing import Route
from streamlit.runtime.pages_manager import PagesManager

from ops.alerts.watcher import start_in_background as watch_the_collector
from ops.i18n import _
from ops.permissions import keep_private
from ops.startup import setup_logging
from ops.web.downloads import routes as download_routes
from ops.web.guard import Guard, api_not_found
from ops.web.login import routes as login_routes
from ops.web.routes import routes as api_routes
from ops.web.stopping import exit_zero_on_sigterm
from pages import language
from pages.common import (
    banners,
    close_sidebar_on_phones,
    logged_in,
    require_login,
    settings_or_stop,
)

keep_private()  # the signing key, the store's files: readable by no other local user
setup_logging()  # every log line of the dashboard (and Streamlit) through the redaction

app = st.App("streamlit_app.py", middleware=[Middleware(Guard)], routes=[
    *api_routes(), *download_routes(), *login_routes(),
    Route("/api/{rest:path}", api_not_found,
          methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
])

if __name__ != "__main__":
    exit_zero_on_sigterm()  # docker stop ends the dashboard with status 0
if __name__ != "__main__":  # the server, not a page run: collector_silent, and sending
    watch_the_collector()  # alerts from this process too (ops.alerts.watcher)

# Pages are declared with st.navigation below. Without this, a server whose first
# visitor opens a page URL (say a bookmarked /history) would fall back to Streamlit's
# older automatic scan of pages/, list every module there, and skip this frame.
PagesManager.uses_pages_directory = False

if __name__ == "__main__":
    settings = settings_or_stop()
    language.start(settings)
    st.set_page_config(page_title=_("Ops dashboard"), page_icon=":material/monitor_heart:",
                       layout="wide")
    navigation = st.navigation([
        st.Page("pages/overview.py", title=_("Overview"), icon=":material/dashboard:",
                default=True),
        st.Page("pages/history.py", title=_("History"), icon=":material/show_chart:"),
        st.Page("pages/backups.py", title=_("Backups"), icon=":material/backup:"),
        st.Page("pages/cache.py", title=_("Cache"), icon=":material/bolt:"),
        st.Page("pages/database.py", title=_("Database"), icon=":material/database:"),
        st.Page("pages/containers.py", title=_("Containers"),
                icon=":material/deployed_code:"),
        st.Page("pages/alerts.py", title=_("Alerts"), icon=":material/notifications:"),
    ], position="sidebar" if logged_in(settings) else "hidden")
    language.lay_out()
    if require_login(settings):
        language.switch()
        close_sidebar_on_phones()
        banners(settings)
        navigation.run()
