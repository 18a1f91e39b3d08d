"""Shared fixtures: real servers started per test session, a clean environment per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import ExternalMongo, HealthServer, MongoStandIn, RedisServer, mongo_server

# Test data written by real tools (mongodump), kept in the repository.
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh redis-server per test, so a test may stop and restart it."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def shared_mongo(
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongoStandIn | ExternalMongo]:
    """One MongoDB server for the whole run; tests use their own database names."""
    server = mongo_server(tmp_path_factory.mktemp("mongo"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mongo_own(tmp_path: Path) -> Iterator[MongoStandIn]:
    """A MongoDB stand-in of this test's own, which the test may stop and restart."""
    server = MongoStandIn(tmp_path / "mongo")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def health_server() -> Iterator[HealthServer]:
    server = HealthServer()
    yield server
    server.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def env(data_dir: Path) -> dict[str, str]:
    """A clean environment for settings: only what the test adds."""
    return {"OPS_DATA_DIR": str(data_dir)}
