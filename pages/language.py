"""The language of a browser session: OPS_LANGUAGE until its user picks another in the
sidebar; the pick lasts for that session and, through a cookie, for the next ones in
the same browser (the login form reads it too). Other sessions keep their own.

In Arabic the whole page is laid out right to left (`dir="rtl"` on the document); the
texts mark their left-to-right islands themselves (ops.i18n.ltr).
"""

from __future__ import annotations

import json

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from ops.config import Settings
from ops.i18n import LANGUAGE_COOKIE as COOKIE
from ops.i18n import (
    LANGUAGES,
    _,
    language,
    ltr,
    right_to_left,
    use_eastern_digits,
    use_session_language,
)

_KEY = "ops_language"
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
    """First thing of every run: the session's language, from its pick, the browser's
    cookie or OPS_LANGUAGE."""
    if _KEY not in st.session_state:
        remembered = st.context.cookies.get(COOKIE)
        st.session_state[_KEY] = (remembered if remembered in LANGUAGES
                                  else settings.ops_language)
    use_eastern_digits(settings.ops_digits == "eastern")


def _chose() -> None:
    st.session_state[_CHOSEN] = True


def switch() -> None:
    """The sidebar's language picker."""
    st.sidebar.selectbox(_("Language"), list(LANGUAGES), key=_KEY,
                         format_func=lambda code: ltr(LANGUAGES[code]), on_change=_chose)


# Direction and language of the whole document, and the cookie of a language picked here.
_DOCUMENT = """<script>
for (const node of [document.documentElement, document.body]) {{
  node.dir = {direction}; node.lang = {code};
}}
if ({remember}) {{
  document.cookie = "{cookie}=" + {code} + "; path=/; max-age=31536000; samesite=strict";
}}
</script>"""

_RIGHT_TO_LEFT_STYLE = """<style>
/* The sidebar on the right, its toggle and the page's columns mirrored by the flex
   layout itself; these put back what Streamlit pins to the left. */
[data-testid="stSidebar"] { left: auto; right: 0; }
[data-testid="stSidebarContent"], [data-testid="stMain"] { direction: rtl; }
[data-testid="stMetricValue"], [data-testid="stMetricDelta"] { direction: rtl; text-align: right; }
[data-testid="stMarkdownContainer"], [data-testid="stCaptionContainer"] { text-align: right; }
[data-testid="stAlertContentInfo"], [data-testid="stAlertContentWarning"],
[data-testid="stAlertContentError"], [data-testid="stAlertContentSuccess"] { direction: rtl; }
code { direction: ltr; unicode-bidi: isolate; }
</style>"""


def lay_out() -> None:
    """The document's direction and language for this session, every run."""
    st.html(_DOCUMENT.format(direction=json.dumps("rtl" if right_to_left() else "ltr"),
                             code=json.dumps(language()),
                             remember="true" if st.session_state.get(_CHOSEN) else "false",
                             cookie=COOKIE),
            unsafe_allow_javascript=True)
    if right_to_left():
        st.html(_RIGHT_TO_LEFT_STYLE)
