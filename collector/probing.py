"""Run every source's probe at once, each on its own thread, and collect what came back.

A probe that has not answered by the deadline is recorded as down for this tick; its
thread is left to finish on its own and the source is not probed again until it has,
so a hanging server can neither delay the other sources nor pile up threads. When that
late answer arrives before the next tick, the next tick uses it (it is at most one
interval old) and so shows the real error rather than a timeout.
"""

from __future__ import annotations

import logging
import threading
import time

from ops.redaction import one_line
from ops.sources.base import PROBE_TIMEOUT_SECONDS, Reading, Source

log = logging.getLogger(__name__)

# Past the probe's own timeout, a little slack before the tick gives up on it.
DEADLINE_SECONDS = PROBE_TIMEOUT_SECONDS + 0.5


class _Call:
    def __init__(self, source: Source) -> None:
        self.source = source
        self.started = time.monotonic()
        self.reading: Reading | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"probe-{source.name}",
                                       daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.reading = self.source.probe()
        except Exception as error:
            # The probe thread's boundary: a source must never raise (its failures are down
            # readings), so this is a bug. Its traceback goes to the log; the tick records
            # the source as down with one line, and the other sources carry on.
            log.exception("probe of %s raised; recorded as down", self.source.name)
            self.reading = Reading.down(self.source.name, f"probe failed: {one_line(error)}")
        finally:
            self.done.set()


class ProbeRunner:
    def __init__(self, sources: list[Source]) -> None:
        self.sources = sources
        self._running: dict[str, _Call] = {}

    def probe_all(self, stop: threading.Event | None = None,
                  deadline_s: float = DEADLINE_SECONDS) -> list[Reading] | None:
        """One reading per source, or None when `stop` was set while waiting."""
        calls = {s.name: self._start(s) for s in self.sources}
        end = time.monotonic() + deadline_s
        for call in calls.values():
            while not call.done.wait(min(0.05, max(0.0, end - time.monotonic()))):
                if stop is not None and stop.is_set():
                    return None
                if time.monotonic() >= end:
                    break
        return [self._reading(name, call) for name, call in calls.items()]

    def _start(self, source: Source) -> _Call:
        """A new probe, or the previous one if it is still out (or finished unread)."""
        running = self._running.get(source.name)
        if running is not None:
            return running
        call = _Call(source)
        self._running[source.name] = call
        return call

    def _reading(self, name: str, call: _Call) -> Reading:
        if call.done.is_set() and call.reading is not None:
            del self._running[name]
            return call.reading
        waited = time.monotonic() - call.started
        return Reading.down(name, f"no answer after {waited:.1f} s (timeout)",
                            took_ms=round(waited * 1000, 3))

    def close(self) -> None:
        for source in self.sources:
            source.close()
