"""`python -m ops silence`: maintenance windows from a shell (the Alerts page has the
same control). Prints one line per silence; a bad duration or target is one line on
stderr and exit status 2."""

from __future__ import annotations

import getpass
import sys

from ops.alerts import silences
from ops.clock import now_ms
from ops.config import Settings
from ops.storage import Store


def silence_command(settings: Settings, duration: str | None, target: str | None,
                    end: str | None = None) -> int:
    store = Store(settings.database_path)
    now = now_ms()
    if end is not None:
        if end != "all" and not end.isdigit():
            print(f"error: --end {end!r}: expected a silence's number or all", file=sys.stderr)
            return 2
        ended = silences.end(store, None if end == "all" else int(end), now)
        print(f"ended {ended} silence(s)")
        return 0 if ended or end == "all" else 1
    if duration is None:
        found = silences.active(store, now)
        for silence in found:
            print(silences.describe(silence, now))
        if not found:
            print("no silence in force: alerts are sent")
        return 0
    try:
        made = silences.silence(store, settings, duration, target,
                                f"ops silence ({getpass.getuser()})", now)
    except silences.SilenceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"silenced {silences.describe(made, now)}: nothing is sent, everything is recorded; "
          f"end it early with `python -m ops silence --end {made.id}`")
    return 0
