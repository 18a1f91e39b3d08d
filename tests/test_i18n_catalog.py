"""The Arabic catalog is complete and matches the code: every marked text translated, none
fuzzy, every placeholder kept, nothing marked in the code missing from it; and the
compiled catalog is the one the pages read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from ops.i18n import _, build, speaking

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = re.compile(r"\{[a-z_]*\}")


def arabic() -> Catalog:
    with build.catalog("ar").open("rb") as file:
        return read_po(file, locale="ar")


def forms(value: str | tuple[str, ...] | None) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def test_every_text_is_translated_and_none_is_fuzzy() -> None:
    untranslated = [m.id for m in arabic() if m.id and not all(forms(m.string))]
    fuzzy = [m.id for m in arabic() if m.id and m.fuzzy]
    assert not untranslated, f"untranslated: {untranslated}"
    assert not fuzzy, f"fuzzy: {fuzzy}"


def test_translations_keep_every_placeholder() -> None:
    lost = []
    for message in arabic():
        if not message.id:
            continue
        wanted = set(PLACEHOLDER.findall(forms(message.id)[-1]))
        for form in forms(message.string):
            found = set(PLACEHOLDER.findall(form))
            # Arabic's "one" and "two" forms may say the number in words
            if wanted - {"{count}"} - found or found - wanted:
                lost.append((message.id, form))
    assert not lost, f"placeholders lost or unknown: {lost}"


def test_the_catalog_holds_every_text_marked_in_the_code(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    template = tmp_path / "ops.pot"
    build.write_template(template)
    with template.open("rb") as file:
        marked = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(file) if m.id}
    held = {m.id if isinstance(m.id, str) else m.id[0] for m in arabic() if m.id}
    assert not marked - held, (f"marked in the code but not in the catalog (run ./run i18n "
                               f"and translate): {sorted(marked - held)}")
    assert not held - marked, f"in the catalog but no longer in the code: {held - marked}"


def test_pages_read_the_compiled_catalog() -> None:
    build.compile_catalogs()
    with speaking("ar"):
        assert _("Overview") == "نظرة عامة"
        assert _("Backups") == "النسخ الاحتياطية"
    assert _("Overview") == "Overview", "English outside a page or notification"
