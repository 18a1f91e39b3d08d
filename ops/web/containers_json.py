"""GET /api/monitoring/containers: every container as `docker stats` and `docker inspect`
show it, in the seed's style (memory in whole MB, percentages as strings with two
decimals, uptime `{"seconds", "formatted"}`), from the collector's latest reading.

`status` is "OK" with the engine's containers, "DOWN" when the collector cannot reach
the engine (`error` says why), "STALE" when the collector has not sampled for three
intervals (the containers as last seen), "NOT_CONFIGURED" when it watches none. The
answer is 200 for OK and NOT_CONFIGURED (nothing is wrong), else 503 with the same body.
"""

from __future__ import annotations

import math
from typing import Any

from ops import formatting
from ops.catalogue import DOCKER
from ops.clock import iso_ms
from ops.config import Settings
from ops.report import Snapshot, collector_fresh
from ops.sources.containers import Container, containers


def _whole(value: float | None) -> int | None:
    """Half up, as the seed's Math.round."""
    return None if value is None else math.floor(value + 0.5)


def _text2(value: float | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def container_json(c: Container, now_ts: int) -> dict[str, Any]:
    v = c.values
    seconds = c.running_seconds(now_ts)
    return {
        "name": c.name, "service": c.key, "composeProject": c.project,
        "composeService": c.service, "image": c.image, "state": c.state,
        "health": c.health, "restarts": c.restarts, "startedAt": c.started_at,
        "exitCode": c.exit_code, "oomKilled": c.oom_killed,
        "uptime": {"seconds": _int(seconds),
                   "formatted": None if seconds is None else formatting.uptime(seconds)},
        "cpu": {"usagePercent": _text2(v.get("cpu_pct"))},
        "memory": {"used": _whole(v.get("mem_used_mb")), "limit": _whole(v.get("mem_limit_mb")),
                   "usagePercent": _text2(c.mem_pct), "limited": c.mem_limited},
        "network": {"rxBytes": _int(v.get("net_rx_bytes")), "txBytes": _int(v.get("net_tx_bytes"))},
        "blockIo": {"readBytes": _int(v.get("blk_read_bytes")),
                    "writeBytes": _int(v.get("blk_write_bytes"))},
        "pids": _int(v.get("pids")),
        "error": c.error,
    }


def containers_report(snapshot: Snapshot, settings: Settings) -> dict[str, Any]:
    item = snapshot.latest.get(DOCKER.name)
    if item is None:
        return {"status": "NOT_CONFIGURED", "containers": []}
    if not item.up:
        return {"status": "DOWN", "error": item.error, "sampledAt": iso_ms(item.ts),
                "containers": []}
    found = containers(item.reading.get("info"))
    return {"status": "OK" if collector_fresh(snapshot) else "STALE",
            "sampledAt": iso_ms(item.ts),
            "containers": [container_json(c, snapshot.now_ts) for c in found]}


def http_status(body: dict[str, Any]) -> int:
    return 200 if body.get("status") in ("OK", "NOT_CONFIGURED") else 503
