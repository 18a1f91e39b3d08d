"""What every metric source hands the collector: its fields and one reading.

A source's numeric fields are its entries in ops.catalogue (name, unit, help, counter or
gauge, /metrics name), where every other reader finds them too. Gauges are stored as
read; counters (cumulative since the server started) are turned into per-interval deltas
by the collector, from which rates and hit rates are computed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from ops.catalogue import Field
from ops.redaction import clean

__all__ = ["PROBE_TIMEOUT_SECONDS", "Field", "Reading", "Source", "elapsed_ms"]

PROBE_TIMEOUT_SECONDS = 2.0


@dataclass
class Reading:
    """One probe of one source. `values` holds only declared fields; `info` the rest.

    `error` is cleaned (ops.redaction.clean) when the reading is made: one line, no
    secret, whichever source or probe wrote it."""

    source: str
    up: bool
    error: str | None = None
    values: dict[str, float | None] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    took_ms: float = 0.0

    def __post_init__(self) -> None:
        if self.error is not None:
            self.error = clean(self.error)

    @classmethod
    def down(cls, source: str, error: object, took_ms: float = 0.0) -> Reading:
        """A failed probe; `error` is a message or the exception itself (named by type)."""
        return cls(source=source, up=False, error=clean(error), took_ms=took_ms)


class Source(Protocol):
    """A probe with its own timeout that never raises: failures become a down reading."""

    name: str
    fields: tuple[Field, ...]

    def probe(self) -> Reading: ...

    def close(self) -> None: ...


def elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
