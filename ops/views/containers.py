"""What the Containers page and the Overview's containers tile show, as plain data:
whether containers are watched, the table `docker stats` users know (service, CPU %,
memory / limit, state, health, restarts, uptime), each service's history and the
container events.

Texts a person reads come in the page's language (ops.i18n); what the engine wrote
(names, images, health output, errors) is a left-to-right island on Arabic pages.

Whether containers are watched is what the collector recorded: it keeps a reading of
the Docker engine only while it watches one (the dashboard may not see the socket).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ops import formatting
from ops.catalogue import DOCKER
from ops.i18n import N_, _, ltr, ngettext
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
        return Watch("not watched", _("Containers are {how_to_watch}.").format(
            how_to_watch=how_to_watch(DOCKER.name)))
    if not latest.up:
        return Watch("unreachable", _("Containers are not watched: {error}.").format(
            error=ltr(latest.error)), latest.since_ts, error=latest.error or "no answer")
    return Watch("up", "", latest.since_ts, found=containers(latest.reading.get("info")))


def read(store: Store) -> Watch:
    return watch(store.latest().get(DOCKER.name))


# The engine's container states and health, as the page names them (the engine's own
# word, an island, for one it may add).
STATES = {"created": N_("created"), "running": N_("running"), "paused": N_("paused"),
          "restarting": N_("restarting"), "removing": N_("removing"), "exited": N_("exited"),
          "dead": N_("dead")}
HEALTH = {"starting": N_("starting"), "healthy": N_("healthy"), "unhealthy": N_("unhealthy")}
# The kinds of container events (ops.sources.containers.Change).
EVENT_KINDS = {"started": N_("started"), "stopped": N_("stopped"),
               "restarted": N_("restarted"), "oom_killed": N_("oom_killed"),
               "health": N_("health"), "recreated": N_("recreated"), "removed": N_("removed")}


def named(names: dict[str, str], word: str) -> str:
    """An engine's word (a state, a health, an event kind) in the page's language."""
    return _(names[word]) if word in names else ltr(word)


def memory_text(container: Container) -> str:
    """`74.7 MB / 1.5 GB`, as docker stats puts it; the limit is the host's when none
    was set (marked)."""
    used, limit = container.values.get("mem_used_mb"), container.values.get("mem_limit_mb")
    if used is None:
        return "-"
    limit_text = formatting.megabytes(limit) if limit else "?"
    shown = ltr(f"{formatting.megabytes(used)} / {limit_text}")
    return shown if container.mem_limited else _("{memory} (no limit)").format(memory=shown)


def health_text(container: Container) -> str:
    return named(HEALTH, container.health) if container.health else _("no check")


def state_text(container: Container) -> str:
    if container.running:
        return _("running")
    state = named(STATES, container.state)
    if container.state == "exited" and container.exit_code is not None:
        state = _("{state} ({exit_code})").format(state=state,
                                                  exit_code=ltr(container.exit_code))
    return _("{state}, OOM-killed").format(state=state) if container.oom_killed else state


def table(found: list[Container], now_ts: int) -> list[dict[str, Any]]:
    """One row per container: every value is text or a number, shown as it is."""
    return [{
        "service": ltr(c.key), "container": ltr(c.name), "image": ltr(c.image),
        "state": state_text(c),
        "health": health_text(c), "restarts": c.restarts,
        "CPU %": formatting.percent(c.values.get("cpu_pct")) if c.running else "-",
        "memory / limit": memory_text(c),
        "memory %": formatting.percent(c.mem_pct) if c.mem_pct is not None else "-",
        "uptime": formatting.uptime(c.running_seconds(now_ts)) if c.running else "-",
        "pids": c.values.get("pids"),
        "note": ltr(c.error or (c.health_output if c.health == "unhealthy" else "") or ""),
    } for c in found]


def summary(watched: Watch) -> str:
    """The Containers page's figure: `5 of 6 running, 1 unhealthy`."""
    found = watched.found
    count = formatting.figure
    text = ngettext("{running} of {total} running", "{running} of {total} running",
                    len(found)).format(running=count(str(sum(c.running for c in found))),
                                       total=count(str(len(found))))
    unhealthy = sum(c.health == "unhealthy" for c in found)
    oom = sum(c.oom_killed for c in found)
    if unhealthy:
        text = ngettext("{text}, {count} unhealthy", "{text}, {count} unhealthy",
                        unhealthy).format(text=text, count=count(str(unhealthy)))
    if oom:
        text = ngettext("{text}, {count} OOM-killed", "{text}, {count} OOM-killed",
                        oom).format(text=text, count=count(str(oom)))
    return text


def services(store: Store, start_ts: int, end_ts: int) -> list[str]:
    return history.keys(store, start_ts, end_ts)


def service_history(store: Store, key: str, start_ts: int, end_ts: int,
                    max_points: int = 500) -> list[dict[str, Any]]:
    return history.series(store, key, start_ts, end_ts, max_points)


def events(store: Store, start_ts: int, end_ts: int, limit: int = 200) -> list[Event]:
    return store.events(start_ts, end_ts, [EVENT_SOURCE], limit=limit)
