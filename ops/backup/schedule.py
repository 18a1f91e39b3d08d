"""When the daily backup runs: BACKUP_TIME on the wall clock of BACKUP_TIMEZONE.

Built on zoneinfo (the IANA database) rather than a cron library: APScheduler 3.11's
CronTrigger, tried first, fires twice on the night clocks go back (the repeated hour).
Rules across daylight-saving changes:
- a time that happens twice (clocks go back) runs once, at its first occurrence;
- a time that does not exist (clocks go forward) runs at the same offset from midnight
  as if the clocks had not changed, i.e. just after the gap (02:30 -> 03:30 local).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# The state key under which the collector stores the next scheduled run (ms).
NEXT_BACKUP_KEY = "next_backup_ts"


def occurrence(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The instant (UTC) of `at` on `day` in `tz`, with the DST rules above."""
    local = datetime.combine(day, at, tzinfo=tz)  # fold=0: the first of two, or pre-gap offset
    return local.astimezone(UTC)


def next_run(now: datetime, at: time, tz: ZoneInfo) -> datetime:
    """The first scheduled instant strictly after `now` (an aware datetime)."""
    today = now.astimezone(tz).date()
    for offset in range(-1, 3):
        candidate = occurrence(today + timedelta(days=offset), at, tz)
        if candidate > now:
            return candidate
    raise AssertionError("a daily schedule always has a run within two days")


def previous_run(now: datetime, at: time, tz: ZoneInfo) -> datetime:
    """The last scheduled instant at or before `now`."""
    today = now.astimezone(tz).date()
    for offset in range(1, -3, -1):
        candidate = occurrence(today + timedelta(days=offset), at, tz)
        if candidate <= now:
            return candidate
    raise AssertionError("a daily schedule always has a run within two days")


def catch_up_due(now: datetime, at: time, tz: ZoneInfo,
                 last_success: datetime | None) -> bool:
    """True when the last scheduled time passed with no successful backup since."""
    due = previous_run(now, at, tz)
    return last_success is None or last_success < due


# --- restore drills (BACKUP_DRILL) ---

# The state key holding when the collector last queued a scheduled drill (ms).
DRILL_QUEUED_KEY = "drill_queued_ts"
DRILL_PERIODS = {"daily": timedelta(days=1), "weekly": timedelta(days=7),
                 "monthly": timedelta(days=30)}


def drill_due(now: datetime, every: str, last_queued: datetime | None) -> bool:
    """True when BACKUP_DRILL's period has passed since the last scheduled drill was
    queued. A last time in the future (the clock stepped back) does not postpone the drill
    by the size of the step: it counts as due."""
    period = DRILL_PERIODS.get(every)
    if period is None:
        return False
    return last_queued is None or last_queued > now or now - last_queued >= period
