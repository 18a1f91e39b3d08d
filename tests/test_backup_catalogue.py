"""The catalogue follows the files on disk; retention keeps the newest good backup."""

from __future__ import annotations

import hashlib
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ops.backup.catalogue import find, list_backups, remove_partials
from ops.backup.dump import dump
from ops.backup.errors import NotFoundError
from ops.backup.manifest import Manifest, archive_name, backup_id, write_manifest
from ops.backup.retention import prune
from ops.backup.verify import verify
from tests.backup_data import seed, unique_db

T1 = datetime(2026, 11, 25, 3, 0, 0, tzinfo=UTC)
T2 = datetime(2026, 11, 26, 3, 0, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 27, 3, 0, 0, tzinfo=UTC)


@pytest.fixture
def two_backups(shared_mongo: Any, tmp_path: Path) -> tuple[Path, Manifest, Manifest]:
    db = unique_db("catalogue")
    seed(shared_mongo.uri, db, {"a": [{"_id": i} for i in range(12)], "b": []})
    backups = tmp_path / "backups"
    first = dump(shared_mongo.uri, backups, [db], now=T1)
    second = dump(shared_mongo.uri, backups, [db], now=T2)
    return backups, first, second


def fake_backup(directory: Path, when: datetime, status: str | None = "ok") -> str:
    """An archive-shaped file and (unless status is None) its manifest; retention reads
    only names and manifests, so the bytes need not be an archive."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / archive_name(when)
    content = os.urandom(64)
    path.write_bytes(content)
    if status is not None:
        write_manifest(Manifest(
            id=backup_id(path), file=path.name, sha256=hashlib.sha256(content).hexdigest(),
            size_bytes=64, started=when,
            finished=when, duration_s=1.0, server_version="7.0.0", tool="ops-dashboard test",
            status=status, verified=status == "ok"), path.with_name(path.name + ".json"))
    return backup_id(path)


def test_listing_reflects_the_directory(two_backups: tuple[Path, Manifest, Manifest]) -> None:
    backups, first, second = two_backups
    entries = list_backups(backups)
    assert [e.id for e in entries] == [second.id, first.id]
    newest = entries[0]
    assert newest.file == backups / second.file
    assert newest.created == T2
    assert newest.size_bytes == (backups / second.file).stat().st_size
    assert (newest.status, newest.verified, newest.documents, newest.collections) == (
        "ok", True, 12, 2)
    assert newest.duration_s == second.duration_s

    # copied in by hand, with its manifest, under another name
    shutil.copy(backups / first.file, backups / "mongo-20250101T000000Z.archive.gz")
    shutil.copy(backups / (first.file + ".json"),
                backups / "mongo-20250101T000000Z.archive.gz.json")
    # copied in alone
    shutil.copy(backups / second.file, backups / "mongo-20240601T000000Z.archive.gz")
    # never listed: a partial, a manifest without archive, an unrelated file
    (backups / "mongo-20261201T000000Z.archive.gz.partial").write_bytes(b"half")
    (backups / "mongo-20230101T000000Z.archive.gz.json").write_text("{}")
    (backups / "notes.txt").write_text("hello")

    entries = list_backups(backups)
    assert [e.id for e in entries] == [second.id, first.id, "mongo-20250101T000000Z",
                                       "mongo-20240601T000000Z"]
    by_id = {e.id: e for e in entries}
    assert by_id["mongo-20250101T000000Z"].status == "ok"
    assert by_id["mongo-20250101T000000Z"].created == datetime(2025, 1, 1, tzinfo=UTC)
    alone = by_id["mongo-20240601T000000Z"]
    assert (alone.status, alone.verified, alone.documents) == ("no manifest", False, None)

    (backups / first.file).unlink()
    assert first.id not in [e.id for e in list_backups(backups)]


def test_damaged_or_unreadable_manifests_are_flagged(tmp_path: Path) -> None:
    good = fake_backup(tmp_path, T1)
    (tmp_path / f"{good}.archive.gz").write_bytes(b"x" * 10)  # size no longer matches
    broken = fake_backup(tmp_path, T2)
    (tmp_path / f"{broken}.archive.gz.json").write_text("{not json")
    status = {e.id: e.status for e in list_backups(tmp_path)}
    assert status == {good: "size differs from manifest", broken: "unreadable manifest"}


def test_find_by_id_file_name_or_path(two_backups: tuple[Path, Manifest, Manifest]) -> None:
    backups, first, _ = two_backups
    assert find(backups, first.id).id == first.id
    assert find(backups, first.file).id == first.id
    assert find(backups, backups / first.file).file == backups / first.file
    report = verify(find(backups, first.id).file, find(backups, first.id).manifest)
    assert report.manifest_checked
    with pytest.raises(NotFoundError, match=f"no backup 'mongo-19990101T000000Z' in {backups}"):
        find(backups, "mongo-19990101T000000Z")


def test_remove_partials_leaves_backups_alone(two_backups: tuple[Path, Manifest, Manifest]
                                              ) -> None:
    backups, first, second = two_backups
    partial = backups / "mongo-20261201T000000Z.archive.gz.partial"
    partial.write_bytes(b"half")
    stale = backups / ".manifest-abc.tmp"
    stale.write_text("{}")
    assert remove_partials(backups) == sorted([partial, stale])
    assert sorted(p.name for p in backups.iterdir()) == sorted(
        [first.file, first.file + ".json", second.file, second.file + ".json"])


def test_retention_boundary(tmp_path: Path) -> None:
    limit = NOW - timedelta(days=7)
    exactly = fake_backup(tmp_path, limit)
    older = fake_backup(tmp_path, limit - timedelta(seconds=1))
    recent = fake_backup(tmp_path, NOW - timedelta(days=1))
    assert prune(tmp_path, 7, NOW) == [older]
    assert [e.id for e in list_backups(tmp_path)] == [recent, exactly]
    assert not (tmp_path / f"{older}.archive.gz.json").exists()
    assert prune(tmp_path, 7, NOW) == [], "pruning again removes nothing"


def test_only_old_backups_keep_the_newest_good_one(tmp_path: Path) -> None:
    good_old = fake_backup(tmp_path, NOW - timedelta(days=30))
    newest_good = fake_backup(tmp_path, NOW - timedelta(days=20))
    failed = fake_backup(tmp_path, NOW - timedelta(days=15), status="failed")
    bare = fake_backup(tmp_path, NOW - timedelta(days=12), status=None)
    assert sorted(prune(tmp_path, 7, NOW)) == sorted([good_old, failed, bare])
    assert [e.id for e in list_backups(tmp_path)] == [newest_good]


def test_retention_ignores_file_times(tmp_path: Path) -> None:
    """Ages come from the names: touching or copying a file changes nothing."""
    old = fake_backup(tmp_path, NOW - timedelta(days=9))
    new = fake_backup(tmp_path, NOW - timedelta(days=2))
    for path in tmp_path.iterdir():
        os.utime(path, (0, 0))
    assert prune(tmp_path, 7, NOW) == [old]
    assert [e.id for e in list_backups(tmp_path)] == [new]
    with pytest.raises(ValueError, match="retention_days"):
        prune(tmp_path, -1, NOW)


def test_prune_real_backups(two_backups: tuple[Path, Manifest, Manifest]) -> None:
    backups, first, second = two_backups
    assert prune(backups, 1, NOW) == [first.id]
    assert [e.id for e in list_backups(backups)] == [second.id]
    assert prune(backups, 0, NOW + timedelta(days=365)) == []
    assert verify(backups / second.file, second).manifest_checked


def test_a_damaged_newest_backup_is_not_trusted_to_keep_older_good_ones(
        two_backups: tuple[Path, Manifest, Manifest]) -> None:
    """A byte of the newest archive flipped on disk after it was verified: retention
    must not take it as the newest good backup and delete the older, intact one."""
    backups, first, second = two_backups
    damaged = backups / second.file
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    assert list_backups(backups)[0].ok, "the catalogue alone still says ok"
    assert prune(backups, 0, NOW + timedelta(days=365)) == [second.id]
    assert [e.id for e in list_backups(backups)] == [first.id]
