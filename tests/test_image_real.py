"""The image for real, on the engine of the `docker_engine` fixture: the project's
Dockerfile built on a Debian base made here by mmdebstrap (no registry is reachable; the
base carries the host's CA bundle so pip reaches the package index as the host does),
then the collector and the dashboard run from it on named volumes, as docker-compose.yml
runs them.

Checked: both reach `healthy` (the image's own HEALTHCHECK for the dashboard, the
compose file's `python -m ops heartbeat` for the collector), the JSON endpoints answer
from the collector's samples, the first-start backup lands in the backups volume owned
by uid 10001 and unreadable to others, and `docker stop` (10 s before SIGKILL) ends each
with exit status 0.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.docker_engine import DockerEngine
from tests.servers import wait_until
from tests.test_deployment import _seeded_database, compose_list

ROOT = Path(__file__).resolve().parents[1]
BASE_TAG = "ops-test-python:bookworm"
IMAGE_TAG = "ops-dashboard:test"
OPS_UID = 10001
PACKAGES = "python3,python3-pip,python3-venv,ca-certificates,tzdata"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")


def _run(argv: list[str], env: dict[str, str], timeout: float) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)
    assert done.returncode == 0, f"{argv[0]} {argv[1]}: " + (done.stdout + done.stderr)[-3000:]


@pytest.fixture(scope="module")
def image(docker_engine: DockerEngine, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[str]:
    if shutil.which("mmdebstrap") is None:
        pytest.skip("mmdebstrap is not installed (Debian package mmdebstrap)")
    base = tmp_path_factory.mktemp("base") / "base.tar"
    hook = f"upload {HOST_CA} {HOST_CA}" if HOST_CA.is_file() else "true"
    _run(["mmdebstrap", "--variant=minbase", f"--include={PACKAGES}",
          f"--customize-hook={hook}", "bookworm", str(base)], dict(os.environ), 1800)
    env = {**docker_engine.env(), "DOCKER_BUILDKIT": "0"}
    _run(["docker", "import", str(base), BASE_TAG], env, 600)
    base.unlink()
    _run(["docker", "build", "--network", "host", "--build-arg", f"BASE_IMAGE={BASE_TAG}",
          "-t", IMAGE_TAG, str(ROOT)], env, 3600)
    yield IMAGE_TAG
    docker_engine.docker("rmi", "-f", IMAGE_TAG, BASE_TAG, check=False)


def _health(engine: DockerEngine, name: str) -> str:
    state: dict[str, Any] = engine.inspect(name)["State"]
    assert state["Status"] == "running", (state, engine.docker("logs", name, check=False))
    return str(state["Health"]["Status"])


def _get(engine: DockerEngine, container: str, path: str) -> tuple[int, str]:
    """An HTTP GET from inside a container (the dashboard runs without a network)."""
    script = ("import sys, urllib.request, urllib.error\n"
              "try:\n"
              f"    r = urllib.request.urlopen('http://127.0.0.1:8501{path}', timeout=10)\n"
              "    print(r.status); print(r.read().decode())\n"
              "except urllib.error.HTTPError as e:\n"
              "    print(e.code); print(e.read().decode())\n")
    out = engine.docker("exec", container, "python", "-c", script).stdout
    status, _, body = out.partition("\n")
    return int(status), body


def _files(engine: DockerEngine, container: str, directory: str) -> list[tuple[str, int, int]]:
    """(name, uid, mode) of each entry of a directory, as seen inside the container."""
    script = ("import os, json, sys\n"
              f"d = {directory!r}\n"
              "print(json.dumps([(n, os.stat(os.path.join(d, n)).st_uid,"
              " os.stat(os.path.join(d, n)).st_mode & 0o777) for n in sorted(os.listdir(d))]"
              " + [('.', os.stat(d).st_uid, os.stat(d).st_mode & 0o777)]))\n")
    found: list[tuple[str, int, int]] = [
        tuple(item) for item in json.loads(engine.docker("exec", container, "python", "-c",
                                                          script).stdout)]
    return found


# The base and the build take about 15 minutes on vfs with a shared CPU: a bound for a
# hung build, not a speed requirement.
@pytest.mark.timeout(3600)
def test_collector_and_dashboard_run_from_the_image(image: str, docker_engine: DockerEngine,
                                                    shared_mongo: Any) -> None:
    database = _seeded_database(shared_mongo.uri)
    heartbeat = compose_list("ops-collector", "test")[1:]  # after CMD
    volumes = ["-v", "ops-test-data:/app/data"]
    collector, dashboard = "ops-test-collector", "ops-test-dashboard"
    try:
        # The collector reaches the test's MongoDB on the host's loopback.
        docker_engine.docker(
            "run", "-d", "--name", collector, "--network", "host", "--init", *volumes,
            "-v", "ops-test-backups:/app/backups", "-e", f"MONGO_URI={shared_mongo.uri}",
            "-e", f"BACKUP_DATABASES={database}", "-e", "SAMPLE_INTERVAL_SECONDS=2",
            "--health-cmd", " ".join(heartbeat), "--health-interval", "2s",
            "--health-retries", "3", image, "python", "-m", "collector")
        # The dashboard as in compose: backups read-only; the image's own health check,
        # polled more often than its 30 s.
        docker_engine.docker(
            "run", "-d", "--name", dashboard, "--network", "none", "--init", *volumes,
            "-v", "ops-test-backups:/app/backups:ro", "-e", f"MONGO_URI={shared_mongo.uri}",
            "-e", "SAMPLE_INTERVAL_SECONDS=2", "--health-interval", "2s",
            "--health-start-period", "60s", image)
        for name in (collector, dashboard):
            wait_until(lambda name=name: _health(docker_engine, name) == "healthy",
                       f"{name} healthy", 240)
        wait_until(lambda: any(n.endswith(".archive.gz") for n, _, _ in
                               _files(docker_engine, collector, "/app/backups")),
                   "the first-start backup", 120)
        status, body = _get(docker_engine, dashboard, "/api/monitoring/health/detailed")
        backups = _files(docker_engine, collector, "/app/backups")
        metrics_status, metrics = _get(docker_engine, dashboard, "/metrics")
        for name in (dashboard, collector):
            docker_engine.docker("stop", "-t", "10", name)
        ended = {name: docker_engine.inspect(name)["State"]["ExitCode"]
                 for name in (collector, dashboard)}
        log = docker_engine.docker("logs", collector).stderr
    finally:
        docker_engine.docker("rm", "-f", collector, dashboard, check=False)
        docker_engine.docker("volume", "rm", "ops-test-data", "ops-test-backups", check=False)
    assert status == 200, body
    health = json.loads(body)
    assert health["status"] == "OK" and health["services"]["database"]["status"] == "UP"
    assert health["services"]["database"]["name"] == database
    assert metrics_status == 200 and "ops_collector_running 1.0" in metrics
    (directory,) = [(uid, mode) for n, uid, mode in backups if n == "."]
    assert directory[0] == OPS_UID and not directory[1] & 0o007, backups
    archives = [(n, uid, mode) for n, uid, mode in backups if n.endswith(".archive.gz")]
    assert archives and all(uid == OPS_UID and not mode & 0o077 for _, uid, mode in archives)
    assert ended == {collector: 0, dashboard: 0}, "docker stop -t 10: ended by SIGTERM"
    assert "Starting automated backup system..." in log
