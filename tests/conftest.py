"""Shared fixtures: real servers started per test session, a clean environment per test."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from ops import formatting
from tests.browser_support import launch_chromium
from tests.docker_engine import DockerEngine, EngineUnavailableError
from tests.servers import ExternalMongo, HealthServer, MongoStandIn, RedisServer, mongo_server

# Test data written by real tools (mongodump), kept in the repository.
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def remembered_secrets_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets one test's settings made the process remember (a webhook's path, a
    channel's token) are masked in every text after it: each test starts with the run's
    own, as each process of the product starts with its own settings."""
    from ops import redaction

    monkeypatch.setattr(redaction, "_known", set(redaction._known))
    monkeypatch.setattr(redaction, "_spellings", redaction._spellings)


@pytest.fixture(autouse=True)
def process_umask_restored() -> Iterator[None]:
    """Commands run inside the test process (the CLI's and the collector's main, the
    dashboard's script) set umask 077 for the process, as they must; later tests create
    files for other users (the image's rootfs) with the umask the run started with."""
    mask = os.umask(0o022)
    os.umask(mask)
    yield
    os.umask(mask)


@pytest.fixture(autouse=True)
def display_zone_restored() -> Iterator[None]:
    """A page run in the test process sets the display zone from its settings."""
    yield
    formatting.set_display_zone(UTC)


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Debian's chromium, driven by Playwright (the browser tests)."""
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


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


@pytest.fixture(scope="session")
def docker_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerEngine]:
    """A real Docker engine of the run's own (tests/docker_engine.py); tests that need
    one skip with the daemon's own error where dockerd cannot start."""
    engine = DockerEngine(tmp_path_factory.mktemp("docker"))
    try:
        engine.start()
    except EngineUnavailableError as error:
        engine.stop()
        pytest.skip(f"no Docker engine: {error}")
    yield engine
    engine.stop()


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


@contextmanager
def mounted_tmpfs(mount_point: Path, options: str) -> Iterator[Path]:
    """A real tmpfs at `mount_point` (root and mount(8) needed, else the test is skipped),
    unmounted after - lazily if a file on it is still open."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount_point)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        if subprocess.run(["umount", str(mount_point)], check=False).returncode != 0:
            subprocess.run(["umount", "--lazy", str(mount_point)], check=False)


def fill_up(directory: Path) -> Path:
    """A file that takes every free byte of the disk under `directory` (unbuffered: a
    buffer left over would fail again when the file is closed)."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return filler


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MiB filesystem (tmpfs), so writes fail with ENOSPC as on a full disk."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    with mounted_tmpfs(mount_point, "size=2m") as path:
        yield path
