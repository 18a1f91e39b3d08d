"""Failures done for real: a closed port, a server stopped mid-dump, a full disk."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from bson import Binary

from ops.backup.catalogue import list_backups
from ops.backup.dump import DumpProgress, dump
from ops.backup.errors import BackupError
from tests.backup_data import seed, unique_db
from tests.servers import free_port

NOW = datetime(2026, 11, 27, 3, 0, 0, tzinfo=UTC)
PASSWORD = "S3cret-p%40ss"  # %40 is "@": both spellings must stay out of messages


def test_unreachable_server_is_a_one_line_error_and_leaves_nothing(tmp_path: Path) -> None:
    uri = f"mongodb://backup:{PASSWORD}@127.0.0.1:{free_port()}/?authSource=admin"
    with pytest.raises(BackupError, match="MongoDB unreachable") as caught:
        dump(uri, tmp_path, ["app"], now=NOW)
    message = str(caught.value)
    assert "\n" not in message
    assert PASSWORD not in message and "S3cret-p@ss" not in message
    assert "backup:***@127.0.0.1" in message
    assert list(tmp_path.iterdir()) == []


def test_failed_login_never_shows_the_password(shared_mongo: Any, tmp_path: Path) -> None:
    """Whatever the server answers to credentials, the message keeps the password out."""
    db = unique_db("auth")
    seed(shared_mongo.uri, db, {"x": [{"_id": 1}]})
    uri = shared_mongo.uri.replace("mongodb://", f"mongodb://backup:{PASSWORD}@")
    try:
        manifest = dump(uri, tmp_path, [db], now=NOW)
    except BackupError as exc:
        assert PASSWORD not in str(exc) and "S3cret-p@ss" not in str(exc)
        assert list(tmp_path.iterdir()) == []
    else:  # a server without authentication accepted it: nothing may have recorded it
        text = (tmp_path / (manifest.file + ".json")).read_text()
        assert PASSWORD not in text and "S3cret" not in text


def test_server_stopped_mid_dump(mongo_own: Any, tmp_path: Path) -> None:
    db = unique_db("midway")
    seed(mongo_own.uri, db, {"a": [{"_id": i, "pad": "x" * 200} for i in range(3000)],
                             "b": [{"_id": i, "pad": "y" * 200} for i in range(3000)]})
    backups = tmp_path / "backups"
    partials_seen: list[str] = []

    def stop_after_first_collection(p: DumpProgress) -> None:
        if p.collections_done == 1 and not partials_seen:
            partials_seen.extend(f.name for f in backups.glob("*.partial"))
            mongo_own.stop()

    with pytest.raises(BackupError, match=r"connection lost|unreachable") as caught:
        dump(mongo_own.uri, backups, [db], now=NOW, progress=stop_after_first_collection)
    assert partials_seen == ["mongo-20261127T030000Z.archive.gz.partial"]
    assert "\n" not in str(caught.value)
    assert list(backups.iterdir()) == []


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MiB filesystem (tmpfs), so writes fail with ENOSPC as on a full disk."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a size-limited tmpfs needs root and mount(8)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)


def test_disk_full_names_the_disk_and_keeps_older_backups(shared_mongo: Any,
                                                          small_disk: Path) -> None:
    db = unique_db("diskfull")
    seed(shared_mongo.uri, db, {"small": [{"_id": i} for i in range(10)]})
    older = dump(shared_mongo.uri, small_disk, [db], now=NOW)
    before = {p.name: p.read_bytes() for p in small_disk.iterdir()}
    # 3 MiB of random bytes cannot compress below the 2 MiB the disk holds
    seed(shared_mongo.uri, db, {"big": [{"_id": i, "noise": Binary(os.urandom(64 * 1024))}
                                        for i in range(48)]})

    later = datetime(2026, 11, 28, 3, 0, 0, tzinfo=UTC)
    with pytest.raises(BackupError, match="disk full") as caught:
        dump(shared_mongo.uri, small_disk, [db], now=later)
    assert str(small_disk) in str(caught.value)
    assert {p.name: p.read_bytes() for p in small_disk.iterdir()} == before
    assert [e.id for e in list_backups(small_disk)] == [older.id]


def test_a_partial_of_the_same_name_is_left_alone(tmp_path: Path) -> None:
    """Another dump may be writing it: refuse rather than delete its file."""
    partial = tmp_path / "mongo-20261127T030000Z.archive.gz.partial"
    partial.write_bytes(b"being written")
    with pytest.raises(BackupError, match="another backup is being written"):
        dump(f"mongodb://127.0.0.1:{free_port()}/", tmp_path, ["app"], now=NOW)
    assert partial.read_bytes() == b"being written"
