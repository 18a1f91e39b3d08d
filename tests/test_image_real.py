"""The image for real, on the engine of the `docker_engine` fixture: the project's
Dockerfile built once per run on a Debian base made here by mmdebstrap (no registry is
reachable; the base carries the host's CA bundle so pip reaches the package index as the
host does), then run two ways.

From `docker run`, the collector and the dashboard on named volumes as docker-compose.yml
runs them: both reach `healthy` (the image's own HEALTHCHECK for the dashboard, the
compose file's `python -m ops heartbeat` for the collector), the JSON endpoints answer
from the collector's samples, the first-start backup lands in the backups volume owned
by uid 10001 and unreadable to others, the dashboard serves it from its read-only mount
through a signed download link byte for byte, and `docker stop` (10 s before SIGKILL)
ends each with exit status 0.

From `docker-compose up` of docker-compose.yml itself, with tests/compose.override.yml
for what a registry would give: the ops services as the file has them (the built image
tagged `ops-dashboard`), mongo and redis as stand-ins built on the same base. All four
reach `healthy`; the published port answers on 127.0.0.1 with the database and the cache
up, the containers read through the read-only socket mount, and a login with
OPS_ADMIN_PASSWORD from the env file; `docker-compose stop` ends the ops services with 0
and `down -v` leaves no container, volume or network of the project.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import secrets
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ops.web.sessions import COOKIE
from tests.docker_engine import DockerEngine
from tests.servers import free_port, wait_until
from tests.test_deployment import (
    COMPOSE_FILE,
    SERVICES,
    _seeded_database,
    compose_list,
    docker_compose,
    yaml_as_data,
)

ROOT = Path(__file__).resolve().parents[1]
BASE_TAG = "ops-test-python:bookworm"
IMAGE_TAG = "ops-dashboard:test"
OPS_UID = 10001
PACKAGES = "python3,python3-pip,python3-venv,ca-certificates,tzdata"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
COMPOSE_OVERRIDE = Path(__file__).with_name("compose.override.yml")
# The name docker-compose.yml gives the ops services' image (`image: ops-dashboard`).
COMPOSE_IMAGE = "ops-dashboard:latest"
STAND_INS = "ops-test-standins:1"
PROJECT = "opstest"
OPS_SERVICES = ("ops-collector", "ops-dashboard")
COMPOSE_VOLUMES = ("mongo_data", "mongo_config", "redis_data", "ops_data", "backup_data")
# mongo and redis for the compose file, on the same Debian base: Debian's redis-server
# (the official image's WORKDIR /data) and nx-27017, the MongoDB wire-protocol server the
# tests use, at the version installed here.
STAND_INS_DOCKERFILE = """\
FROM {base}
RUN apt-get update \\
    && apt-get install -y --no-install-recommends redis-server \\
    && rm -rf /var/lib/apt/lists/* \\
    && python3 -m venv /opt/nx \\
    && /opt/nx/bin/pip install --no-cache-dir --disable-pip-version-check nx-27017=={nx} \\
    && mkdir -p /data/db /data/configdb
WORKDIR /data
"""


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


# Run inside the dashboard's container as its user: a link signed as the Backups page
# signs it (the key in the data volume), then fetched from the download route, the
# answer hashed as it streams; and the same link with its signature changed.
DOWNLOAD = """\
import hashlib, json, sys, urllib.error, urllib.request
from ops.config import load_settings
from ops.web.downloads import signed_link

def fetch(link):
    try:
        answer = urllib.request.urlopen('http://127.0.0.1:8501' + link, timeout=60)
    except urllib.error.HTTPError as error:
        return {'status': error.code, 'body': error.read().decode()}
    digest, size = hashlib.sha256(), 0
    while chunk := answer.read(1 << 16):
        digest.update(chunk)
        size += len(chunk)
    return {'status': answer.status, 'sha256': digest.hexdigest(), 'bytes': size,
            'length': answer.headers['Content-Length'],
            'disposition': answer.headers['Content-Disposition']}

link = signed_link(load_settings(), sys.argv[1])
forged = link[:-1] + ('1' if link.endswith('0') else '0')
print(json.dumps({'signed': fetch(link), 'forged': fetch(forged)}))
"""


def _download(engine: DockerEngine, container: str, backup_id: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(engine.docker("exec", container, "python", "-c",
                                                     DOWNLOAD, backup_id).stdout)
    return found


def _in_volume(engine: DockerEngine, volume: str, name: str) -> tuple[str, int]:
    """sha256 and size of a file in a named volume, read on the host."""
    mountpoint = engine.docker("volume", "inspect", "-f", "{{.Mountpoint}}", volume).stdout
    data = (Path(mountpoint.strip()) / name).read_bytes()
    return hashlib.sha256(data).hexdigest(), len(data)


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
        archive = min(n for n, _, _ in backups if n.endswith(".archive.gz"))
        backup_id = archive.removesuffix(".archive.gz")
        downloaded = _download(docker_engine, dashboard, backup_id)
        on_disk = _in_volume(docker_engine, "ops-test-backups", archive)
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
    # The dashboard streams the collector's backup from its read-only mount, as written.
    signed = downloaded["signed"]
    assert signed["status"] == 200, downloaded
    assert (signed["sha256"], signed["bytes"]) == on_disk and signed["bytes"] > 0
    assert signed["length"] == str(on_disk[1])
    assert signed["disposition"] == f'attachment; filename="{archive}"'
    assert downloaded["forged"]["status"] == 403, downloaded
    assert "bad signature" in downloaded["forged"]["body"]
    assert ended == {collector: 0, dashboard: 0}, "docker stop -t 10: ended by SIGTERM"
    assert "Starting automated backup system..." in log


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _http(port: int, path: str, form: dict[str, str] | None = None,
          cookie: str | None = None) -> tuple[int, dict[str, str], str]:
    """A request from the host to the published port; redirects are answers here."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=None if form is None else urllib.parse.urlencode(form).encode(),
        headers={"Cookie": f"{COOKIE}={cookie}"} if cookie else {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)
    try:
        with opener.open(request, timeout=30) as answer:
            return answer.status, dict(answer.headers), answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def _json_when(port: int, path: str, ready: Any, what: str) -> dict[str, Any]:
    """The endpoint's JSON once `ready(json)` holds; the last answer if it never does."""
    last: list[tuple[int, str]] = []

    def answer() -> dict[str, Any] | None:
        try:
            status, _, body = _http(port, path)
        except OSError as error:  # the published port before the server listens
            last[:] = [(0, str(error))]
            return None
        last[:] = [(status, body)]
        found = json.loads(body) if body.startswith("{") else None
        return found if found is not None and ready(found) else None

    try:
        found: dict[str, Any] = wait_until(answer, what, 240)
    except AssertionError as error:
        raise AssertionError(f"{error}; last answer: {last}") from None
    return found


# Building the stand-ins takes a few minutes more on vfs: a bound for a hung build.
@pytest.mark.timeout(3600)
def test_compose_file_runs_on_the_engine(image: str, docker_engine: DockerEngine,
                                         tmp_path: Path) -> None:
    binary = docker_compose()
    build_env = {**docker_engine.env(), "DOCKER_BUILDKIT": "0"}
    (tmp_path / "stand-ins").mkdir()
    (tmp_path / "stand-ins" / "Dockerfile").write_text(STAND_INS_DOCKERFILE.format(
        base=BASE_TAG, nx=importlib.metadata.version("nx-27017")))
    _run(["docker", "build", "--network", "host", "-t", STAND_INS,
          str(tmp_path / "stand-ins")], build_env, 1800)
    docker_engine.docker("tag", image, COMPOSE_IMAGE)
    # What an admin puts in .env; compose reads only this file (not a .env of the
    # checkout). The engine is named with --host, not DOCKER_HOST: the compose file passes
    # DOCKER_HOST from compose's environment on to the collector.
    port, password = free_port(), secrets.token_urlsafe(16)
    socket_gid = docker_engine.socket.stat().st_gid
    env_file = tmp_path / "ops.env"
    env_file.write_text(f"OPS_ADMIN_PASSWORD={password}\nOPS_DASHBOARD_PORT={port}\n"
                        f"DOCKER_GID={socket_gid}\n")
    compose_env = {"PATH": "/usr/local/bin:/usr/bin:/bin",
                   "HOME": os.environ.get("HOME", "/tmp"),
                   "OPS_TEST_STANDIN_IMAGE": STAND_INS,
                   "OPS_TEST_DOCKER_SOCKET": str(docker_engine.socket)}
    compose = [binary, "--host", docker_engine.host, "--project-name", PROJECT,
               "--env-file", str(env_file), "-f", str(COMPOSE_FILE), "-f",
               str(COMPOSE_OVERRIDE)]

    def project(kind: str) -> set[str]:
        listing = docker_engine.docker(kind, "ls", "-q", "--filter",
                                       f"label=com.docker.compose.project={PROJECT}")
        return set(listing.stdout.split())

    config_run = subprocess.run([*compose, "config"], cwd=ROOT, env=compose_env,
                                capture_output=True, text=True, timeout=120, check=False)
    assert config_run.returncode == 0, config_run.stderr
    config = yaml_as_data(binary, config_run.stdout)
    try:
        _run([*compose, "up", "-d", "--no-build"], compose_env, 600)
        ids = {service: docker_engine.docker("ps", "-q", "--filter",
                                             f"label=com.docker.compose.project={PROJECT}",
                                             "--filter",
                                             f"label=com.docker.compose.service={service}"
                                             ).stdout.strip()
               for service in SERVICES}
        assert all(ids.values()), ids
        for service, container in ids.items():
            wait_until(lambda container=container: _health(docker_engine, container)
                       == "healthy", f"{service} healthy", 240)
        inspected = {service: docker_engine.inspect(ids[service]) for service in OPS_SERVICES}
        health = _json_when(port, "/api/monitoring/health/detailed",
                            lambda h: h.get("status") == "OK", "health OK")
        seen = _json_when(
            port, "/api/monitoring/containers",
            lambda c: c.get("status") == "OK" and {
                x["composeService"] for x in c["containers"] if x["composeProject"] == PROJECT
                and (x["state"], x["health"]) == ("running", "healthy")} == SERVICES,
            "the four containers, healthy, read through the socket")
        page_before = _http(port, "/")
        login = _http(port, "/login", form={"password": password, "next": "/"})
        cookie = login[1].get("set-cookie", "").partition(";")[0].partition("=")[2]
        page_after = _http(port, "/", cookie=cookie)
        volumes = project("volume")
        _run([*compose, "stop"], compose_env, 600)
        ended = {service: docker_engine.inspect(ids[service])["State"]["ExitCode"]
                 for service in OPS_SERVICES}
        _run([*compose, "down", "--volumes"], compose_env, 600)
        left = {kind: project(kind) for kind in ("container", "volume", "network")}
    finally:
        subprocess.run([*compose, "down", "--volumes", "--remove-orphans"], env=compose_env,
                       capture_output=True, timeout=600, check=False)
        docker_engine.docker("rmi", COMPOSE_IMAGE, STAND_INS, check=False)
    # docker-compose config: the project file with the override, the ops services as
    # the file has them but for the host side of the socket.
    services = config["services"]
    assert set(services) == SERVICES
    assert services["ops-collector"]["volumes"] == [
        "backup_data:/app/backups:rw", "ops_data:/app/data:rw",
        f"{docker_engine.socket}:/var/run/docker.sock:ro"]
    assert services["ops-dashboard"]["ports"] == [f"127.0.0.1:{port}:8501/tcp"]
    assert {services[s]["image"] for s in OPS_SERVICES} == {"ops-dashboard"}
    # up: what the compose file says, on the running containers
    for service, found in inspected.items():
        host = found["HostConfig"]
        assert found["Config"]["Image"] == "ops-dashboard" and found["Config"]["User"] == "ops"
        assert host["Init"] is True and host["RestartPolicy"]["Name"] == "unless-stopped"
        assert host["LogConfig"] == {"Type": "json-file",
                                     "Config": {"max-file": "3", "max-size": "10m"}}, service
    mounts = {s: {m["Destination"]: m for m in inspected[s]["Mounts"]} for s in OPS_SERVICES}
    socket_mount = mounts["ops-collector"]["/var/run/docker.sock"]
    assert socket_mount["Source"] == str(docker_engine.socket) and socket_mount["RW"] is False
    assert inspected["ops-collector"]["HostConfig"]["GroupAdd"] == [str(socket_gid)]
    assert mounts["ops-dashboard"]["/app/backups"]["RW"] is False
    assert mounts["ops-dashboard"]["/app/data"]["RW"] is True
    assert inspected["ops-dashboard"]["HostConfig"]["PortBindings"] == {
        "8501/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
    assert volumes == {f"{PROJECT}_{v}" for v in COMPOSE_VOLUMES}
    # the published port: the collector's samples of the stand-ins over the compose
    # network at the file's default addresses, and the containers through the socket
    assert health["services"]["database"]["status"] == "UP", health
    assert health["services"]["cache"]["status"] == "UP", health
    assert {x["image"] for x in seen["containers"] if x["composeProject"] == PROJECT} == {
        "ops-dashboard", STAND_INS}
    # the pages need the password from the env file; the login's cookie opens them
    assert page_before[0] == 303 and page_before[1]["location"] == "/login", page_before[:2]
    assert login[0] == 303 and cookie, login
    assert page_after[0] == 200 and "<html" in page_after[2].lower(), page_after[:2]
    assert ended == {"ops-collector": 0, "ops-dashboard": 0}, "compose stop: ended by SIGTERM"
    assert left == {"container": set(), "volume": set(), "network": set()}, left
