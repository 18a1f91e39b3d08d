"""Keeping the catalogs, with Babel's own commands (`pybabel`):

    python -m ops.i18n.build extract   texts marked in the code -> ops/i18n/ops.pot,
                                       then merged into each language's .po
    python -m ops.i18n.build compile   each .po -> .mo (what gettext reads), when older

`./run i18n` extracts; `./run` and the image compile. A translator edits
ops/i18n/locale/ar/LC_MESSAGES/ops.po (see docs/translation/GLOSSARY.md).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from babel.messages.frontend import CommandLineInterface

from ops.i18n import DOMAIN, LANGUAGES, LOCALE_DIR

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = Path(__file__).parent / f"{DOMAIN}.pot"
SOURCES = ("ops", "pages", "streamlit_app.py")
KEYWORDS = ("_", "N_", "ngettext:1,2")


def _pybabel(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "-q", *args])  # type: ignore[no-untyped-call]


def catalog(code: str) -> Path:
    return LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"


def write_template(path: Path) -> None:
    """Every marked text of the code, as a gettext template (run from the repository's
    root: locations are relative to it)."""
    keywords = [arg for keyword in KEYWORDS for arg in ("-k", keyword)]
    _pybabel("extract", "--no-default-keywords", *keywords, "--add-location=file",
             "--sort-by-file", "--project=ops-dashboard", "--no-wrap", "-o", str(path),
             *SOURCES)


def extract() -> None:
    os.chdir(ROOT)
    write_template(TEMPLATE)
    for code in LANGUAGES:
        if code == "en":
            continue
        command = "update" if catalog(code).exists() else "init"
        _pybabel(command, "-i", str(TEMPLATE), "-d", str(LOCALE_DIR), "-D", DOMAIN,
                 "-l", code, "--no-wrap",
                 *(["--no-fuzzy-matching", "--ignore-obsolete"] if command == "update"
                   else []))


def compile_catalogs() -> None:
    """Each .po that is newer than its .mo, compiled; a fuzzy or broken entry fails."""
    for code in LANGUAGES:
        po = catalog(code)
        if code == "en" or not po.exists():
            continue
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        _pybabel("compile", "-d", str(LOCALE_DIR), "-D", DOMAIN, "-l", code)


def main(argv: list[str]) -> int:
    commands = {"extract": extract, "compile": compile_catalogs}
    if len(argv) != 1 or argv[0] not in commands:
        print("usage: python -m ops.i18n.build extract|compile", file=sys.stderr)
        return 2
    commands[argv[0]]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
