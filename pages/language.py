"""The language of a browser session: OPS_LANGUAGE until its user picks another in the
sidebar; the pick lasts for that session and, through a cookie, for the next ones in
the same browser (the login form reads it too). Other sessions keep their own.

In Arabic the whole page is laid out right to left (`dir="rtl"` on the document); the
texts mark their left-to-right islands themselves (ops.i18n.ltr).
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from ops.config import Settings
from ops.i18n import LANGUAGE_COOKIE as COOKIE
from ops.i18n import (
    LANGUAGES,
    LEFT_TO_RIGHT_ISOLATE,
    POP_DIRECTIONAL_ISOLATE,
    _,
    language,
    right_to_left,
    use_eastern_digits,
    use_session_language,
)

_KEY = "ops_language"  # the session's language: a plain key, kept across every run
_PICKER = "ops_language_picker"  # the picker widget's own key
_CHOSEN = "ops_language_chosen"


def _session_language() -> str | None:
    """The language of the page being drawn; None outside a page run (the JSON
    endpoints, the alert watcher: English, or what the code around says)."""
    if get_script_run_ctx(suppress_warning=True) is None:
        return None
    chosen = st.session_state.get(_KEY)
    return chosen if isinstance(chosen, str) else None


use_session_language(_session_language)


def start(settings: Settings) -> None:
    """First thing of every run (the frame's, and a page's own): the session's language,
    from its pick, the browser's cookie or OPS_LANGUAGE."""
    if _KEY not in st.session_state:
        remembered = st.context.cookies.get(COOKIE)
        st.session_state[_KEY] = (remembered if remembered in LANGUAGES
                                  else settings.ops_language)
    use_eastern_digits(settings.ops_digits == "eastern")


def _chose() -> None:
    st.session_state[_KEY] = st.session_state[_PICKER]
    st.session_state[_CHOSEN] = True


def _language_name(code: str) -> str:
    """A language by its own name, an island of its own direction in any page (the same
    text whatever the page's language, as a widget's options must be)."""
    return f"{LEFT_TO_RIGHT_ISOLATE}{LANGUAGES[code]}{POP_DIRECTIONAL_ISOLATE}"


def switch() -> None:
    """The sidebar's language picker."""
    codes = list(LANGUAGES)
    st.sidebar.selectbox(_("Language"), codes, index=codes.index(language()), key=_PICKER,
                         format_func=_language_name, on_change=_chose)


# Direction and language of the whole document, from the marker this run draws (the
# last one not left from an earlier run), and the cookie of a language picked here. The
# script is installed once per tab and follows every run: a script element's own code
# is not run again when Streamlit keeps the element between runs.
_FOLLOW_MARKER = """<script>
if (!window.opsFollowsLanguage) {
  window.opsFollowsLanguage = true;
  const apply = () => {
    const markers = [...document.querySelectorAll("[data-ops-dir]")]
      .filter((node) => !node.closest('[data-stale="true"]'));
    const marker = markers[markers.length - 1];
    if (!marker) return;
    for (const node of [document.documentElement, document.body]) {
      if (node.dir !== marker.dataset.opsDir) node.dir = marker.dataset.opsDir;
      if (node.lang !== marker.dataset.opsLang) node.lang = marker.dataset.opsLang;
    }
    if (marker.dataset.opsRemember === "true") {
      document.cookie = marker.dataset.opsCookie + "=" + marker.dataset.opsLang +
        "; path=/; max-age=31536000; samesite=strict";
    }
  };
  new MutationObserver(apply).observe(document.body, {subtree: true, childList: true,
    attributes: true, attributeFilter: ["data-ops-dir", "data-stale"]});
  apply();
}
</script>"""
_MARKER = ('<span hidden data-ops-dir="{direction}" data-ops-lang="{code}" '
           'data-ops-remember="{remember}" data-ops-cookie="{cookie}"></span>')

_RIGHT_TO_LEFT_STYLE = """<style>
/* The sidebar on the right, its toggle and the page's columns mirrored by the flex
   layout itself; these put back what Streamlit pins to the left. Collapsed, Streamlit
   narrows the sidebar to nothing and moves it off the left edge: on the right, its content
   would stay in view as a strip unless cut to the sidebar's width. */
[data-testid="stSidebar"] { overflow: hidden; }
[data-testid="stSidebarContent"], [data-testid="stMain"] { direction: rtl; }
[data-testid="stMetricValue"], [data-testid="stMetricDelta"] { direction: rtl; text-align: right; }
[data-testid="stMarkdownContainer"], [data-testid="stCaptionContainer"] { text-align: right; }
[data-testid="stAlertContentInfo"], [data-testid="stAlertContentWarning"],
[data-testid="stAlertContentError"], [data-testid="stAlertContentSuccess"] { direction: rtl; }
code { direction: ltr; unicode-bidi: isolate; }
</style>"""


def lay_out() -> None:
    """The document's direction and language for this session, every run."""
    st.html(_FOLLOW_MARKER, unsafe_allow_javascript=True)
    st.html(_MARKER.format(direction="rtl" if right_to_left() else "ltr", code=language(),
                           remember="true" if st.session_state.get(_CHOSEN) else "false",
                           cookie=COOKIE))
    if right_to_left():
        st.html(_RIGHT_TO_LEFT_STYLE)
