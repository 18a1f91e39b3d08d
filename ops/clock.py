"""Time as the store keeps it: integer milliseconds since the epoch, UTC.

One place for "now", the lengths of the units every layer counts in, and the ISO 8601
text the JSON endpoints show.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

SECOND_MS = 1000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS


def now_ms() -> int:
    """Now, in the store's unit: integer milliseconds since the epoch."""
    return int(time.time() * 1000)


def iso_ms(ts_ms: int) -> str:
    """`2026-12-02T07:16:19Z`: a store time as ISO 8601 in UTC, to the second."""
    return datetime.fromtimestamp(ts_ms / 1000, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")
