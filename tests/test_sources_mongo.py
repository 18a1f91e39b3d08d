"""MongoSource against a real MongoDB wire server: status, dbStats, outages, secrets."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator

import pytest
from pymongo import MongoClient

from ops.sources.mongo import FIELDS, MongoSource, split_uri
from tests.servers import ExternalMongo, MongoStandIn, free_port

OPS = ("op_insert", "op_query", "op_update", "op_delete", "op_getmore", "op_command")


@pytest.fixture
def client(shared_mongo: MongoStandIn | ExternalMongo) -> Iterator[MongoClient]:
    conn: MongoClient = MongoClient(shared_mongo.uri, serverSelectionTimeoutMS=5000)
    yield conn
    conn.close()


@pytest.fixture
def db_name(client: MongoClient) -> Iterator[str]:
    """A database of this test's own on the session-wide server, dropped afterwards."""
    name = f"ops_test_{uuid.uuid4().hex[:12]}"
    yield name
    client.drop_database(name)


def test_fields_declare_the_opcounters_as_counters() -> None:
    assert [field.name for field in FIELDS if field.counter] == list(OPS)
    assert [field.name for field in FIELDS if not field.counter] == [
        "ping_ms", "uptime_s", "connections_current", "connections_available",
        "resident_mb", "objects_total", "data_size_mb_total", "storage_size_mb_total",
        "indexes_total",
    ]


def test_probe_reports_server_status(shared_mongo: MongoStandIn | ExternalMongo) -> None:
    source = MongoSource(shared_mongo.uri, None)
    reading = source.probe()
    source.close()

    assert reading.up, reading.error
    assert reading.source == "mongo"
    values = reading.values
    assert set(values) == {field.name for field in FIELDS}
    assert values["ping_ms"] > 0
    assert values["uptime_s"] >= 0
    assert values["connections_current"] >= 1
    assert values["connections_available"] > 0
    # MB, not bytes: the stand-in reports bytes and the source converts them.
    assert 1 < values["resident_mb"] < 64 * 1024
    assert isinstance(reading.info["version"], str) and reading.info["version"]
    assert reading.info["host"] == split_uri(shared_mongo.uri)[0]
    if shared_mongo.is_stand_in:
        # nx-27017's serverStatus has no opcounters section: unknown, not zero.
        assert all(values[op] is None for op in OPS)
    else:
        assert all(values[op] is not None and values[op] >= 0 for op in OPS)


def test_db_stats_of_a_watched_database(
    shared_mongo: MongoStandIn | ExternalMongo, client: MongoClient, db_name: str
) -> None:
    collection = client[db_name]["orders"]
    collection.insert_many([{"n": i, "text": "x" * 200} for i in range(25)])
    collection.create_index("n")
    client[db_name]["users"].insert_one({"name": "a"})

    reading = MongoSource(shared_mongo.uri, [db_name]).probe()

    assert reading.up, reading.error
    stats = reading.info["databases"]
    assert list(stats) == [db_name]
    db = stats[db_name]
    assert db["objects"] == 26
    assert db["collections"] == 2
    assert db["indexes"] == 3  # _id on each collection plus n
    assert db["data_size_mb"] > 0 and db["storage_size_mb"] > 0
    assert db["index_size_mb"] >= 0
    values = reading.values
    assert values["objects_total"] == 26
    assert values["indexes_total"] == 3
    assert values["data_size_mb_total"] == db["data_size_mb"]
    assert values["storage_size_mb_total"] == db["storage_size_mb"]


def test_all_user_databases_are_watched_by_default(
    shared_mongo: MongoStandIn | ExternalMongo, client: MongoClient, db_name: str
) -> None:
    source = MongoSource(shared_mongo.uri, None)
    before = source.probe()
    client[db_name]["things"].insert_many([{"i": i} for i in range(7)])
    after = source.probe()  # listed again each probe: the new database shows up

    assert before.up and after.up
    assert db_name not in before.info["databases"]
    assert after.info["databases"][db_name]["objects"] == 7
    assert not {"admin", "local", "config"} & set(after.info["databases"])
    assert after.values["objects_total"] == sum(
        db["objects"] for db in after.info["databases"].values()
    )
    source.close()


def test_opcounters_grow_on_a_real_mongod(
    shared_mongo: MongoStandIn | ExternalMongo, client: MongoClient, db_name: str
) -> None:
    if shared_mongo.is_stand_in:
        pytest.skip("nx-27017 reports no opcounters (see test_probe_reports_server_status)")
    source = MongoSource(shared_mongo.uri, [db_name])
    before = source.probe().values
    client[db_name]["c"].insert_one({"a": 1})
    client[db_name]["c"].find_one({"a": 1})
    after = source.probe().values
    assert after["op_insert"] > before["op_insert"]
    assert after["op_query"] > before["op_query"]


def test_closed_port_is_down_in_time_without_the_password() -> None:
    source = MongoSource(f"mongodb://admin:s3cretPW@127.0.0.1:{free_port()}/", None)
    started = time.monotonic()
    reading = source.probe()
    took = time.monotonic() - started
    source.close()

    assert not reading.up
    assert reading.error and "Connection refused" in reading.error
    assert "s3cretPW" not in reading.error
    assert took < 3.0
    assert reading.values == {}


def test_failed_authentication_is_down_without_the_password(
    shared_mongo: MongoStandIn | ExternalMongo,
) -> None:
    host = split_uri(shared_mongo.uri)[0]
    source = MongoSource(f"mongodb://nobody:s3cretPW@{host}/?authSource=admin", None)
    reading = source.probe()
    source.close()
    assert not reading.up  # the stand-in cannot authenticate, mongod refuses the user
    assert reading.error and "s3cretPW" not in reading.error


def test_down_when_stopped_and_up_again_after_restart(mongo_own: MongoStandIn) -> None:
    source = MongoSource(mongo_own.uri, None)
    assert source.probe().up

    mongo_own.stop()
    down = source.probe()
    assert not down.up
    assert down.error

    mongo_own.start()
    again = source.probe()
    assert again.up, again.error
    assert again.values["connections_current"] >= 1
    source.close()


def test_server_that_never_answers_is_down_within_the_timeout() -> None:
    with socket.socket() as listener:  # accepts connections, never replies
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        source = MongoSource(f"mongodb://127.0.0.1:{listener.getsockname()[1]}/", None)
        started = time.monotonic()
        reading = source.probe()
        took = time.monotonic() - started
        source.close()

    assert not reading.up
    assert reading.error
    assert took < 3.0


def test_split_uri_drops_credentials() -> None:
    assert split_uri("mongodb://u:p%40ss@mongo:27017,mongo2:27017/db?authSource=admin") == (
        "mongo:27017,mongo2:27017", "p%40ss",
    )
    assert split_uri("mongodb://mongo:27017/") == ("mongo:27017", None)
    assert split_uri("mongodb+srv://u@cluster.example.net") == ("cluster.example.net", None)
