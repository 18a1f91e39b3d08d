"""Keeping the history small and fast: rollups built as time passes, each tier pruned
to its retention, and a size cap on the file.

The collector calls `roll_up_due` every minute and `prune_and_cap` every hour (and both
at start, which is the catch-up after downtime). Order matters: raw samples are rolled
up before anything deletes them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ops import formatting
from ops.clock import DAY_MS, HOUR_MS
from ops.config import Settings
from ops.storage import Store
from ops.storage.tiers import (
    FIVE_MINUTES,
    HOUR,
    MINUTE,
    RAW,
    ROLLUPS,
    TIERS,
    Tier,
    built_from,
    built_on,
)

log = logging.getLogger("ops.housekeeping")

CHUNK_MS = 6 * HOUR_MS  # one write transaction rolls up at most this much
KEEP_RAW_MS = HOUR_MS  # the size cap never takes the newest hour of raw samples
CAP_STEP_MS = {RAW.name: HOUR_MS, MINUTE.name: DAY_MS, FIVE_MINUTES.name: DAY_MS,
               HOUR.name: 7 * DAY_MS}
MB = 1024 * 1024


@dataclass(frozen=True)
class Retention:
    raw_hours: int
    minute_days: int
    hour_days: int
    max_mb: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Retention:
        return cls(settings.metrics_raw_retention_hours, settings.metrics_retention_days,
                   settings.metrics_long_retention_days, settings.ops_db_max_mb)

    def keep_ms(self, tier: Tier) -> int:
        return {RAW.name: self.raw_hours * HOUR_MS, MINUTE.name: self.minute_days * DAY_MS,
                FIVE_MINUTES.name: self.minute_days * DAY_MS}.get(tier.name,
                                                                  self.hour_days * DAY_MS)


def _built_until(store: Store, tier: Tier, now_ts: int) -> int:
    """Where `tier` can be rolled up to: its last complete step, and no further than
    the tier it is built from holds."""
    until = now_ts // tier.step_ms * tier.step_ms
    source = built_from(tier)
    if not source.is_raw:
        until = min(until, (store.rolled_up_until(source) or 0) // tier.step_ms * tier.step_ms)
    return until


def _kept_until(store: Store, tier: Tier) -> list[int]:
    """Where each rollup built on `tier` has got to: its rows before that may go."""
    return [store.rolled_up_until(t) or 0 for t in built_on(tier)]


def roll_up_due(store: Store, now_ts: int) -> int:
    """Roll up every complete step of each rollup tier not rolled up yet (finer tiers
    first, as coarser ones may be built from them); returns rows written."""
    written = 0
    for tier in ROLLUPS:
        until = _built_until(store, tier, now_ts)
        done = store.rolled_up_until(tier)
        if done is not None and done > until:
            # The wall clock was set back: the marker follows it, so the samples taken
            # from now on (stamped before it) are rolled up too, and raw rows stay until
            # they are (pruning stops at the marker). Rebuilding a window is exact.
            done = until
            store.mark_rolled_up(tier, done)
        if done is None:
            oldest = store.oldest(built_from(tier))
            if oldest is None:
                continue
            done = oldest // tier.step_ms * tier.step_ms
        while done < until:
            upper = min(until, done + CHUNK_MS)
            with store.transaction():  # the mark never gets ahead of the rows
                written += store.roll_up(tier, done, upper)
                store.mark_rolled_up(tier, upper)
            done = upper
    return written


def prune(store: Store, retention: Retention, now_ts: int) -> dict[str, int]:
    """Each tier cut to its retention, and only where the rollups built on it have it."""
    removed = {}
    for tier in TIERS:
        before = min([now_ts - retention.keep_ms(tier), *_kept_until(store, tier)])
        removed[tier.name] = store.prune_tier(tier, before)
    return removed


def enforce_cap(store: Store, max_mb: int, now_ts: int) -> list[str]:
    """Past the cap, drop the oldest data of the finest tier first; say what went."""
    cap = max_mb * MB
    notes = []
    for tier in TIERS:
        cut = None
        while store.used_bytes() > cap:
            step_cut = _next_cut(store, tier, now_ts)
            if step_cut is None:
                break
            store.prune_tier(tier, step_cut)
            cut = step_cut
        if cut is not None:
            note = (f"database above OPS_DB_MAX_MB={max_mb}: removed {tier.name} data "
                    f"before {formatting.clock(cut)}")
            store.record_event(now_ts, "store", "size_cap", note)
            log.warning("%s", note)
            notes.append(note)
    if notes:
        store.give_space_back()
    return notes


def _next_cut(store: Store, tier: Tier, now_ts: int) -> int | None:
    oldest = store.oldest(tier)
    if oldest is None:
        return None
    cut = oldest + CAP_STEP_MS[tier.name]
    limits = _kept_until(store, tier) + ([now_ts - KEEP_RAW_MS] if tier is RAW else [])
    if limits:
        limit = min(limits)
        if oldest >= limit:
            return None
        cut = min(cut, limit)
    return cut


def prune_and_cap(store: Store, retention: Retention, now_ts: int) -> None:
    removed = prune(store, retention, now_ts)
    if any(removed.values()):
        log.info("pruned by retention: %s", ", ".join(f"{k} {v}" for k, v in removed.items()))
        store.give_space_back()
    enforce_cap(store, retention.max_mb, now_ts)
