"""The machine the collector runs on: memory, load, CPU, disk of the data directory.

Memory "free" is psutil's `available` (what can be given to programs without swapping),
which is what the seed's `usagePercent = (total - free) / total * 100` means.
"""

from __future__ import annotations

import os
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

from ops.catalogue import HOST_FIELDS
from ops.redaction import one_line
from ops.sources.base import Reading, elapsed_ms

MB = 1024 * 1024

FIELDS = HOST_FIELDS  # declared in ops.catalogue, where every reader finds them


def _mb(n_bytes: float) -> float:
    return round(n_bytes / MB, 2)


class HostSource:
    """psutil figures of this host; the disk figures are those of the data directory."""

    name = "host"
    fields = FIELDS

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self._process = psutil.Process(os.getpid())
        # The first non-blocking call has no previous sample and returns 0.0: prime it.
        psutil.cpu_percent(interval=None)

    def probe(self) -> Reading:
        started = time.perf_counter()
        try:
            values = self._memory() | self._cpu()
            values["process_rss_mb"] = _mb(self._process.memory_info().rss)
            info: dict[str, str] = {"hostname": socket.gethostname(), "boot_time": _boot_time()}
        except (OSError, psutil.Error) as err:
            return Reading.down(self.name, err, elapsed_ms(started))
        try:
            values |= self._disk()
        except OSError as err:
            # A missing data directory does not make the host down: those two are unknown.
            values |= {"disk_used_pct": None, "disk_free_mb": None}
            info["disk_error"] = one_line(err)
        return Reading(self.name, True, values=values, info=info, took_ms=elapsed_ms(started))

    def close(self) -> None:
        """Nothing to release."""

    def _memory(self) -> dict[str, float | None]:
        memory = psutil.virtual_memory()
        used_pct = (memory.total - memory.available) / memory.total * 100 if memory.total else None
        return {
            "mem_total_mb": _mb(memory.total),
            "mem_free_mb": _mb(memory.available),
            "mem_used_pct": None if used_pct is None else round(used_pct, 2),
        }

    def _cpu(self) -> dict[str, float | None]:
        load_1, load_5, load_15 = psutil.getloadavg()
        return {
            "load_1": round(load_1, 2),
            "load_5": round(load_5, 2),
            "load_15": round(load_15, 2),
            "cpu_pct": psutil.cpu_percent(interval=None),
            "cores": psutil.cpu_count(logical=True),
        }

    def _disk(self) -> dict[str, float | None]:
        usage = psutil.disk_usage(str(self.data_dir))
        return {"disk_used_pct": round(usage.percent, 2), "disk_free_mb": _mb(usage.free)}


def _boot_time() -> str:
    """Boot time as ISO 8601 UTC, so a reboot shows up as a changed value."""
    return datetime.fromtimestamp(psutil.boot_time(), tz=UTC).isoformat(timespec="seconds")
