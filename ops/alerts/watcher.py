"""The dashboard process's notification thread: it judges whether the collector is
silent (ops.alerts.silent), queues the repeats due, and sends what is due - the same
outbox as the collector's notifier, so a dead collector's alert still goes out, and a
Send test on the Alerts page is delivered whether or not a collector runs. Both senders
claim a row before sending it: each message goes out once.

One per process: `start_in_background()` is called when the server imports the app, and
again harmlessly on every page run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ops.alerts import silent
from ops.alerts.notify import Notifier, announce
from ops.alerts.repeats import announce_repeats
from ops.config import Settings, SettingsError, load_settings
from ops.storage import Store, StoreError

log = logging.getLogger("ops.alerts.watcher")

_lock = threading.Lock()
_running: Notifier | None = None


def pass_for(settings: Settings) -> Callable[[Store, int], None]:
    """What the dashboard does before each delivery pass."""

    def before(store: Store, now_ts: int) -> None:
        silent.judge(store, settings, now_ts, announce)
        announce_repeats(store, settings, now_ts, announce)

    return before


def start_in_background(settings: Settings | None = None) -> Notifier | None:
    """Start the dashboard's watcher thread once per process; None when the settings or
    the history file cannot be used (the pages say why)."""
    global _running
    with _lock:
        if _running is not None:
            return _running
        try:
            settings = settings or load_settings()
            notifier = Notifier(settings, settings.database_path,
                                before_pass=pass_for(settings))
            notifier.start()
        except (SettingsError, StoreError, OSError) as error:
            log.warning("alert watcher not started: %s", error)
            return None
        _running = notifier
        log.info("watching the collector's heartbeat; alerts are sent from here too")
        return notifier


def stop() -> None:
    """Stop the thread (tests, and a clean shutdown)."""
    global _running
    with _lock:
        if _running is not None:
            _running.stop()
            _running = None
