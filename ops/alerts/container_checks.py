"""What the container rules judge, one verdict per container (by its compose service):
exited or restarting, unhealthy, OOM-killed, memory near its limit.

A restart or an OOM kill is a moment, not a state: inspect's `OOMKilled` is cleared when
the restart policy starts the container again, and a restart count only says that it
rose. So both also count while the collector's event of it is recent (`RECENT_MS`), and
the alert resolves once the container has stayed up that long.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass

from ops.sources.containers import Container

RECENT_MS = 15 * 60_000


@dataclass(frozen=True)
class Verdict:
    subject: str
    active: bool
    value: float | None
    message: str


def _recent(events: Mapping[str, Set[str]], key: str, kind: str) -> bool:
    return kind in events.get(key, set())


def down(found: Iterable[Container], events: Mapping[str, Set[str]]) -> list[Verdict]:
    """Exited with a non-zero code, dead, restarting, or restarted in the last 15 min."""
    verdicts = []
    for c in found:
        failed = c.state in ("exited", "dead") and (c.exit_code or 0) != 0
        restarting = c.state == "restarting" or _recent(events, c.key, "restarted")
        if failed:
            text = f"{c.key} is {c.state} with exit code {c.exit_code}"
        elif restarting:
            text = f"{c.key} is restarting (restart count {c.restarts})"
        else:
            text = f"{c.key} is {c.state}"
        verdicts.append(Verdict(c.key, failed or restarting, float(c.restarts), text))
    return verdicts


def unhealthy(found: Iterable[Container]) -> list[Verdict]:
    return [Verdict(c.key, c.health == "unhealthy", None,
                    f"{c.key} is unhealthy" + (f": {c.health_output}" if c.health_output else "")
                    if c.health == "unhealthy" else f"{c.key} is {c.health}")
            for c in found if c.health is not None]


def oom_killed(found: Iterable[Container], events: Mapping[str, Set[str]]) -> list[Verdict]:
    return [Verdict(c.key, c.oom_killed or _recent(events, c.key, "oom_killed"), None,
                    f"{c.key} was killed for lack of memory (OOM killer" + (
                        f"; limit {c.memory_limit_mb:g} MB)" if c.memory_limit_mb else ")")
                    if c.oom_killed or _recent(events, c.key, "oom_killed")
                    else f"{c.key} was not OOM-killed")
            for c in found]


def memory_high(found: Iterable[Container], threshold: float) -> list[Verdict]:
    """Memory used above `threshold` % of a limit that was set (a container without one
    is limited by the host, which memory_high watches)."""
    verdicts = []
    for c in found:
        pct = c.mem_pct
        if not c.mem_limited or pct is None:
            continue
        verdicts.append(Verdict(c.key, pct > threshold, pct,
                                f"{c.key} memory {pct:.1f}% of its "
                                f"{c.values.get('mem_limit_mb'):g} MB limit "
                                f"(limit {threshold:g}%)"))
    return verdicts
