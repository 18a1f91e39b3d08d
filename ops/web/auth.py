"""Dashboard login: one admin password, compared in constant time, guesses slowed down.

Each client address gets slots for password checks: one at a time, each next slot later
by a wait that doubles with every failure of that address in the last 15 minutes and
every attempt already waiting (0.5 s, 1 s, 2 s ... up to 10 s). An attempt whose slot
would be more than 10 s away is refused at once without a check. So parallel sessions
cannot multiply guesses (40 at once get about five checks), one typo costs half a
second, and an attacker elsewhere never delays the admin's own address. The password is
never logged or shown.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import deque
from collections.abc import Callable

from ops.config import Secret

WINDOW_SECONDS = 15 * 60
FIRST_DELAY_SECONDS = 0.5
MAX_DELAY_SECONDS = 10.0
MAX_ADDRESSES = 10_000


def password_matches(given: str, expected: Secret) -> bool:
    """Constant time whatever the lengths: both sides are hashed first."""
    return hmac.compare_digest(hashlib.sha256(given.encode()).digest(),
                               hashlib.sha256(expected.reveal().encode()).digest())


def _wait(count: int) -> float:
    return min(MAX_DELAY_SECONDS, FIRST_DELAY_SECONDS * 2.0 ** count)


class LoginThrottle:
    """Password-check slots per client address (see the module docstring)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._waiting: dict[str, int] = {}
        self._next_slot: dict[str, float] = {}
        self._lock = threading.Lock()

    def _recent_failures(self, address: str, now: float) -> int:
        failures = self._failures.get(address)
        if failures is None:
            return 0
        while failures and failures[0] < now - WINDOW_SECONDS:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return 0
        return len(failures)

    def reserve(self, address: str) -> float | None:
        """Seconds this attempt waits for its slot, or None: refused unchecked (the
        next slot is too far away). Every reservation must end with `done`."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot.get(address, now))
            if slot - now > MAX_DELAY_SECONDS:
                return None
            if len(self._next_slot) > MAX_ADDRESSES:
                self._forget_idle(now)
            pending = self._recent_failures(address, now) + self._waiting.get(address, 0)
            self._next_slot[address] = slot + _wait(pending)
            self._waiting[address] = self._waiting.get(address, 0) + 1
            return slot - now

    def _forget_idle(self, now: float) -> None:
        """Drop addresses with nothing waiting, no recent failure and a past slot, so
        guesses from many addresses cannot grow memory without end."""
        for address in [a for a, slot in self._next_slot.items() if slot <= now]:
            if not self._waiting.get(address) and not self._recent_failures(address, now):
                del self._next_slot[address]

    def done(self, address: str, ok: bool) -> None:
        """The checked attempt's outcome: a failure slows the address down, a success
        forgets its failures."""
        with self._lock:
            self._waiting[address] -= 1
            if not self._waiting[address]:
                del self._waiting[address]
            if ok:
                self._failures.pop(address, None)
            else:
                self._failures.setdefault(address, deque()).append(self._clock())

    def retry_after(self, address: str) -> float:
        """Seconds until this address may try again (for the refusal message)."""
        with self._lock:
            return max(0.0, self._next_slot.get(address, 0.0) - self._clock()
                       - MAX_DELAY_SECONDS)
