"""Dashboard login: one admin password, compared in constant time, failures slowed down.

Every wrong password in the last 15 minutes doubles the wait before the next attempt is
checked (from 0.5 s up to 10 s), for every session of the server, so guessing is slow
while one typo costs half a second. The password is never logged or shown.
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


def password_matches(given: str, expected: Secret) -> bool:
    """Constant time whatever the lengths: both sides are hashed first."""
    return hmac.compare_digest(hashlib.sha256(given.encode()).digest(),
                               hashlib.sha256(expected.reveal().encode()).digest())


class LoginThrottle:
    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._failures: deque[float] = deque()
        self._lock = threading.Lock()

    def delay(self) -> float:
        """Seconds to wait before checking the next attempt."""
        with self._lock:
            cutoff = self._clock() - WINDOW_SECONDS
            while self._failures and self._failures[0] < cutoff:
                self._failures.popleft()
            count = len(self._failures)
        return 0.0 if count == 0 else min(MAX_DELAY_SECONDS, FIRST_DELAY_SECONDS * 2 ** (count - 1))

    def attempt(self, given: str, expected: Secret) -> bool:
        self._sleep(self.delay())
        ok = password_matches(given, expected)
        if not ok:
            with self._lock:
                self._failures.append(self._clock())
        return ok
