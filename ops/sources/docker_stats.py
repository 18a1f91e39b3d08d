"""The arithmetic of `docker stats`, on the Engine API's stats document.

A one-shot stats call answers at once but leaves `precpu_stats` empty (the streaming
call fills it by waiting about two seconds per container), so CPU % is computed against
the previous reading of the same container, kept by the caller as `Totals`: exactly the
formula of the docker CLI (cli/command/container/stats_helpers.go), unknown on a
container's first reading. Memory is usage minus the inactive file cache, which cgroup
v1 names `total_inactive_file` and cgroup v2 `inactive_file`, again as the CLI does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MB = 1024 * 1024


@dataclass(frozen=True)
class Totals:
    """The cumulative figures of one reading, for the next reading's deltas."""

    cpu_usage: int
    system_usage: int
    net_rx: int
    net_tx: int
    blk_read: int
    blk_write: int


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def totals(stats: Mapping[str, Any]) -> Totals:
    cpu = _dict(stats.get("cpu_stats"))
    rx, tx = network_bytes(stats)
    read, write = block_bytes(stats)
    return Totals(_int(_dict(cpu.get("cpu_usage")).get("total_usage")),
                  _int(cpu.get("system_cpu_usage")), rx, tx, read, write)


def online_cpus(stats: Mapping[str, Any]) -> int:
    """online_cpus, or the per-CPU list's length where an older engine leaves it out."""
    cpu = _dict(stats.get("cpu_stats"))
    per_cpu = _dict(cpu.get("cpu_usage")).get("percpu_usage")
    return _int(cpu.get("online_cpus")) or (len(per_cpu) if isinstance(per_cpu, list) else 0)


def cpu_percent(previous: Totals | None, stats: Mapping[str, Any]) -> float | None:
    """(usage delta / system delta) x online CPUs x 100, as `docker stats`; None without a
    previous reading of this container (or a system counter that did not move)."""
    if previous is None:
        return None
    now = totals(stats)
    cpu_delta = now.cpu_usage - previous.cpu_usage
    system_delta = now.system_usage - previous.system_usage
    if system_delta <= 0 or now.system_usage == 0:
        return None
    return max(0.0, cpu_delta / system_delta) * online_cpus(stats) * 100.0


def memory_used(stats: Mapping[str, Any]) -> int | None:
    """Usage minus the inactive file cache; None when the engine gave no memory figures
    (a container that is not running)."""
    memory = _dict(stats.get("memory_stats"))
    if "usage" not in memory:
        return None
    usage = _int(memory.get("usage"))
    detail = _dict(memory.get("stats"))
    if "total_inactive_file" in detail and _int(detail["total_inactive_file"]) < usage:  # v1
        return usage - _int(detail["total_inactive_file"])
    if _int(detail.get("inactive_file")) < usage:  # cgroup v2
        return usage - _int(detail.get("inactive_file"))
    return usage


def memory_limit(stats: Mapping[str, Any]) -> int | None:
    limit = _int(_dict(stats.get("memory_stats")).get("limit"))
    return limit or None


def network_bytes(stats: Mapping[str, Any]) -> tuple[int, int]:
    """Received and sent bytes, summed over the container's networks."""
    networks = _dict(stats.get("networks")).values()
    return (sum(_int(_dict(n).get("rx_bytes")) for n in networks),
            sum(_int(_dict(n).get("tx_bytes")) for n in networks))


def block_bytes(stats: Mapping[str, Any]) -> tuple[int, int]:
    """Bytes read and written, summed over block devices (ops named in either case)."""
    entries = _dict(stats.get("blkio_stats")).get("io_service_bytes_recursive") or []
    read = write = 0
    for entry in entries if isinstance(entries, list) else []:
        op = str(_dict(entry).get("op", "")).lower()
        if op == "read":
            read += _int(_dict(entry).get("value"))
        elif op == "write":
            write += _int(_dict(entry).get("value"))
    return read, write


def pids(stats: Mapping[str, Any]) -> int | None:
    current = _dict(stats.get("pids_stats")).get("current")
    return current if isinstance(current, int) else None


def interval(previous: Totals | None, now: Totals) -> dict[str, float | None]:
    """Network and block I/O bytes since the previous reading; None on the first one or
    when a counter went back (the container was restarted in between)."""
    names = ("net_rx", "net_tx", "blk_read", "blk_write")
    fields = ("net_rx_bytes", "net_tx_bytes", "blk_read_bytes", "blk_write_bytes")
    found: dict[str, float | None] = {}
    for name, field in zip(names, fields, strict=True):
        before = None if previous is None else getattr(previous, name)
        after = getattr(now, name)
        found[field] = None if before is None or after < before else float(after - before)
    return found
