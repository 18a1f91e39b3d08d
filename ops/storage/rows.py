"""The row types the store hands out, and their mapping from rows by column name.

Columns are selected and read by the dataclass's field names, never by position, so a
column added to a table or a field added to a class cannot shift the others.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")

ACTIVE = ("queued", "running")


@cache
def field_names(cls: type) -> tuple[str, ...]:
    """A row dataclass's field names, in order (looked up once per class: rows are
    mapped by the thousand)."""
    return tuple(field.name for field in fields(cls))


def columns(cls: type) -> str:
    """The SELECT list for a row dataclass: its field names, in order."""
    return ", ".join(field_names(cls))


def from_row(cls: type[T], row: sqlite3.Row | Mapping[str, Any],
             decode: Mapping[str, Callable[[Any], Any]] | None = None) -> T:
    """A `cls` from a row read by column name; `decode` turns stored text (JSON) or
    integers (flags) into the field's value."""
    names = field_names(cls)  # type: ignore[arg-type]  # a class is hashable
    if not decode:
        return cls(**{name: row[name] for name in names})
    values = {}
    for name in names:
        value = row[name]
        convert = decode.get(name)
        values[name] = convert(value) if convert else value
    return cls(**values)


def json_or_none(text: str | None) -> Any:
    return json.loads(text) if text else None


def json_or_empty(text: str | None) -> Any:
    return json.loads(text) if text else {}


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    status: str  # queued, running, ok, failed, interrupted
    requested_by: str
    requested_ts: int
    started_ts: int | None
    finished_ts: int | None
    pid: int | None
    hostname: str | None
    params: dict[str, Any]
    progress: dict[str, Any] | None
    result: dict[str, Any] | None
    error: str | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


JOB_DECODE = {"params": json_or_empty, "progress": json_or_none, "result": json_or_none}


@dataclass(frozen=True)
class Event:
    ts: int
    source: str
    kind: str
    message: str | None


@dataclass(frozen=True)
class Heartbeat:
    pid: int
    hostname: str
    started_ts: int
    last_tick_ts: int
    interval_s: float
    version: str


@dataclass(frozen=True)
class Latest:
    source: str
    ts: int
    up: bool
    since_ts: int
    error: str | None
    reading: dict[str, Any]


LATEST_DECODE: dict[str, Callable[[Any], Any]] = {"up": bool, "reading": json.loads}
