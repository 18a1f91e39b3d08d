"""The languages people read: English (the source texts) and Arabic (right to left).

Texts are marked `_("...")` (`ngettext` for counts; `N_` marks a module constant that
is translated where it is shown) and looked up in the gettext catalog of
ops/i18n/locale, kept with Babel (`./run i18n`, see ops.i18n.build).

Which language a text is told in: the one the page session chose (the dashboard
registers how to read it, see use_session_language), else the one set around a block of
code (`with speaking("ar"):`, as notifications do with OPS_LANGUAGE), else English. So
the JSON endpoints, /metrics, logs and commands, which scripts read, stay English.

Foundations layer: imports nothing from ops.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "ops"
LANGUAGES = {"en": "English", "ar": "العربية"}
RIGHT_TO_LEFT = frozenset({"ar"})
# The browser's pick of language, kept between sessions (set by the page's picker, read
# by the pages and the login form).
LANGUAGE_COOKIE = "ops_language"

# Unicode isolates (UAX #9): text between them is laid out on its own, left to right,
# whatever surrounds it, and never reorders its neighbours.
LEFT_TO_RIGHT_ISOLATE = "\u2066"
POP_DIRECTIONAL_ISOLATE = "\u2069"

_spoken: ContextVar[str] = ContextVar("ops_language", default="en")


def _no_session() -> str | None:
    return None


_session_language: Callable[[], str | None] = _no_session
_eastern_digits = False


def use_session_language(read: Callable[[], str | None]) -> None:
    """How the dashboard tells the language of the page being drawn (None: no page)."""
    global _session_language  # one registration per process, by the dashboard
    _session_language = read


def use_eastern_digits(eastern: bool) -> None:
    """OPS_DIGITS: Arabic-Indic digits in numbers on Arabic pages."""
    global _eastern_digits  # one setting of the process, as the display zone
    _eastern_digits = eastern


@contextmanager
def speaking(code: str) -> Iterator[None]:
    """Tell the texts made inside the block in `code` (a notification in OPS_LANGUAGE)."""
    token = _spoken.set(code if code in LANGUAGES else "en")
    try:
        yield
    finally:
        _spoken.reset(token)


def language() -> str:
    chosen = _session_language()
    return chosen if chosen in LANGUAGES else _spoken.get()


def right_to_left() -> bool:
    return language() in RIGHT_TO_LEFT


@cache
def _catalog(code: str) -> gettext.NullTranslations:
    if code == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, [code], fallback=True)


def as_told(show: Callable[[str], str]) -> Callable[[str], str]:
    """`show` as a widget's format_func: told in the language of the page run that drew
    the widget, also when Streamlit calls it again outside that run (the options it then
    compares must be the ones it drew)."""
    code = language()

    def told(value: str) -> str:
        with speaking(code):
            return show(value)

    return told


def _(message: str) -> str:
    """`message` in the current language (itself when the catalog has no translation)."""
    return _catalog(language()).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    return _catalog(language()).ngettext(singular, plural, count)


def N_(message: str) -> str:  # noqa: N802 - the name gettext's tools know
    """Marks a constant for the catalog; it is translated with _() where it is shown."""
    return message


def ltr(text: object) -> str:
    """An island of left-to-right text (a number and its unit, a time, a host name, an
    error from a service) inside a right-to-left sentence; unchanged in English."""
    shown = str(text)
    if not right_to_left() or not shown:
        return shown
    return f"{LEFT_TO_RIGHT_ISOLATE}{shown}{POP_DIRECTIONAL_ISOLATE}"


@cache
def _eastern() -> dict[int, str]:
    """Arabic-Indic digits with the decimal, group and percent signs CLDR gives Arabic
    in that numbering system."""
    from babel.core import Locale

    signs = Locale.parse("ar").number_symbols["arab"]
    return str.maketrans({**dict(zip("0123456789", "٠١٢٣٤٥٦٧٨٩", strict=True)),
                          ".": signs["decimal"], ",": signs["group"], "%": signs["percentSign"]})


def digits(text: str) -> str:
    """A formatted number in the digits of the page: Western digits and signs, which
    CLDR's Arabic shares with English, unless OPS_DIGITS=eastern on an Arabic page."""
    return text.translate(_eastern()) if _eastern_digits and right_to_left() else text
