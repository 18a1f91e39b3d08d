"""verify(): real mongodump archives, our dumps, and damage named where it is."""

from __future__ import annotations

import dataclasses
import hashlib
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bson
import pytest

from ops.backup.archive import (
    ArchiveReader,
    ArchiveWriter,
    Document,
    Header,
    Prelude,
    collection_metadata,
    gzip_writer,
)
from ops.backup.dump import dump
from ops.backup.errors import VerifyError
from ops.backup.manifest import Manifest, load_manifest_for
from ops.backup.verify import verify
from tests.backup_data import every_type_documents, flip_byte, gunzip, seed, unique_db, write_gzip
from tests.conftest import FIXTURES

NOW = datetime(2026, 11, 27, 3, 0, 0, tzinfo=UTC)
FIXTURE = FIXTURES / "mongodump-shop.archive.gz"


@pytest.fixture
def backup(shared_mongo: Any, tmp_path: Path) -> tuple[Path, Manifest]:
    db = unique_db("verify")
    seed(shared_mongo.uri, db, {"people": every_type_documents(120),
                                "orders": [{"_id": i, "n": i} for i in range(80)]})
    manifest = dump(shared_mongo.uri, tmp_path / "backups", [db], now=NOW)
    return tmp_path / "backups" / manifest.file, manifest


def test_real_mongodump_archive_verifies_without_manifest() -> None:
    report = verify(FIXTURE)
    assert [(c.name, c.documents) for c in report.collections] == [("customers", 250),
                                                                   ("orders", 1200)]
    assert report.documents_total == 1450
    assert report.sha256 == hashlib.sha256(FIXTURE.read_bytes()).hexdigest()
    assert report.header.tool_version == "built-without-version-string"
    assert not report.manifest_checked


def test_our_dump_verifies_against_its_manifest(backup: tuple[Path, Manifest]) -> None:
    path, manifest = backup
    assert load_manifest_for(path) == manifest
    report = verify(path, manifest)
    assert report.manifest_checked
    assert report.collections == manifest.collections
    assert report.size_bytes == manifest.size_bytes


def test_flipped_byte_in_the_gzip_payload(backup: tuple[Path, Manifest], tmp_path: Path) -> None:
    path, manifest = backup
    data = path.read_bytes()
    path.write_bytes(flip_byte(data, len(data) // 2))
    with pytest.raises(VerifyError, match="sha256 mismatch") as with_manifest:
        verify(path, manifest)
    assert "first damage" in str(with_manifest.value)
    with pytest.raises(VerifyError, match=path.name) as alone:
        verify(path)
    assert "\n" not in str(alone.value)
    assert "at byte" in str(alone.value) or "gzip" in str(alone.value)


def test_flipped_byte_in_a_document_is_caught_by_the_crc(backup: tuple[Path, Manifest],
                                                        tmp_path: Path) -> None:
    path, manifest = backup
    data = gunzip(path)
    target = _document(data, "people", 60)
    inside = target.offset + target.raw.index("مرحبا".encode())
    damaged = tmp_path / path.name  # no manifest beside it: only the archive can tell
    write_gzip(damaged, flip_byte(data, inside))

    with pytest.raises(VerifyError, match=r"CRC mismatch in verify_\S+\.people") as caught:
        verify(damaged)
    offset = int(str(caught.value).rsplit("at byte ", 1)[1])
    assert offset > inside, "the CRC is checked at the collection's end marker"
    with pytest.raises(VerifyError, match=r"sha256 mismatch.*CRC mismatch"):
        verify(damaged, manifest)


def test_broken_document_length_is_located(backup: tuple[Path, Manifest],
                                           tmp_path: Path) -> None:
    path, _ = backup
    data = gunzip(path)
    target = _document(data, "orders", 10)
    damaged = tmp_path / path.name
    write_gzip(damaged, data[:target.offset] + b"\x02\x00\x00\x00" + data[target.offset + 4:])
    with pytest.raises(VerifyError, match=f"at byte {target.offset}$"):
        verify(damaged)


def test_document_that_is_not_bson_is_located(tmp_path: Path) -> None:
    """Right length, right CRC, wrong content: only parsing each document finds it."""
    good = bson.encode({"_id": 1, "name": "ok"})
    bad = bytearray(bson.encode({"_id": 2, "name": "ok"}))
    bad[4] = 0x77  # not a BSON element type
    out = io.BytesIO()
    with gzip_writer(out, 6) as gz:
        writer = ArchiveWriter(gz, Prelude(Header("7.0.0", "test"), [
            collection_metadata("app", "c", "collection", {}, [])]))
        writer.begin("app", "c")
        writer.write_documents(good + bytes(bad))
        writer.end()
    path = tmp_path / "crafted.archive.gz"
    path.write_bytes(out.getvalue())
    expected_offset = _document(gunzip(path), "c", 1).offset
    with pytest.raises(VerifyError, match=f"app.c does not parse as BSON.*at byte "
                                          f"{expected_offset}$"):
        verify(path)


def test_counts_must_match_the_manifest(backup: tuple[Path, Manifest]) -> None:
    path, manifest = backup
    edited = dataclasses.replace(manifest, collections=[
        dataclasses.replace(c, documents=c.documents + 1) if c.name == "orders" else c
        for c in manifest.collections])
    with pytest.raises(VerifyError, match=r"orders has 80 documents / \d+ bytes, manifest "
                                          r"says 81"):
        verify(path, edited)


def test_truncated_and_missing_files(backup: tuple[Path, Manifest], tmp_path: Path) -> None:
    path, _ = backup
    cut = tmp_path / "cut.archive.gz"
    cut.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(VerifyError, match=r"cut\.archive\.gz: .*(truncated|gzip)"):
        verify(cut)
    with pytest.raises(VerifyError, match="no such file"):
        verify(tmp_path / "absent.archive.gz")


def _document(data: bytes, collection: str, index: int) -> Document:
    docs = [e for e in ArchiveReader([data])
            if isinstance(e, Document) and e.collection == collection]
    return docs[index]
