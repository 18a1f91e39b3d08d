"""The daily schedule across daylight-saving changes, with time injected, never slept."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from ops.backup.schedule import catch_up_due, next_run, previous_run

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def runs(start: datetime, at: time, tz: ZoneInfo, count: int) -> list[datetime]:
    found, now = [], start
    for _ in range(count):
        now = next_run(now, at, tz)
        found.append(now)
    return found


def test_plain_days_run_at_local_time() -> None:
    found = runs(datetime(2026, 1, 10, 12, tzinfo=UTC), time(3, 0), ZoneInfo("Asia/Riyadh"), 3)
    assert [r.isoformat() for r in found] == [
        "2026-01-11T00:00:00+00:00", "2026-01-12T00:00:00+00:00", "2026-01-13T00:00:00+00:00"]


def test_clocks_go_forward_a_missing_time_runs_once_just_after_the_gap() -> None:
    found = runs(datetime(2026, 3, 27, 12, tzinfo=UTC), time(2, 30), BERLIN, 3)
    local = [r.astimezone(BERLIN).strftime("%m-%d %H:%M %Z") for r in found]
    assert local == ["03-28 02:30 CET", "03-29 03:30 CEST", "03-30 02:30 CEST"]


def test_clocks_go_back_a_repeated_time_runs_once() -> None:
    found = runs(datetime(2026, 10, 23, 12, tzinfo=UTC), time(2, 30), BERLIN, 3)
    local = [r.astimezone(BERLIN).strftime("%m-%d %H:%M %Z") for r in found]
    assert local == ["10-24 02:30 CEST", "10-25 02:30 CEST", "10-26 02:30 CET"]
    gaps = [(b - a).total_seconds() / 3600 for a, b in itertools.pairwise(found)]
    assert gaps == [24, 25], "the day clocks go back is 25 hours long"


@pytest.mark.parametrize("tz", [BERLIN, NEW_YORK])
def test_a_year_of_runs_is_one_a_day(tz: ZoneInfo) -> None:
    found = runs(datetime(2026, 1, 1, tzinfo=UTC), time(1, 30), tz, 365)
    days = [r.astimezone(tz).date() for r in found]
    assert len(set(days)) == 365
    assert all(23 <= (b - a).total_seconds() / 3600 <= 25 for a, b in itertools.pairwise(found))


def test_previous_run_and_catch_up() -> None:
    at, tz = time(3, 0), ZoneInfo("UTC")
    now = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    assert previous_run(now, at, tz) == datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    assert previous_run(datetime(2026, 11, 27, 3, 0, tzinfo=UTC), at, tz).day == 27
    assert catch_up_due(now, at, tz, last_success=None)
    assert catch_up_due(now, at, tz, last_success=datetime(2026, 11, 26, 3, 0, tzinfo=UTC))
    assert not catch_up_due(now, at, tz, last_success=datetime(2026, 11, 27, 3, 0, 5,
                                                                tzinfo=UTC))
