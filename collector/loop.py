"""The collector's loop: probe, turn counters into deltas, store one sample, note changes.

Ticks sit on a fixed grid (start + k * interval): a slow tick never pushes the later
ones, it only skips the slots it overran. `run_once()` is one tick; `run(max_ticks)`
is the bounded loop the tests drive.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from collector.holding import HeldSample, HeldSamples
from collector.probing import DEADLINE_SECONDS, ProbeRunner
from ops import __version__
from ops.clock import iso_ms, now_ms
from ops.deltas import CounterTracker, Row, columns_for
from ops.housekeeping import Retention, prune_and_cap, roll_up_due
from ops.redaction import one_line
from ops.sources.base import Reading, Source
from ops.storage import Heartbeat, Latest, Store

log = logging.getLogger(__name__)

ROLL_UP_EVERY_SECONDS = 60
PRUNE_EVERY_SECONDS = 3600


@dataclass
class Tick:
    ts: int
    readings: list[Reading]
    row: Row


class Collector:
    def __init__(self, store: Store, sources: list[Source], interval_s: float,
                 retention: Retention, clock: Callable[[], int] = now_ms,
                 after_tick: list[Callable[[Tick], object]] | None = None) -> None:
        self.store = store
        self.sources = sources
        self.interval_s = interval_s
        self.retention = retention
        self.clock = clock
        self.stop_event = threading.Event()
        self.runner = ProbeRunner(sources)
        # Short intervals wait less for a slow source, so ticks stay on time.
        self.probe_deadline_s = min(DEADLINE_SECONDS, max(0.5, interval_s * 0.8))
        self.counters = CounterTracker()
        self.started_ts = clock()
        self.last_ts: int | None = None
        self.held = HeldSamples()
        self.last_monotonic = time.monotonic()
        self.after_tick = after_tick or []
        self.last_roll_up: float | None = None
        self.last_prune: float | None = None
        self.states = {name: (item.up, item.since_ts) for name, item in store.latest().items()}
        store.ensure_columns(c for s in sources for c in columns_for(s.name, s.fields))
        store.forget_latest(s.name for s in sources)

    def stop(self) -> None:
        self.stop_event.set()

    def run(self, max_ticks: int | None = None) -> int:
        """Tick until stopped (or `max_ticks`); returns the number of samples written."""
        written = 0
        start = time.monotonic()
        slot = 0
        while not self.stop_event.is_set() and (max_ticks is None or written < max_ticks):
            if self.run_once() is not None:
                written += 1
            slot = max(slot + 1, int((time.monotonic() - start) // self.interval_s) + 1)
            self.stop_event.wait(max(0.0, start + slot * self.interval_s - time.monotonic()))
        return written

    def run_once(self) -> Tick | None:
        """Probe all sources and store one sample; None when stopped while probing."""
        ts = self.clock()
        readings = self.runner.probe_all(self.stop_event, self.probe_deadline_s)
        if readings is None:
            return None
        row = self._row(ts, readings)
        back_from = self.last_ts if self.last_ts is not None and ts <= self.last_ts else None
        self.last_ts, self.last_monotonic = ts, time.monotonic()
        self.held.add(HeldSample(ts, readings, row, back_from))
        tick = Tick(ts, readings, row)
        written_ts = self._write_held(ts)
        if written_ts is None:
            return tick  # alerts judge and record stored history: they wait with it
        tick.ts = written_ts
        self._housekeeping(tick.ts)
        for hook in self.after_tick:
            try:
                hook(tick)
            except Exception:  # a bug in alerting must not stop the sampling
                log.exception("after-tick step %s failed", getattr(hook, "__name__", hook))
        return tick

    def _seconds_since_last(self, ts: int) -> float | None:
        """Seconds the sample covers: by the wall clock, or by the monotonic clock when
        the wall clock was set back (a negative interval would turn rates upside down)."""
        if self.last_ts is None:
            return None
        if ts > self.last_ts:
            return (ts - self.last_ts) / 1000
        return time.monotonic() - self.last_monotonic

    def _row(self, ts: int, readings: list[Reading]) -> Row:
        fields = {s.name: s.fields for s in self.sources}
        row: Row = {"dt_s": self._seconds_since_last(ts)}
        for reading in readings:
            row.update(self.counters.row(reading, fields[reading.source]))
        return row

    def _write_held(self, now_ts: int) -> int | None:
        """Write every held sample, oldest first; the ts the newest got, or None (the
        rest kept) when the store cannot be written. The sampling goes on either way."""
        written, last_ts = 0, None
        while self.held.samples:
            sample = self.held.samples[0]
            states = dict(self.states)  # a failed write must not swallow a transition
            try:
                last_ts = self._write(sample)
            except sqlite3.Error as err:
                self.states = states
                if self.held.failed(now_ts, one_line(err)):
                    log.error("cannot write the history, holding samples in memory: %s",
                              one_line(err), exc_info=True)
                return None
            self.held.samples.popleft()
            written += 1
        self._note_recovery(now_ts, written)
        return last_ts

    def _note_recovery(self, now_ts: int, written: int) -> None:
        line = self.held.recovered(now_ts, written - 1)  # the newest was on time
        if line is not None:
            log.warning("%s", line)
            self.store.record_event(now_ts, "store", "write_resumed", line)

    def _write(self, sample: HeldSample) -> int:
        """One transaction: the sample, state changes, the heartbeat; returns its ts."""
        with self.store.transaction():
            if sample.clock_back_from is not None:
                self._note_clock_step(sample.clock_back_from, sample.ts)
            ts = self.store.append_sample(sample.ts, sample.row)
            for reading in sample.readings:
                self._note_state(ts, reading)
            self.store.beat(Heartbeat(os.getpid(), socket.gethostname(), self.started_ts, ts,
                                      self.interval_s, __version__))
        return ts

    def _note_clock_step(self, last_ts: int, ts: int) -> None:
        note = (f"the wall clock went back {(last_ts - ts) / 1000:.0f} s (last sample "
                f"{iso_ms(last_ts)}, now {iso_ms(ts)}): samples keep their own times")
        self.store.record_event(ts, "collector", "clock_stepped_back", note)
        log.warning("%s", note)

    def _note_state(self, ts: int, reading: Reading) -> None:
        """Keep the latest reading; record an event when a service goes down or comes up."""
        was_up, since = self.states.get(reading.source, (None, ts))
        if was_up is not reading.up:
            since = ts
            kind = "up" if reading.up else "down"
            self.store.record_event(ts, reading.source, kind, reading.error)
            log.log(logging.INFO if reading.up else logging.WARNING, "%s is %s%s",
                    reading.source, kind.upper(), f": {reading.error}" if reading.error else "")
        self.states[reading.source] = (reading.up, since)
        self.store.set_latest(Latest(reading.source, ts, reading.up, since, reading.error, {
            "values": reading.values, "info": reading.info, "took_ms": reading.took_ms}))

    def _housekeeping(self, ts: int) -> None:
        """Rollups every minute, retention and the size cap every hour; both at start.
        A write that fails here is tried again when next due."""
        try:
            if _due(self.last_roll_up, ROLL_UP_EVERY_SECONDS):
                self.last_roll_up = time.monotonic()
                roll_up_due(self.store, ts)
            if _due(self.last_prune, PRUNE_EVERY_SECONDS):
                self.last_prune = time.monotonic()
                prune_and_cap(self.store, self.retention, ts)
        except sqlite3.Error as err:
            log.warning("housekeeping of the history failed, tried again later: %s",
                        one_line(err), exc_info=True)

    def close(self) -> None:
        self.runner.close()


def _due(last: float | None, every_s: float) -> bool:
    return last is None or time.monotonic() - last >= every_s
