"""Dump and restore against a real MongoDB server: data, indexes, views, targets."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bson
import pytest
from bson import Binary, Code, Decimal128, Int64, MaxKey, MinKey, Regex, Timestamp

from ops.backup.dump import DumpProgress, dump
from ops.backup.errors import BackupError, RestoreError
from ops.backup.manifest import read_manifest
from ops.backup.restore import RestoreProgress, restore
from tests.backup_data import (
    canonical,
    client,
    every_type_documents,
    flip_byte,
    gunzip,
    indexes,
    parse_spec,
    seed,
    snapshot,
    unique_db,
    write_gzip,
)
from tests.conftest import FIXTURES

NOW = datetime(2026, 11, 27, 3, 0, 0, tzinfo=UTC)
STAND_IN_STORES_JSON = ("nx-27017 stores documents as JSON: it rejects Decimal128, Regex, "
                        "Timestamp, MinKey/MaxKey and non-finite doubles, and drops binary "
                        "subtypes")
STAND_IN_INDEXES = "nx-27017 renames indexes and stores every key direction as 1"
STAND_IN_VIEWS = "nx-27017 creates a plain collection when asked for a view"


def seed_shop(uri: str, db: str) -> list[dict[str, Any]]:
    people = every_type_documents(200)
    seed(uri, db, {"people": people,
                   "orders": [{"_id": i, "total": Int64(10**12 + i), "note": None}
                              for i in range(300)],
                   "empty": []})
    with client(uri) as c:
        c[db].people.create_index("email", unique=True, name="people_email_unique")
        c[db].people.create_index([("when", -1), ("int32", 1)], name="people_when_int")
        c[db].orders.create_index("total", name="orders_total")
    return people


def by_id(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return {json.dumps(canonical(d["_id"])): canonical(d) for d in docs}


def test_round_trip_keeps_every_document_and_index(shared_mongo: Any, tmp_path: Path) -> None:
    source, target = unique_db("rt_src"), unique_db("rt_dst")
    people = seed_shop(shared_mongo.uri, source)
    seen: list[DumpProgress] = []

    manifest = dump(shared_mongo.uri, tmp_path, [source], now=NOW, progress=seen.append)
    archive = tmp_path / "mongo-20261127T030000Z.archive.gz"
    assert sorted(p.name for p in tmp_path.iterdir()) == [archive.name, archive.name + ".json"]
    restored: list[RestoreProgress] = []
    report = restore(archive, shared_mongo.uri, target, progress=restored.append)

    assert snapshot(shared_mongo.uri, target) == snapshot(shared_mongo.uri, source)
    with client(shared_mongo.uri) as c:
        back = list(c[target].people.find())
    assert by_id(back) == by_id(people), "decoded documents equal what was inserted"
    assert report.documents_total == 500 and report.from_db == source
    assert report.indexes_created == 3
    assert seen[-1].collections_done == seen[-1].collections_total == 3
    assert seen[-1].documents_done == seen[-1].documents_estimated == 500
    assert restored[-1].documents_done == restored[-1].documents_total == 500
    assert manifest.documents_total == 500
    assert {(c.name, c.documents) for c in manifest.collections} == {
        ("people", 200), ("orders", 300), ("empty", 0)}


def test_manifest_describes_the_file(shared_mongo: Any, tmp_path: Path) -> None:
    db = unique_db("manifest")
    seed(shared_mongo.uri, db, {"things": [{"_id": i} for i in range(7)]})
    manifest = dump(shared_mongo.uri, tmp_path, [db], now=NOW, gzip_level=1)
    archive = tmp_path / manifest.file
    on_disk = read_manifest(tmp_path / (manifest.file + ".json"))

    assert on_disk == manifest
    assert manifest.id == "mongo-20261127T030000Z"
    assert manifest.file == "mongo-20261127T030000Z.archive.gz"
    assert manifest.sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert manifest.size_bytes == archive.stat().st_size
    assert manifest.started == NOW and manifest.finished >= manifest.started
    assert manifest.duration_s >= 0
    assert manifest.status == "ok" and manifest.verified and manifest.verified_at is not None
    assert manifest.tool.startswith("ops-dashboard ") and manifest.archive_format == "0.1"
    assert manifest.server_version and manifest.gzip_level == 1
    assert manifest.databases == [db]
    text = (tmp_path / (manifest.file + ".json")).read_text()
    assert '"started": "2026-11-27T03:00:00.000Z"' in text


def test_our_dump_has_the_layout_of_real_mongodump(shared_mongo: Any, tmp_path: Path) -> None:
    db = unique_db("layout")
    seed_shop(shared_mongo.uri, db)
    manifest = dump(shared_mongo.uri, tmp_path, [db], now=NOW)
    ours = parse_spec(gunzip(tmp_path / manifest.file))
    theirs = parse_spec(gunzip(FIXTURES / "mongodump-shop.archive.gz"))
    assert ours["layout"] == theirs["layout"]
    assert ours["namespaces"] == {f"{db}.people": 200, f"{db}.orders": 300, f"{db}.empty": 0}
    assert ours["header"]["tool_version"] == manifest.tool


def test_restore_refuses_a_non_empty_target_and_drop_replaces_it(
        shared_mongo: Any, tmp_path: Path) -> None:
    source, target = unique_db("drop_src"), unique_db("drop_dst")
    seed(shared_mongo.uri, source, {"a": [{"_id": i, "v": "new"} for i in range(20)]})
    seed(shared_mongo.uri, target, {"a": [{"_id": 0, "v": "old"}], "junk": [{"x": 1}]})
    manifest = dump(shared_mongo.uri, tmp_path, [source], now=NOW)
    archive = tmp_path / manifest.file

    with pytest.raises(RestoreError, match=f"database {target} is not empty") as refused:
        restore(archive, shared_mongo.uri, target)
    assert "\n" not in str(refused.value)
    with client(shared_mongo.uri) as c:
        assert sorted(c[target].list_collection_names()) == ["a", "junk"]
        assert c[target].a.find_one({"_id": 0}) == {"_id": 0, "v": "old"}

    report = restore(archive, shared_mongo.uri, target, drop=True)
    assert sorted(report.dropped) == ["a", "junk"]
    assert snapshot(shared_mongo.uri, target) == snapshot(shared_mongo.uri, source)


def test_restore_of_the_real_mongodump_fixture(shared_mongo: Any) -> None:
    expected = json.loads((FIXTURES / "mongodump-shop.expected.json").read_text())
    target = unique_db("fixture")
    report = restore(FIXTURES / "mongodump-shop.archive.gz", shared_mongo.uri, target)
    assert report.from_db == expected["database"]
    with client(shared_mongo.uri) as c:
        db = c[target]
        assert sorted(db.list_collection_names()) == sorted(expected["collections"])
        for name, want in expected["collections"].items():
            coll = db[name]
            assert coll.count_documents({}) == want["count"]
            keys = [[list(pair) for pair in ix["key"].items()] for ix in coll.list_indexes()]
            assert sorted(keys) == sorted(want["indexes"])
            first = coll.find().sort("_id", 1).limit(1).next()
            assert canonical(first) == want["first"]
            last_id = bson.json_util.loads(json.dumps(want["last"]["_id"]))
            assert canonical(coll.find_one({"_id": last_id})) == want["last"]
            if shared_mongo.is_stand_in:
                # The fixture's "last" was taken on the stand-in, which orders int _ids
                # as text (999 after 1199); on MongoDB the last order is _id 1199.
                last = coll.find().sort("_id", -1).limit(1).next()
                assert canonical(last) == want["last"]
    unique = [ix for ix in indexes(shared_mongo.uri, target, "customers") if ix.get("unique")]
    assert [ix["key"] for ix in unique] == [{"email": 1}]


def test_several_databases_need_from_db(shared_mongo: Any, tmp_path: Path) -> None:
    first, second = unique_db("multi_a"), unique_db("multi_b")
    seed(shared_mongo.uri, first, {"x": [{"_id": 1}]})
    seed(shared_mongo.uri, second, {"y": [{"_id": i} for i in range(5)]})
    manifest = dump(shared_mongo.uri, tmp_path, [first, second], now=NOW)
    archive = tmp_path / manifest.file
    target = unique_db("multi_dst")

    with pytest.raises(RestoreError, match="several databases") as ambiguous:
        restore(archive, shared_mongo.uri, target)
    assert first in str(ambiguous.value) and second in str(ambiguous.value)
    with pytest.raises(RestoreError, match=f"has no database 'nope' \\(it has: {first}, "):
        restore(archive, shared_mongo.uri, target, from_db="nope")

    report = restore(archive, shared_mongo.uri, target, from_db=second)
    assert report.documents_total == 5
    assert snapshot(shared_mongo.uri, target) == snapshot(shared_mongo.uri, second)


def test_all_databases_means_all_but_the_system_ones(shared_mongo: Any, tmp_path: Path) -> None:
    db = unique_db("alldbs")
    seed(shared_mongo.uri, db, {"x": [{"_id": 1}]})
    manifest = dump(shared_mongo.uri, tmp_path, None, now=NOW)
    assert db in manifest.databases
    assert not {"admin", "local", "config"} & set(manifest.databases)
    assert all(c.db not in ("admin", "local", "config") for c in manifest.collections)


def test_named_database_that_does_not_exist_is_an_error(shared_mongo: Any,
                                                        tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no database no_such_db_here on the server"):
        dump(shared_mongo.uri, tmp_path, ["no_such_db_here"], now=NOW)
    assert list(tmp_path.iterdir()) == []


def test_index_names_directions_and_options_kept(shared_mongo: Any, tmp_path: Path) -> None:
    if shared_mongo.is_stand_in:
        pytest.skip(STAND_IN_INDEXES)
    source, target = unique_db("ix_src"), unique_db("ix_dst")
    seed(shared_mongo.uri, source, {"p": every_type_documents(30)})
    with client(shared_mongo.uri) as c:
        p = c[source].p
        p.create_index([("when", -1), ("int32", 1)], name="recent_first")
        p.create_index("email", unique=True, name="one_email")
        p.create_index("flag", sparse=True, name="sparse_flag")
        p.create_index("when", expireAfterSeconds=3600, name="ttl_when")
        p.create_index("int32", partialFilterExpression={"int32": {"$gt": 0}}, name="pos")
    dump(shared_mongo.uri, tmp_path, [source], now=NOW)
    restore(tmp_path / "mongo-20261127T030000Z.archive.gz", shared_mongo.uri, target)
    assert indexes(shared_mongo.uri, target, "p") == indexes(shared_mongo.uri, source, "p")
    names = {ix["name"] for ix in indexes(shared_mongo.uri, target, "p")}
    assert {"recent_first", "one_email", "sparse_flag", "ttl_when", "pos"} <= names


def test_rare_bson_types_round_trip(shared_mongo: Any, tmp_path: Path) -> None:
    if shared_mongo.is_stand_in:
        pytest.skip(STAND_IN_STORES_JSON)
    source, target = unique_db("rare_src"), unique_db("rare_dst")
    doc = {"_id": 1, "dec": Decimal128("12345.678901234567890123456789"),
           "re": Regex("^ab", "i"), "ts": Timestamp(1_700_000_000, 7), "min": MinKey(),
           "max": MaxKey(), "code": Code("function () { return 1; }"),
           "uuid": Binary(uuid.UUID(int=42).bytes, 4), "user": Binary(b"\x01", 128),
           "inf": float("inf"), "small_long": Int64(3)}
    seed(shared_mongo.uri, source, {"rare": [doc]})
    dump(shared_mongo.uri, tmp_path, [source], now=NOW)
    restore(tmp_path / "mongo-20261127T030000Z.archive.gz", shared_mongo.uri, target)
    assert snapshot(shared_mongo.uri, target) == snapshot(shared_mongo.uri, source)
    with client(shared_mongo.uri) as c:
        assert canonical(c[target].rare.find_one()) == canonical(doc)


def test_views_are_restored_as_views(shared_mongo: Any, tmp_path: Path) -> None:
    if shared_mongo.is_stand_in:
        pytest.skip(STAND_IN_VIEWS)
    source, target = unique_db("view_src"), unique_db("view_dst")
    seed(shared_mongo.uri, source, {"people": every_type_documents(20)})
    pipeline = [{"$match": {"flag": True}}, {"$project": {"email": 1}}]
    with client(shared_mongo.uri) as c:
        c[source].create_collection("flagged", viewOn="people", pipeline=pipeline)
    manifest = dump(shared_mongo.uri, tmp_path, [source], now=NOW)
    assert ("flagged", "view", 0) in {(c.name, c.type, c.documents)
                                      for c in manifest.collections}
    report = restore(tmp_path / manifest.file, shared_mongo.uri, target)
    assert report.views == ["flagged"]
    with client(shared_mongo.uri) as c:
        info = next(c[target].list_collections(filter={"name": "flagged"}))
        assert info["type"] == "view"
        assert info["options"]["viewOn"] == "people"
        assert info["options"]["pipeline"] == pipeline
        assert c[target].flagged.count_documents({}) == 10


def test_damaged_backup_is_refused_before_writing(shared_mongo: Any, tmp_path: Path) -> None:
    source, target = unique_db("dmg_src"), unique_db("dmg_dst")
    seed(shared_mongo.uri, source, {"a": [{"_id": i, "s": f"value {i}"} for i in range(50)]})
    manifest = dump(shared_mongo.uri, tmp_path, [source], now=NOW)
    data = gunzip(tmp_path / manifest.file)
    damaged = tmp_path / "copy" / manifest.file
    damaged.parent.mkdir()
    write_gzip(damaged, flip_byte(data, data.rindex(b"value 49") + 2))

    with pytest.raises(RestoreError, match=r"refusing to restore a damaged backup: .*CRC "
                                           r"mismatch in dmg_src_\S+\.a"):
        restore(damaged, shared_mongo.uri, target)
    with client(shared_mongo.uri) as c:
        assert c[target].list_collection_names() == []
