"""One container as the dashboard knows it, and what changed between two readings.

A container is followed by its compose service (`project/service`, and the replica
number past the first), not by its id: `docker compose up` after a change re-creates a
container under a new id, and its history, alerts and events go on under the same key.
A container outside compose is followed by its name.

Every text here (names, images, labels, health output) comes from the engine and is
untrusted: it is stored and shown as plain text, never as markup.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
NUMBER_LABEL = "com.docker.compose.container-number"

# The source of the container events in the history (kind: started, stopped, ...).
EVENT_SOURCE = "containers"


@dataclass
class Container:
    """What one reading says of a container: inspect's state and stats' figures."""

    key: str
    id: str
    name: str
    image: str
    state: str
    project: str | None = None
    service: str | None = None
    health: str | None = None  # starting, healthy, unhealthy; None: no health check
    health_output: str | None = None  # the last check's output, when it failed
    restarts: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None
    oom_killed: bool = False
    # The memory limit set on it (inspect's HostConfig.Memory), None when none was: the
    # host's memory is then its limit.
    memory_limit_mb: float | None = None
    values: dict[str, float | None] = dataclasses.field(default_factory=dict)
    error: str | None = None  # a stats or inspect call that failed for this container

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Container:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def running(self) -> bool:
        return self.state == "running"

    def running_seconds(self, now_ts: int) -> float | None:
        """Seconds since a running container started; None when it is not running."""
        started = _instant(self.started_at or "") if self.running else None
        return None if started is None else max(0.0, now_ts / 1000 - started.timestamp())

    @property
    def mem_limited(self) -> bool:
        return self.memory_limit_mb is not None

    @property
    def mem_pct(self) -> float | None:
        used, limit = self.values.get("mem_used_mb"), self.values.get("mem_limit_mb")
        return None if used is None or not limit else used / limit * 100


def _instant(text: str) -> datetime | None:
    """The engine's RFC 3339 time (nanoseconds, `Z`) as a datetime; None when unset
    (the engine writes 0001-01-01 for never)."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", text)
    if match is None or match[1].startswith("0001-"):
        return None
    zone = "+00:00" if match[3] == "Z" else match[3]
    return datetime.fromisoformat(f"{match[1]}{(match[2] or '')[:7]}{zone}")


def key_of(name: str, labels: Mapping[str, str]) -> str:
    """`project/service` (`project/service#2` for a further replica), else the name."""
    project, service = labels.get(PROJECT_LABEL), labels.get(SERVICE_LABEL)
    if not service:
        return name
    number = labels.get(NUMBER_LABEL, "1")
    head = f"{project}/{service}" if project else service
    return head if number in ("", "1") else f"{head}#{number}"


def containers(info: Mapping[str, Any] | None) -> list[Container]:
    """The containers of a stored docker reading's info."""
    found = (info or {}).get("containers") or []
    return [Container.from_dict(item) for item in found if isinstance(item, dict)]


@dataclass(frozen=True)
class Change:
    """An event for the history: `kind` one of started, stopped, restarted, oom_killed,
    health, recreated, removed."""

    key: str
    kind: str
    message: str


def _state_change(before: Container, after: Container) -> list[Change]:
    key = after.key
    if after.restarts > before.restarts:
        return [Change(key, "restarted", f"{key} restarted (restart count {after.restarts})")]
    if before.running and not after.running:
        code = "" if after.exit_code is None else f" with exit code {after.exit_code}"
        return [Change(key, "stopped", f"{key} is {after.state}{code}")]
    if after.running and (not before.running or after.started_at != before.started_at):
        return [Change(key, "started", f"{key} started")]
    return []


def _change(before: Container | None, after: Container) -> list[Change]:
    key = after.key
    if before is None:
        return [Change(key, "started", f"{key} started")] if after.running else []
    found: list[Change] = []
    if before.id != after.id:
        found.append(Change(key, "recreated", f"{key} re-created as {after.id[:12]} "
                                               f"(was {before.id[:12]})"))
    found += _state_change(before, after)
    if after.oom_killed and not (before.oom_killed and before.finished_at == after.finished_at):
        found.append(Change(key, "oom_killed", f"{key} was killed for lack of memory "
                                               "(OOM killer)"))
    if after.health != before.health and after.health is not None:
        why = f": {after.health_output}" if after.health == "unhealthy" and after.health_output \
            else ""
        found.append(Change(key, "health", f"{key} is {after.health}{why}"))
    return found


def changes(before: Iterable[Container] | None, after: Iterable[Container]) -> list[Change]:
    """The events between two readings; none for the first reading (nothing to compare)."""
    if before is None:
        return []
    previous = {c.key: c for c in before}
    now = {c.key: c for c in after}
    found = [change for key, container in now.items()
             for change in _change(previous.get(key), container)]
    found += [Change(key, "removed", f"{key} was removed") for key in previous
              if key not in now]
    return found
