"""Samples held in memory while the store cannot be written (a full disk, a file made
read-only, a lock held too long), written in order once it can be again.

Nothing is dropped silently: past the limit the oldest held sample goes, and the count
of those is part of the event recorded when writing resumes.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from ops.clock import iso_ms
from ops.deltas import Row
from ops.sources.base import Reading

# A day of samples at the default 5 s interval: a few tens of MB at most.
MAX_HELD_SAMPLES = 17_280


@dataclass
class HeldSample:
    ts: int
    readings: list[Reading]
    row: Row
    clock_back_from: int | None = None  # the previous tick's ts, when the clock went back


@dataclass
class WriteFailure:
    since_ts: int
    error: str


class HeldSamples:
    """The samples not written yet, oldest first, and since when writing fails."""

    def __init__(self, limit: int = MAX_HELD_SAMPLES) -> None:
        self.limit = limit
        self.samples: deque[HeldSample] = deque()
        self.dropped = 0
        self.failure: WriteFailure | None = None

    def add(self, sample: HeldSample) -> None:
        self.samples.append(sample)
        if len(self.samples) > self.limit:
            self.samples.popleft()
            self.dropped += 1

    def failed(self, ts: int, error: str) -> bool:
        """Note a failed write; True when it is the first of a run of failures."""
        if self.failure is None:
            self.failure = WriteFailure(ts, error)
            return True
        return False

    def recovered(self, now_ts: int, written: int) -> str | None:
        """The line that records a run of failures once writing works again (None when
        there was none), and a clean slate."""
        if self.failure is None:
            return None
        line = (f"the history could not be written from {iso_ms(self.failure.since_ts)} to "
                f"{iso_ms(now_ts)}: {self.failure.error}; {written} samples held in memory "
                "were written late")
        if self.dropped:
            line += f", {self.dropped} older ones were dropped (memory limit)"
        self.failure, self.dropped = None, 0
        return line
