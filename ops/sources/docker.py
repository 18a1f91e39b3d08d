"""Containers, through the Docker Engine API: what `docker ps`, `docker inspect` and
`docker stats` show, for every container, each tick.

One list call, then for each container an inspect and (when running) a one-shot stats
call, all containers at once on a small pool of threads, each call with the probe's
timeout. The one-shot call answers at once where the plain non-streaming one waits about
two seconds per container; its missing `precpu_stats` is why the previous reading of
each container is kept here (ops/sources/docker_stats.py does the arithmetic). The
engine collects stats once a second for all containers, so a one-shot call may wait up
to a second for that round: the calls run at once, and a probe takes about a second
whatever the number of containers.

State, health, restart count and OOM kills come from inspect, not from stats.
"""

from __future__ import annotations

import dataclasses
import math
import os
import stat
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

from ops.catalogue import DOCKER_FIELDS
from ops.redaction import one_line
from ops.sources import docker_stats
from ops.sources.base import PROBE_TIMEOUT_SECONDS, Reading, elapsed_ms
from ops.sources.containers import Container, key_of

FIELDS = DOCKER_FIELDS  # declared in ops.catalogue, where every reader finds them

LOCAL_SOCKET = Path("/var/run/docker.sock")
# The Engine API version asked for: 1.41 (Docker 20.10) has one-shot stats, and newer
# engines still answer it.
API_VERSION = "1.41"
# Calls at once. A one-shot stats call waits for the engine's next round (once a second),
# so every container needs its own thread for all of them to fit in one round; threads
# are started as needed, up to this.
WORKERS = 64


def _errors() -> tuple[type[Exception], ...]:
    """What a call to the engine raises when it fails (not a bug)."""
    import docker.errors
    import requests

    return (docker.errors.DockerException, requests.RequestException, OSError, ValueError)


def target(docker_host: str | None, local: Path = LOCAL_SOCKET) -> str | None:
    """The engine to watch: DOCKER_HOST, else the local socket when there is one, else
    None (containers not watched)."""
    if docker_host:
        return docker_host
    try:
        return f"unix://{local}" if stat.S_ISSOCK(os.stat(local).st_mode) else None
    except OSError:
        return None


class DockerSource:
    """One API client and thread pool for the source's life; state kept per container."""

    name = "docker"
    fields = FIELDS

    def __init__(self, base_url: str, timeout_s: float = PROBE_TIMEOUT_SECONDS) -> None:
        """`timeout_s` bounds the whole probe: a container whose calls have not answered
        by then is shown with what the list said and an error, the others in full."""
        self.base_url = base_url
        self.timeout_s = timeout_s
        # Imported here, not at the top: the SDK (with requests) costs about 40 MB and half a
        # second, which every process importing the sources paid without an engine to watch.
        import docker

        self._errors = _errors()
        self._api = docker.APIClient(base_url=base_url, version=API_VERSION,
                                     timeout=max(1, math.ceil(timeout_s)),
                                     max_pool_size=WORKERS)
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="docker")
        self._previous: dict[str, docker_stats.Totals] = {}

    def probe(self) -> Reading:
        started = time.perf_counter()
        try:
            listed = self._api.containers(all=True)
        except self._errors as err:
            return Reading.down(self.name, f"the Docker engine at {self.base_url} cannot be "
                                f"reached: {one_line(err)}", elapsed_ms(started))
        found = self._read_all(listed, started)
        seen = {c.id for c in found}
        for gone in set(self._previous) - seen:
            del self._previous[gone]
        return Reading(self.name, True, values=totals(found),
                       info={"containers": [dataclasses.asdict(c) for c in found],
                             "engine": self.base_url},
                       took_ms=elapsed_ms(started))

    def _read_all(self, listed: list[dict[str, Any]], started: float) -> list[Container]:
        futures = [self._pool.submit(self._read, item) for item in listed]
        found = []
        for item, future in zip(listed, futures, strict=True):
            left = max(0.0, self.timeout_s - (time.perf_counter() - started))
            try:
                found.append(future.result(timeout=left))
            except FutureTimeout:
                found.append(_listed_only(item, "no answer within the probe's timeout"))
        return sorted(found, key=lambda c: c.key)

    def _read(self, item: Mapping[str, Any]) -> Container:
        """Inspect and stats of one container; a failed call leaves what the list said."""
        try:
            inspected = self._api.inspect_container(item["Id"])
        except self._errors as err:
            return _listed_only(item, one_line(err))
        container = from_inspect(inspected)
        if not container.running:
            self._previous.pop(container.id, None)
            return container
        try:
            stats = self._api.stats(container.id, stream=False, one_shot=True)
        except self._errors as err:
            container.error = one_line(err)
            return container
        container.values = self._values(container.id, stats)
        return container

    def _values(self, container_id: str, stats: Mapping[str, Any]) -> dict[str, float | None]:
        previous = self._previous.get(container_id)
        now = docker_stats.totals(stats)
        self._previous[container_id] = now
        cpu = docker_stats.cpu_percent(previous, stats)
        used, limit = docker_stats.memory_used(stats), docker_stats.memory_limit(stats)
        pids = docker_stats.pids(stats)
        return {"cpu_pct": None if cpu is None else round(cpu, 4),
                "mem_used_mb": _mb(used), "mem_limit_mb": _mb(limit),
                **docker_stats.interval(previous, now),
                "pids": None if pids is None else float(pids)}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._api.close()


def _mb(n_bytes: int | None) -> float | None:
    return None if n_bytes is None else round(n_bytes / docker_stats.MB, 3)


def _name(raw: Any) -> str:
    return str(raw or "").lstrip("/")


def from_inspect(data: Mapping[str, Any]) -> Container:
    """A container from `docker inspect`'s document."""
    state = data.get("State") or {}
    config = data.get("Config") or {}
    labels = config.get("Labels") or {}
    health = state.get("Health") or {}
    log = health.get("Log") or []
    name = _name(data.get("Name"))
    return Container(
        key=key_of(name, labels), id=str(data.get("Id", "")), name=name,
        image=str(config.get("Image") or data.get("Image") or ""),
        state=str(state.get("Status") or "unknown"),
        project=labels.get("com.docker.compose.project"),
        service=labels.get("com.docker.compose.service"),
        health=health.get("Status") or None,
        health_output=one_line(log[-1].get("Output", ""), 300)
        if log and log[-1].get("ExitCode") else None,
        restarts=int(data.get("RestartCount") or 0),
        started_at=state.get("StartedAt"), finished_at=state.get("FinishedAt"),
        exit_code=state.get("ExitCode"), oom_killed=bool(state.get("OOMKilled")),
        memory_limit_mb=_mb((data.get("HostConfig") or {}).get("Memory") or None))


def _listed_only(item: Mapping[str, Any], error: str) -> Container:
    """What the list call said of a container whose inspect failed."""
    names = item.get("Names") or [""]
    name = _name(names[0])
    return Container(key=key_of(name, item.get("Labels") or {}), id=str(item.get("Id", "")),
                     name=name, image=str(item.get("Image") or ""),
                     state=str(item.get("State") or "unknown"), error=error)


def totals(found: list[Container]) -> dict[str, float | None]:
    """The engine's figures over all containers: the history's docker_* columns."""
    cpu = [c.values["cpu_pct"] for c in found if c.values.get("cpu_pct") is not None]
    mem = [c.values["mem_used_mb"] for c in found if c.values.get("mem_used_mb") is not None]
    return {"containers": float(len(found)),
            "running": float(sum(c.running for c in found)),
            "unhealthy": float(sum(c.health == "unhealthy" for c in found)),
            "cpu_pct": round(sum(v for v in cpu if v is not None), 4) if cpu else None,
            "mem_used_mb": round(sum(v for v in mem if v is not None), 3) if mem else None}
