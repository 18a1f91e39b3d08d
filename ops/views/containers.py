"""What the Containers page and the Overview's containers tile show, as plain data:
whether containers are watched, the table `docker stats` users know (service, CPU %,
memory / limit, state, health, restarts, uptime), each service's history and the
container events.

Whether containers are watched is what the collector recorded: it keeps a reading of
the Docker engine only while it watches one (the dashboard may not see the socket).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ops import formatting
from ops.catalogue import DOCKER
from ops.sources.configured import how_to_watch
from ops.sources.containers import EVENT_SOURCE, Container, containers
from ops.storage import Event, Latest, Store
from ops.storage import containers as history


@dataclass(frozen=True)
class Watch:
    """`state`: "not watched", "waiting" (no reading yet), "unreachable" or "up"."""

    state: str
    message: str
    since_ts: int | None = None
    error: str = ""  # why the engine cannot be reached: the engine's or the OS's text
    found: list[Container] = field(default_factory=list)


def watch(latest: Latest | None) -> Watch:
    if latest is None:
        return Watch("not watched", f"Containers are {how_to_watch(DOCKER.name)}.")
    if not latest.up:
        return Watch("unreachable", f"Containers are not watched: {latest.error}.",
                     latest.since_ts, error=latest.error or "no answer")
    return Watch("up", "", latest.since_ts, found=containers(latest.reading.get("info")))


def read(store: Store) -> Watch:
    return watch(store.latest().get(DOCKER.name))


def memory_text(container: Container) -> str:
    """`74.7 MB / 1.5 GB`, as docker stats puts it; the limit is the host's when none
    was set (marked)."""
    used, limit = container.values.get("mem_used_mb"), container.values.get("mem_limit_mb")
    if used is None:
        return "-"
    limit_text = formatting.megabytes(limit) if limit else "?"
    return f"{formatting.megabytes(used)} / {limit_text}" + (
        "" if container.mem_limited else " (no limit)")


def health_text(container: Container) -> str:
    return container.health or "no check"


def state_text(container: Container) -> str:
    if container.running:
        return "running"
    code = f" ({container.exit_code})" if container.exit_code is not None else ""
    oom = ", OOM-killed" if container.oom_killed else ""
    return f"{container.state}{code if container.state == 'exited' else ''}{oom}"


def table(found: list[Container], now_ts: int) -> list[dict[str, Any]]:
    """One row per container: every value is text or a number, shown as it is."""
    return [{
        "service": c.key, "container": c.name, "image": c.image, "state": state_text(c),
        "health": health_text(c), "restarts": c.restarts,
        "CPU %": formatting.percent(c.values.get("cpu_pct")) if c.running else "-",
        "memory / limit": memory_text(c),
        "memory %": formatting.percent(c.mem_pct) if c.mem_pct is not None else "-",
        "uptime": formatting.uptime(c.running_seconds(now_ts)) if c.running else "-",
        "pids": c.values.get("pids"),
        "note": c.error or (c.health_output if c.health == "unhealthy" else "") or "",
    } for c in found]


def summary(watched: Watch) -> str:
    """The Overview tile's figure: `5 of 6 running, 1 unhealthy`."""
    found = watched.found
    text = f"{sum(c.running for c in found)} of {len(found)} running"
    unhealthy = sum(c.health == "unhealthy" for c in found)
    oom = sum(c.oom_killed for c in found)
    return text + (f", {unhealthy} unhealthy" if unhealthy else "") + (
        f", {oom} OOM-killed" if oom else "")


def services(store: Store, start_ts: int, end_ts: int) -> list[str]:
    return history.keys(store, start_ts, end_ts)


def service_history(store: Store, key: str, start_ts: int, end_ts: int,
                    max_points: int = 500) -> list[dict[str, Any]]:
    return history.series(store, key, start_ts, end_ts, max_points)


def events(store: Store, start_ts: int, end_ts: int, limit: int = 200) -> list[Event]:
    return store.events(start_ts, end_ts, [EVENT_SOURCE], limit=limit)
