"""Alert notifications: the outbox, and the thread that empties it through Apprise.

Nothing is sent while the collector samples: `announce` only queues one row per
configured channel (ops.alerts.channels) in the outbox (ops/storage/outbox.py), once per
alert, event and channel however often it is called. A `Notifier` thread, with its own
Store, calls `deliver_due` every second: what is due on a channel goes out as one
message, or as one digest when several alert messages are due at once (messages are
queued 1.5 s ahead, so the alerts of one sample meet). A message that goes through is
marked sent; one that does not is tried again after 2 s, 4 s, 8 s, ... (at most 5
minutes apart) until 24 hours after it was queued, then marked failed. Sending claims a
row first, so a second sender on the same file (the dashboard's, see
ops.alerts.watcher) never sends it too, and a restart sends what is still pending.

A message queued while a silence covers its alert (ops.alerts.silences) is kept with
status `silenced` and a note, and never sent. What is sent and every error pass through
ops.redaction: neither holds a channel's token or password.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from ops import redaction
from ops.alerts import messages, silences
from ops.alerts.channels import Channel, by_name, channels
from ops.alerts.transport import ChannelNotConfiguredError, DeliveryError, send
from ops.clock import now_ms
from ops.config import Settings, remember_secrets
from ops.i18n import speaking
from ops.redaction import clean, one_line
from ops.storage import Store, outbox
from ops.storage.outbox import Notification

log = logging.getLogger("ops.alerts.notify")

FIRST_RETRY_MS = 2_000
MAX_RETRY_MS = 5 * 60_000
GIVE_UP_AFTER_MS = 24 * 3600_000
GATHER_MS = 1_500  # alert messages wait this long, so those of one sample go as one digest
CLAIM_LEASE_MS = 120_000  # an attempt holds its rows this long; a dead sender's come back
POLL_SECONDS = 1.0
BATCH = 100
DIGEST_FROM = 2  # this many alert messages due at once on a channel go as one digest
SEND_TIMEOUT_S = 15

ALERT_FIELDS = ("rule", "subject", "severity", "status", "message", "value", "limit",
                "pending_ts", "firing_ts", "resolved_ts")

__all__ = ["ChannelNotConfiguredError", "DeliveryError", "Notifier", "announce",
           "deliver_due", "queue_test"]


# --- what is queued ---


def alert_payload(alert: Mapping[str, Any], event: str, now_ts: int) -> dict[str, Any]:
    """The stored form of a message about an alert: its fields as they were at the event."""
    payload: dict[str, Any] = {"event": event, "alert_id": alert.get("id"), "ts": now_ts}
    payload.update({key: alert.get(key) for key in ALERT_FIELDS})
    return payload


def payload_for_test(now_ts: int) -> dict[str, Any]:
    return {"event": "test", "alert_id": None, "ts": now_ts,
            "message": "ops-dashboard test message: alerts reach this channel"}


def announce(store: Store, settings: Settings, alert: Mapping[str, Any], event: str,
             now_ts: int) -> int:
    """Queue a message about an alert's `firing`, `resolved` or `repeat-N` on every
    configured channel; returns how many rows were created (0 when each channel already
    has it: announcing twice sends once). `alert` has the alerts table's fields (a
    dataclass will do), and may add `limit`, the rule's threshold."""
    if event not in ("firing", "resolved") and not event.startswith("repeat-"):
        raise ValueError(f"an alert is announced firing, resolved or repeat-N, not {event!r}")
    if is_dataclass(alert) and not isinstance(alert, type):
        alert = asdict(alert)
    if alert.get("id") is None:
        raise ValueError("an alert must have its id to be announced")
    silence = silences.covering(store, str(alert.get("rule")), str(alert.get("subject")),
                                now_ts)
    note = None if silence is None else silences.note(silence)
    payload = alert_payload(alert, event, now_ts)
    with store.transaction():
        return sum(outbox.enqueue(store, int(alert["id"]), event, channel.name, payload,
                                  now_ts, now_ts + GATHER_MS, silenced=note)
                   for channel in channels(settings))


def queue_test(store: Store, settings: Settings, now_ts: int,
               channel: str | None = None) -> list[int]:
    """Queue a test message on every configured channel (or the one named); returns the
    rows' ids so the page can follow what becomes of them."""
    payload = payload_for_test(now_ts)
    with store.transaction():
        found = (outbox.add(store, None, "test", each.name, payload, now_ts)
                 for each in channels(settings) if channel in (None, each.name))
        return [row_id for row_id in found if row_id is not None]


def send_test(store: Store, settings: Settings, now_ts: int) -> int:
    """Queue a test message on every configured channel; returns how many were queued."""
    return len(queue_test(store, settings, now_ts))


def attempt_wait_s(count: int) -> float:
    """How long `count` messages may take to be tried once by a running notifier: one
    poll, then at most a send timeout each."""
    return 2 * POLL_SECONDS + count * SEND_TIMEOUT_S


def await_outcome(store: Store, ids: list[int], timeout_s: float,
                  poll_s: float = 0.2) -> list[Notification]:
    """The messages once each was tried at least once (sent, failed, or waiting to be
    tried again with its error), or as they are after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows = outbox.with_ids(store, ids)
        if all(row.status != "pending" or row.attempts > 0 for row in rows) or \
                time.monotonic() >= deadline:
            return rows
        time.sleep(poll_s)


# --- how it is sent ---


def _remember(settings: Settings) -> None:
    """The settings' secrets, and the SMTP password as AUTH sends it (base64)."""
    remember_secrets(settings)
    if settings.smtp_password is not None:
        user = settings.smtp_user.reveal() if settings.smtp_user else ""
        redaction.remember_login(user, settings.smtp_password.reveal())


def backoff_ms(attempts: int) -> int:
    """The wait after `attempts` failed attempts: 2 s, 4 s, 8 s, ... at most 5 minutes."""
    if attempts < 1:
        return 0
    return min(MAX_RETRY_MS, FIRST_RETRY_MS << min(attempts - 1, 30))


def _batches(rows: list[Notification]) -> list[list[Notification]]:
    """Tests one by one; alert messages one by one, or all in one digest."""
    tests = [[row] for row in rows if row.event == "test"]
    alerts = [row for row in rows if row.event != "test"]
    if len(alerts) >= DIGEST_FROM:
        return [alerts, *tests]
    return [[row] for row in alerts] + tests


def _message(batch: list[Notification], public_url: str | None,
             ops_language: str = "en") -> messages.Message:
    """The message of a batch, told in OPS_LANGUAGE."""
    payloads = [redaction.clean_data(row.payload) for row in batch]
    with speaking(ops_language):
        if len(payloads) == 1:
            return messages.single(payloads[0], public_url)
        return messages.digest(payloads, public_url)


def _claimed(store: Store, rows: list[Notification], now_ts: int) -> list[Notification]:
    """The rows this sender takes for an attempt; a resolution whose firing message
    another sender holds waits, so a receiver never hears of the end first."""
    taken: list[Notification] = []
    held: set[int | None] = set()
    for row in rows:
        if row.event == "resolved" and row.alert_id in held:
            continue
        if outbox.claim(store, row.id, now_ts, CLAIM_LEASE_MS):
            taken.append(row)
        elif row.event == "firing":
            held.add(row.alert_id)
    return taken


def _attempt(store: Store, channel: Channel | None, name: str, batch: list[Notification],
             public_url: str | None, now_ts: int, ops_language: str = "en") -> str:
    """One attempt at one batch; records the outcome on every row; `sent`, `retry`,
    `failed` (or `retry` and `failed` mixed, reported as `retry`)."""
    final = False
    try:
        if channel is None:
            raise ChannelNotConfiguredError(f"channel {name} is no longer configured")
        send(channel, _message(batch, public_url, ops_language))
    except ChannelNotConfiguredError as error:
        failure, final = clean(str(error)), True
    except DeliveryError as error:
        failure = clean(str(error))
    else:
        for row in batch:
            outbox.mark_sent(store, row.id, row.attempts + 1, now_ts)
        _record(store, name, now_ts, None)
        log.info("%s: %d message(s) sent (%s)", name, len(batch),
                 ", ".join(f"{row.event} {row.id}" for row in batch))
        return "sent"
    _record(store, name, now_ts, failure)
    outcome = "failed"
    for row in batch:
        deadline = row.created_ts + GIVE_UP_AFTER_MS
        if final or now_ts >= deadline:
            outbox.mark_failed(store, row.id, failure, row.attempts + 1)
        else:
            outcome = "retry"
            next_ts = min(now_ts + backoff_ms(row.attempts + 1), deadline)
            outbox.mark_retry(store, row.id, row.attempts + 1, next_ts, failure)
    log.warning("%s: %d message(s) not delivered (%s): %s", name, len(batch), outcome, failure)
    return outcome


def deliver_due(store: Store, settings: Settings, now_ts: int, limit: int = BATCH,
                should_stop: Callable[[], bool] | None = None) -> list[tuple[int, str]]:
    """Send what is due; returns (id, outcome) for each row tried, the outcome being
    `sent`, `retry` or `failed`. A failure is recorded, never raised. After a failure a
    channel's other batches wait for the next pass: one timeout per pass and channel."""
    _remember(settings)
    known = by_name(settings)
    by_channel: dict[str, list[Notification]] = {}
    for row in outbox.due(store, now_ts, limit):
        by_channel.setdefault(row.channel, []).append(row)
    outcomes: list[tuple[int, str]] = []
    for name, rows in by_channel.items():
        batches = _batches(_claimed(store, rows, now_ts))
        for index, batch in enumerate(batches):
            if should_stop is not None and should_stop():
                outbox.release(store, [row.id for b in batches[index:] for row in b], now_ts)
                return outcomes
            outcome = _attempt(store, known.get(name), name, batch, settings.ops_public_url,
                               now_ts, settings.ops_language)
            outcomes += [(row.id, outcome) for row in batch]
            if outcome != "sent":
                outbox.release(store, [row.id for b in batches[index + 1:] for row in b],
                               now_ts + int(POLL_SECONDS * 1000))
                break
    return outcomes


class Notifier:
    """A notification thread: its own SQLite connection, `deliver_due` every second
    (after `before_pass`, when given: the dashboard judges the collector there). Alert
    rules only queue messages, so a slow or unreachable channel never delays sampling."""

    def __init__(self, settings: Settings, store_path: Path,
                 clock: Callable[[], int] = now_ms, poll_seconds: float = POLL_SECONDS,
                 before_pass: Callable[[Store, int], object] | None = None) -> None:
        self.settings = settings
        self.store_path = store_path
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.before_pass = before_pass
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="notifier", daemon=True)
        self.store: Store | None = None

    def start(self) -> None:
        self.store = Store(self.store_path)
        self.thread.start()

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop after the attempt under way; True when the thread ended within `timeout`
        seconds. The thread closes its connection."""
        self.stop_event.set()
        if self.thread.is_alive():
            self.thread.join(timeout)
        elif self.store is not None:  # never started its loop
            self.store.close()
            self.store = None
        return not self.thread.is_alive()

    def run_once(self) -> list[tuple[int, str]]:
        assert self.store is not None, "start() first"
        if self.before_pass is not None:
            self.before_pass(self.store, self.clock())
        return deliver_due(self.store, self.settings, self.clock(),
                           should_stop=self.stop_event.is_set)

    def _loop(self) -> None:
        try:
            while not self.stop_event.is_set():
                try:
                    outcomes = self.run_once()
                except Exception as error:  # noqa: BLE001 - a locked file: next poll
                    log.error("notification pass failed: %s", one_line(error))
                    outcomes = []
                if len(outcomes) < BATCH or all(result != "sent" for _, result in outcomes):
                    self.stop_event.wait(self.poll_seconds)
        finally:
            if self.store is not None:
                self.store.close()
                self.store = None


STATE_KEY = "channel:{}"


def _record(store: Store, name: str, now_ts: int, error: str | None) -> None:
    """The channel's last success or last error, for the Alerts page."""
    key = STATE_KEY.format(name)
    state = dict(store.state(key) or {})
    if error is None:
        state["last_success_ts"] = now_ts
    else:
        state.update(last_error=clean(error), last_error_ts=now_ts)
    store.set_state(key, state)


def channel_state(store: Store, settings: Settings) -> list[dict[str, Any]]:
    """Each configured channel as a page shows it: name, where (scheme, host and port),
    from which setting, last success and last error (each with when)."""
    found = []
    for channel in channels(settings):
        state = store.state(STATE_KEY.format(channel.name)) or {}
        found.append({"name": channel.name, "shown": channel.shown, "origin": channel.origin,
                      "last_success_ts": state.get("last_success_ts"),
                      "last_error": state.get("last_error"),
                      "last_error_ts": state.get("last_error_ts")})
    return found
