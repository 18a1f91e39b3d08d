"""What a resolved alert says: what recovered, after how long, and what it was.

A resolution that repeated the firing text ("RESOLVED: cache is down") told the admin the
opposite of the news. The engine writes this text into the alert when it resolves, so
the history and every notification (webhook, e-mail) say the same:

    cache is up again after 4m 10s (was: cache is down: Connection refused)
    back to normal after 12m 0s: host memory 62.0% used (limit 90%) (was: host memory ...)
    no longer judged after 3m 0s: its figure or limit is gone (was: ...)

"after" is how long the alert lasted: from when its condition was first seen to its
resolution (as the notifications' "Lasted").
"""

from __future__ import annotations

import re

from ops.formatting import uptime

# Rules whose clean message states the good state ("cache is up", "last backup ok"):
# it reads as news with "again"; the others' clean message is a figure.
STATE_RULES = frozenset({"service_down", "backup_failed", "backup_drill_failed",
                         "backup_copy_failed", "collector_silent"})
GONE = "its figure or limit is gone"
_RESOLUTION = re.compile(
    r"^(?:.+ again after |back to normal after |no longer judged after |ended after )")


def resolved_text(rule: str, recovered: str | None, lasted_s: float | None,
                  was: str | None) -> str:
    """The resolution of `rule`: `recovered` is the clean finding's message (None: the
    rule no longer judges the subject), `was` the firing message."""
    after = uptime(lasted_s) if lasted_s is not None else "an unknown time"
    was_said = f" (was: {was})" if was else ""
    if recovered is None:
        return f"no longer judged after {after}: {GONE}{was_said}"
    if rule in STATE_RULES:
        return f"{recovered} again after {after}{was_said}"
    return f"back to normal after {after}: {recovered}{was_said}"


def ended_text(lasted_s: float | None, was: str | None) -> str:
    """A resolution known only by its firing text (queued by an older version)."""
    after = uptime(lasted_s) if lasted_s is not None else "an unknown time"
    return f"ended after {after}" + (f" (was: {was})" if was else "")


def is_resolution(text: str | None) -> bool:
    """Whether `text` was written by resolved_text (a message queued by an older version
    holds the firing text instead)."""
    return bool(text) and _RESOLUTION.match(text or "") is not None
