"""MongoDB: ping, serverStatus, buildInfo and dbStats of the watched databases.

The whole probe runs under one client-side deadline, so a server that hangs costs at
most PROBE_TIMEOUT_SECONDS however many commands are left. The URI's secrets are
remembered by ops.redaction, so every error text (driver errors may quote hosts and
options) is masked when the reading is made.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pymongo
from bson.errors import BSONError
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from ops.catalogue import MONGO_FIELDS, MONGO_OPERATIONS
from ops.redaction import one_line, remember_url, split_userinfo
from ops.sources.base import PROBE_TIMEOUT_SECONDS, Reading, elapsed_ms

MB = 1024 * 1024
SYSTEM_DATABASES = frozenset({"admin", "local", "config"})
# mongod reports mem.resident in MB. A value of 2**20 or more would be a TiB of resident
# memory; it is bytes instead, as the nx-27017 stand-in reports (e.g. 31764480).
_RESIDENT_BYTES_FROM = 2**20

FIELDS = MONGO_FIELDS  # declared in ops.catalogue, where every reader finds them


def _mb(n_bytes: float) -> float:
    return round(n_bytes / MB, 2)


def _number(value: Any) -> float | None:
    """A numeric server value, or None when absent (the stand-in omits some)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return None


def split_uri(uri: str) -> tuple[str, str | None]:
    """(host list without credentials, password or None) from a mongodb:// URI."""
    _, userinfo, rest = split_userinfo(uri)
    password = userinfo.partition(":")[2] if userinfo else ""
    return re.split(r"[/?#]", rest, maxsplit=1)[0], password or None


class MongoSource:
    """One MongoClient for the source's life; the driver reconnects by itself."""

    name = "mongo"
    fields = FIELDS

    def __init__(self, uri: str, databases: list[str] | None = None) -> None:
        self._host = split_uri(uri)[0]
        remember_url(uri)
        self._databases = list(databases) if databases is not None else None
        timeout_ms = int(PROBE_TIMEOUT_SECONDS * 1000)
        self._client: MongoClient[dict[str, Any]] = MongoClient(
            uri,
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
            socketTimeoutMS=timeout_ms,
            appname="ops-dashboard",
        )

    def probe(self) -> Reading:
        started = time.perf_counter()
        try:
            with pymongo.timeout(PROBE_TIMEOUT_SECONDS):
                self._client.admin.command("ping")
                ping_ms = elapsed_ms(started)
                status = self._client.admin.command("serverStatus")
                build = self._client.admin.command("buildInfo")
                stats = {name: self._db_stats(name) for name in self._watched()}
        except (PyMongoError, BSONError, OSError) as err:
            return Reading.down(self.name, _brief(one_line(err)), elapsed_ms(started))
        except (KeyError, TypeError, ValueError) as err:
            # A reply of a shape the driver does not expect, e.g. the nx-27017 stand-in
            # answers SCRAM's saslStart without a payload and the driver hits KeyError.
            error = f"unexpected reply from the server: {one_line(err)}"
            return Reading.down(self.name, error, elapsed_ms(started))
        values = {"ping_ms": ping_ms} | _status_values(status) | _totals(stats)
        info = {
            "version": build.get("version") or status.get("version"),
            "databases": stats,
            "host": self._host,
        }
        return Reading(self.name, True, values=values, info=info, took_ms=elapsed_ms(started))

    def close(self) -> None:
        self._client.close()

    def _watched(self) -> list[str]:
        """The configured databases, or every user database as listed right now."""
        if self._databases is not None:
            return self._databases
        names = self._client.list_database_names()
        return sorted(name for name in names if name not in SYSTEM_DATABASES)

    def _db_stats(self, name: str) -> dict[str, float | None]:
        stats = self._client[name].command("dbStats")
        sizes = {key: _number(stats.get(key)) for key in ("dataSize", "storageSize", "indexSize")}
        return {
            "objects": _number(stats.get("objects")),
            "data_size_mb": _mb_or_none(sizes["dataSize"]),
            "storage_size_mb": _mb_or_none(sizes["storageSize"]),
            "index_size_mb": _mb_or_none(sizes["indexSize"]),
            "indexes": _number(stats.get("indexes")),
            "collections": _number(stats.get("collections")),
        }


def _brief(text: str) -> str:
    """A driver's error without its topology dump."""
    return text.split(", Timeout: ", 1)[0]


def _mb_or_none(n_bytes: float | None) -> float | None:
    return None if n_bytes is None else _mb(n_bytes)


def _status_values(status: dict[str, Any]) -> dict[str, float | None]:
    connections = status.get("connections") or {}
    opcounters = status.get("opcounters") or {}
    return {
        "uptime_s": _number(status.get("uptime")),
        "connections_current": _number(connections.get("current")),
        "connections_available": _number(connections.get("available")),
        "resident_mb": _resident_mb((status.get("mem") or {}).get("resident")),
        **{f"op_{op}": _number(opcounters.get(op)) for op in MONGO_OPERATIONS},
    }


def _resident_mb(value: Any) -> float | None:
    resident = _number(value)
    if resident is None or resident < _RESIDENT_BYTES_FROM:
        return resident
    return _mb(resident)


def _totals(stats: dict[str, dict[str, float | None]]) -> dict[str, float | None]:
    """Sums over the watched databases; a figure a server omits counts as 0."""

    def total(key: str) -> float:
        return round(sum(db[key] or 0 for db in stats.values()), 2)

    return {
        "objects_total": total("objects"),
        "data_size_mb_total": total("data_size_mb"),
        "storage_size_mb_total": total("storage_size_mb"),
        "indexes_total": total("indexes"),
    }
