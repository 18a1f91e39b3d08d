"""Tiers of history: raw samples, 1-minute, 5-minute and 1-hour rollups, and how a
range query uses them.

A rollup row covers [ts, ts + step) and keeps, for every gauge, its sum, count, minimum
and maximum, and for every counter its summed deltas and the seconds they cover - all
additive, so any bucket built from any mix of rows is exact: averages are sums over
counts, rates and hit rates are sums over sums, never an average of ratios.

`plan` splits a query range into segments, each served by one tier: the tier whose step
suits the bucket width, finer tiers for the newest part not rolled up yet, coarser tiers
for the part older than the chosen tier keeps. Boundaries sit on the coarser tier's
step, so no time is counted twice or left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from ops.clock import HOUR_MS, MINUTE_MS


@dataclass(frozen=True)
class Tier:
    name: str
    table: str
    step_ms: int  # the resolution: a row stands for [ts, ts + step)
    source: str | None = None  # the tier its rows are built from (None: raw samples)

    @property
    def is_raw(self) -> bool:
        return self.table == "samples"


RAW = Tier("raw", "samples", 1)
MINUTE = Tier("1m", "rollup_1m", MINUTE_MS, source="raw")
# Built from the 1-minute rows (their partials add up exactly), so a file that had only
# 1-minute history gets its 5-minute tier at once. It serves ranges of about 5 to 60
# days at ~1,500 points reading a fifth of the rows: 30 days are 8,640 rows, not 43,200.
FIVE_MINUTES = Tier("5m", "rollup_5m", 5 * MINUTE_MS, source="1m")
HOUR = Tier("1h", "rollup_1h", HOUR_MS, source="raw")
TIERS = (RAW, MINUTE, FIVE_MINUTES, HOUR)
ROLLUPS = (MINUTE, FIVE_MINUTES, HOUR)  # in the order they are built: sources first
BY_NAME = {tier.name: tier for tier in TIERS}


def built_from(tier: Tier) -> Tier:
    """The tier whose rows `tier` sums up."""
    return BY_NAME[tier.source or RAW.name]


def built_on(tier: Tier) -> list[Tier]:
    """The rollups summing up `tier`'s rows: its rows may go only once these have them."""
    return [t for t in ROLLUPS if t.source == tier.name]


@dataclass(frozen=True)
class Coverage:
    """What a tier holds: rows with lo <= ts < hi (hi is exclusive)."""

    lo: int
    hi: int


@dataclass(frozen=True)
class Segment:
    tier: Tier
    lo: int
    hi: int  # exclusive


def _ceil(value: int, step: int) -> int:
    return -(-value // step) * step


def pick(width_ms: int) -> int:
    """Index of the coarsest tier whose step still fits in one bucket."""
    return max(i for i, tier in enumerate(TIERS) if tier.step_ms <= max(width_ms, 1))


def plan(lo: int, hi: int, width_ms: int, coverage: dict[str, Coverage | None]) -> list[Segment]:
    """Segments covering [lo, hi) from the tiers that hold it, oldest first.

    The coarsest tier that fits leads; if it holds nothing yet (a tier added by an
    upgrade, before its first roll-up), the next finer one that holds data does."""
    index = pick(width_ms)
    while index > 0 and coverage.get(TIERS[index].name) is None:
        index -= 1
    return _plan(lo, hi, index, coverage, newer_ok=True, older_ok=True)


def _clamp(value: int, lo: int, hi: int) -> int:
    return min(max(value, lo), hi)


def _own_span(index: int, coverage: dict[str, Coverage | None], lo: int,
              hi: int) -> tuple[int, int]:
    """[a, b) of the range this tier serves: older than a goes to coarser tiers, from b
    on to finer ones. An empty tier hands over where the coarser tier's data ends."""
    held = coverage.get(TIERS[index].name)
    coarser = TIERS[index + 1] if index + 1 < len(TIERS) else None
    if held is None:
        below = coverage.get(coarser.name) if coarser else None
        point = _clamp(below.hi if below else lo, lo, hi)
        return point, point
    start = held.lo
    below = coverage.get(coarser.name) if coarser else None
    if coarser and below and below.hi > held.lo:
        # the coarser tier holds the start of this one: hand over on its step
        start = min(_ceil(held.lo, coarser.step_ms), below.hi)
    a = _clamp(start, lo, hi)
    return a, _clamp(held.hi, a, hi)


def _plan(lo: int, hi: int, index: int, coverage: dict[str, Coverage | None],
          newer_ok: bool, older_ok: bool) -> list[Segment]:
    if lo >= hi or not 0 <= index < len(TIERS):
        return []
    a, b = _own_span(index, coverage, lo, hi)
    segments = _plan(lo, a, index + 1, coverage, False, True) if older_ok else []
    if a < b:
        segments.append(Segment(TIERS[index], a, b))
    if newer_ok:
        segments += _plan(b, hi, index - 1, coverage, True, False)
    return segments
