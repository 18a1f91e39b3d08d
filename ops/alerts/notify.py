"""Alert notifications: what is said, in which format, and how it is delivered.

The collector never sends anything while it samples: `announce` only queues one row per
configured channel in the outbox (ops/storage/outbox.py). A `Notifier` thread, with its
own Store, calls `deliver_due` every second: a message that goes through is marked sent;
one that does not is tried again after 2 s, 4 s, 8 s, ... (at most 5 minutes apart) until
24 hours after it was queued, then marked failed. A delivery failure is recorded as
a one-line error and never raised. What is sent and every error pass through
ops.redaction.clean, with the settings' secrets remembered: neither holds the webhook
URL's path (its token), the SMTP password nor any other secret.

Channels: `webhook` (ALERT_WEBHOOK_URL, posted as JSON in ALERT_WEBHOOK_FORMAT: json,
slack or discord) and `email` (SMTP_HOST, ALERT_EMAIL_FROM and ALERT_EMAIL_TO).

The one-line text of a message:

    FIRING [critical] service down: cache is down: Error 111 connecting to ... (since 03:12:05 UTC)
    RESOLVED service down: cache is up again after 2m 5s (was: cache is down: Error 111 ...)
    TEST ops-dashboard test message: alerts reach this channel (sent 03:12:05 UTC)

"since" is when the condition began (the alert's pending time); "after" is how long it
lasted, from then to its resolution. A resolution says what recovered (the text the
engine wrote, ops/alerts/wording.py), never the firing text alone.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from ops import redaction
from ops.alerts.wording import ended_text, is_resolution
from ops.clock import now_ms
from ops.config import Settings, remember_secrets
from ops.formatting import uptime
from ops.redaction import clean, one_line, split_userinfo, webhook_secrets
from ops.storage import Store, outbox

log = logging.getLogger("ops.alerts.notify")

SEND_TIMEOUT_S = 10
FIRST_RETRY_MS = 2_000
MAX_RETRY_MS = 5 * 60_000
GIVE_UP_AFTER_MS = 24 * 3600_000
# An attempt takes a message for this long, so a second sender never sends it meanwhile.
CLAIM_LEASE_MS = 120_000
POLL_SECONDS = 1.0
BATCH = 20
SUBJECT_MAX = 150
USER_AGENT = "ops-dashboard-alerts/1"

COLOURS = {"firing": 0xD32F2F, "resolved": 0x2E7D32, "test": 0x1E88E5}
ALERT_FIELDS = ("rule", "subject", "severity", "status", "message", "value", "pending_ts",
                "firing_ts", "resolved_ts")


class DeliveryError(Exception):
    """A message did not go through; the text is one line with no secret in it."""


class ChannelNotConfiguredError(DeliveryError):
    """The message's channel is no longer configured: trying again cannot help."""


# --- what is queued ---


def channels(settings: Settings) -> list[str]:
    """The channels alerts are sent on, from the settings."""
    found = []
    if settings.alert_webhook_url is not None:
        found.append("webhook")
    if settings.smtp_host and settings.alert_email_from and settings.alert_email_to:
        found.append("email")
    return found


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
    """Queue a message about an alert's `firing` or `resolved` on every configured channel.

    `alert` has the keys id, rule, subject, severity, status, message, value, pending_ts,
    firing_ts and resolved_ts (a dataclass with those fields will do too).

    Returns how many rows were created: 0 when each channel already has this alert's
    message for this event (announcing twice sends once)."""
    if event not in ("firing", "resolved"):
        raise ValueError(f"an alert is announced firing or resolved, not {event!r}")
    if is_dataclass(alert) and not isinstance(alert, type):
        alert = asdict(alert)
    alert_id = alert.get("id")
    if alert_id is None:
        raise ValueError("an alert must have its id to be announced")
    return _enqueue_all(store, settings, int(alert_id), event,
                        alert_payload(alert, event, now_ts), now_ts)


def send_test(store: Store, settings: Settings, now_ts: int) -> int:
    """Queue a test message on every configured channel; returns how many were queued."""
    return len(queue_test(store, settings, now_ts))


def queue_test(store: Store, settings: Settings, now_ts: int) -> list[int]:
    """`send_test`, returning the queued rows' ids so the page can show what became of
    them (the notifier thread sends them, in the collector)."""
    payload = payload_for_test(now_ts)
    with store.transaction():
        found = (outbox.add(store, None, "test", channel, payload, now_ts)
                 for channel in channels(settings))
        return [row_id for row_id in found if row_id is not None]


def attempt_wait_s(count: int) -> float:
    """How long `count` messages may take to be tried once by a running notifier: one
    poll, then at most a send timeout each."""
    return 2 * POLL_SECONDS + count * SEND_TIMEOUT_S


def await_outcome(store: Store, ids: list[int], timeout_s: float,
                  poll_s: float = 0.2) -> list[outbox.Notification]:
    """The messages once each was tried at least once (sent, failed, or waiting to be
    tried again with its error), or as they are after `timeout_s`: a page that reads
    them right after queueing would show 'pending, 0 attempts' whatever happens next."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows = outbox.with_ids(store, ids)
        if all(row.status != "pending" or row.attempts > 0 for row in rows) or \
                time.monotonic() >= deadline:
            return rows
        time.sleep(poll_s)


def webhook_shown(url: str) -> str:
    """The webhook as a page shows it: scheme, host and port, never its path and query
    (where Slack, Discord and the like keep the token) nor a login, e.g.
    `http://127.0.0.1:8085/… (path hidden)`. Shown as text, never as a link."""
    head, login, rest = split_userinfo(url.strip())
    host = re.split(r"[/?#]", rest, maxsplit=1)[0]
    hidden = [what for what, there in (("login", login is not None),
                                       ("path", rest not in (host, host + "/"))) if there]
    if not hidden:
        return f"{head}{host}"
    return f"{head}{host}/… ({' and '.join(hidden)} hidden)"


def channel_lines(settings: Settings) -> list[str]:
    """One line per configured channel, as the Alerts page shows them."""
    lines = []
    if settings.alert_webhook_url is not None:
        lines.append(f"webhook ({settings.alert_webhook_format}): "
                     f"{webhook_shown(settings.alert_webhook_url.reveal())}")
    if "email" in channels(settings):
        lines.append(f"e-mail to {', '.join(settings.alert_email_to or [])} via "
                     f"{settings.smtp_host}:{settings.smtp_port}")
    return lines


def _enqueue_all(store: Store, settings: Settings, alert_id: int | None, event: str,
                 payload: dict[str, Any], now_ts: int) -> int:
    """One row per configured channel, all or none (a savepoint inside the caller's
    transaction when it has one)."""
    with store.transaction():
        return sum(outbox.enqueue(store, alert_id, event, channel, payload, now_ts)
                   for channel in channels(settings))


# --- what is said ---


def _clock(ts: int, reference_ts: int | None = None) -> str:
    moment = datetime.fromtimestamp(ts / 1000, UTC)
    if reference_ts is not None and \
            datetime.fromtimestamp(reference_ts / 1000, UTC).date() != moment.date():
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return moment.strftime("%H:%M:%S UTC")


def _full_clock(ts: int | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return str(round(value, 3))
    return str(value)


def title(payload: Mapping[str, Any]) -> str:
    """`cache down`, or `disk full (host)` when the subject is not in the rule's name."""
    rule = one_line(payload.get("rule") or "alert").replace("_", " ")
    subject = one_line(payload.get("subject") or "")
    if subject and subject.lower() not in rule.lower():
        return f"{rule} ({subject})"
    return rule


def message_text(payload: Mapping[str, Any]) -> str:
    """The message as told, on one line: for a resolution, what recovered and after how
    long; a resolved message queued by an older version (its firing text) says so."""
    message = one_line(payload.get("message") or "")
    if payload.get("event") != "resolved" or is_resolution(message):
        return message
    return ended_text(lasted_s(payload), message or None)


def _firing_title(payload: Mapping[str, Any]) -> str:
    """The title, leaving the subject out when the message already names it."""
    rule = one_line(payload.get("rule") or "alert").replace("_", " ")
    subject = one_line(payload.get("subject") or "")
    message = message_text(payload)
    if subject and subject.lower() in message.lower():
        return rule
    return title(payload)


def started_ts(payload: Mapping[str, Any]) -> int | None:
    """When the condition began: the alert's pending time, else its firing time."""
    for key in ("pending_ts", "firing_ts"):
        if payload.get(key) is not None:
            return int(payload[key])
    return None


def lasted_s(payload: Mapping[str, Any]) -> float | None:
    start, end = started_ts(payload), payload.get("resolved_ts")
    if start is None or end is None:
        return None
    return max(0, int(end) - start) / 1000


def headline(payload: Mapping[str, Any]) -> str:
    """The one-line text of a message (see the module's docstring)."""
    event = payload.get("event")
    if event == "test":
        said = one_line(payload.get("message") or "test message")
        return f"TEST {said} (sent {_clock(int(payload.get('ts') or 0))})"
    if event == "resolved":
        return f"RESOLVED {_firing_title(payload)}: {message_text(payload)}"
    severity = one_line(payload.get("severity") or "")
    text = "FIRING " + (f"[{severity}] " if severity else "") + _firing_title(payload)
    message = message_text(payload)
    if message:
        text += f": {message}"
    start = started_ts(payload)
    if start is not None:
        text += f" (since {_clock(start, payload.get('ts'))})"
    return text


def details(payload: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Name and value of each detail worth showing, in order."""
    if payload.get("event") == "test":
        return [("Sent", _full_clock(payload.get("ts")))]
    rows = [("Rule", str(payload.get("rule") or "-")),
            ("Subject", str(payload.get("subject") or "-")),
            ("Severity", str(payload.get("severity") or "-")),
            ("Status", str(payload.get("status") or payload.get("event") or "-")),
            ("Value", _number(payload.get("value"))),
            ("Since", _full_clock(started_ts(payload))),
            ("Firing", _full_clock(payload.get("firing_ts")))]
    if payload.get("event") == "resolved":
        rows.append(("Resolved", _full_clock(payload.get("resolved_ts"))))
        lasted = lasted_s(payload)
        rows.append(("Lasted", uptime(lasted) if lasted is not None else "-"))
    if payload.get("message"):
        rows.append(("Message", message_text(payload)))
    if payload.get("alert_id") is not None:
        rows.append(("Alert", str(payload["alert_id"])))
    return rows


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _label(payload: Mapping[str, Any]) -> str:
    """`Firing: cache down (redis)`, `Resolved: ...`, `Test message`: a short title."""
    event = str(payload.get("event"))
    if event == "test":
        return "Test message"
    return f"{event.capitalize()}: {title(payload)}"


def webhook_body(payload: Mapping[str, Any], fmt: str) -> dict[str, Any]:
    """The JSON posted to the webhook in format `json`, `slack` or `discord`."""
    event = str(payload.get("event"))
    text = headline(payload)
    colour = COLOURS.get(event, COLOURS["test"])
    fields = [(name, value) for name, value in details(payload) if name != "Message"]
    message = message_text(payload)
    if fmt == "json":
        return {**payload, "event": event, "text": text,
                **({"message": message} if event == "resolved" else {})}
    if fmt == "slack":
        attachment: dict[str, Any] = {
            "fallback": text, "color": f"#{colour:06x}",
            "title": _clip(_label(payload), 150),
            "fields": [{"title": name, "value": value, "short": True} for name, value in fields],
            "footer": "ops-dashboard", "ts": int(payload.get("ts") or 0) // 1000}
        if message and event != "test":
            attachment["text"] = _clip(message, 3000)
        return {"text": _clip(text, 3000), "attachments": [attachment]}
    if fmt == "discord":
        embed: dict[str, Any] = {
            "title": _clip(_label(payload), 256), "color": colour,
            "fields": [{"name": name, "value": _clip(value, 1024), "inline": True}
                       for name, value in fields][:25],
            "footer": {"text": "ops-dashboard"},
            "timestamp": datetime.fromtimestamp(int(payload.get("ts") or 0) / 1000,
                                                UTC).isoformat()}
        if message:
            embed["description"] = _clip(message, 4096)
        return {"content": _clip(text, 2000), "embeds": [embed]}
    raise ValueError(f"not a webhook format: {fmt!r}")


def email_message(payload: Mapping[str, Any], settings: Settings) -> EmailMessage:
    """The alert e-mail: the one-line text as its subject, the details in its body."""
    text = headline(payload)
    message = EmailMessage()
    message["Subject"] = _clip(text, SUBJECT_MAX)
    message["From"] = settings.alert_email_from or ""
    message["To"] = ", ".join(settings.alert_email_to or [])
    message["Date"] = formatdate(int(payload.get("ts") or 0) / 1000, usegmt=True)
    domain = (settings.alert_email_from or "ops@localhost").rpartition("@")[2]
    message["Message-ID"] = make_msgid("ops-alert", domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    width = max(len(name) for name, _ in details(payload)) + 2
    lines = [text, ""]
    lines += [f"{name + ':':<{width}}{value}" for name, value in details(payload)]
    lines += ["", "-- ", "ops-dashboard alert notification"]
    message.set_content("\n".join(lines) + "\n")
    return message


# --- how it is sent ---


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` cleaned (redaction.clean) once `secrets` are remembered: for a URL that may
    not come from the loaded settings."""
    redaction.remember(*secrets)
    return clean(text)


def _remember(settings: Settings) -> None:
    """The settings' secrets, and the SMTP password as AUTH sends it (base64)."""
    remember_secrets(settings)
    if settings.smtp_password is not None:
        user = settings.smtp_user.reveal() if settings.smtp_user else ""
        redaction.remember_login(user, settings.smtp_password.reveal())


class _RefuseRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer other than 2xx: the body is not posted somewhere else."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> None:
        return None


_opener = urllib.request.build_opener(_RefuseRedirect)


def post_webhook(url: str, body: Mapping[str, Any], timeout: float = SEND_TIMEOUT_S) -> None:
    """POST `body` as JSON; returns on a 2xx answer, else raises DeliveryError."""
    secrets = webhook_secrets(url)
    request = urllib.request.Request(
        url, data=redaction.clean_json(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT})
    try:
        with _opener.open(request, timeout=timeout) as response:
            status = response.status
            reply = response.read(2048)
            reason = response.reason
    except urllib.error.HTTPError as answer:
        status, reason = answer.code, answer.reason
        try:
            reply = answer.read(2048)
        except OSError:
            reply = b""
        finally:
            answer.close()
    except urllib.error.URLError as error:
        raise DeliveryError(scrub(f"webhook unreachable: {_reason(error.reason)}",
                                  secrets)) from None
    except TimeoutError:
        raise DeliveryError(f"webhook unreachable: timed out after {timeout:g} s") from None
    except OSError as error:
        raise DeliveryError(scrub(f"webhook unreachable: {_reason(error)}", secrets)) from None
    if 200 <= status < 300:
        return
    said = clean(reply.decode("utf-8", "replace"), 200)
    raise DeliveryError(scrub(f"webhook answered HTTP {status} {reason or ''}"
                              + (f": {said}" if said else ""), secrets))


def _reason(error: object) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror} (errno {error.errno})" if error.errno else error.strerror
    return str(error) or type(error).__name__


def send_email(settings: Settings, message: EmailMessage,
               timeout: float = SEND_TIMEOUT_S) -> None:
    """Send through SMTP_HOST: STARTTLS when SMTP_STARTTLS, login when SMTP_USER is set.
    Raises DeliveryError when the server does not take the message."""
    if not settings.smtp_host:
        raise DeliveryError("SMTP_HOST is not set")
    _remember(settings)
    step = "connect"
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout) as smtp:
            step = "EHLO"
            smtp.ehlo()
            if settings.smtp_starttls:
                step = "STARTTLS"
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.smtp_user is not None:
                step = "login"
                password = settings.smtp_password.reveal() if settings.smtp_password else ""
                smtp.login(settings.smtp_user.reveal(), password)
            step = "send"
            refused = smtp.send_message(message)
            if refused:
                log.warning("mail server refused some recipients: %s", ", ".join(refused))
    except smtplib.SMTPRecipientsRefused as error:
        said = "; ".join(f"{who}: {_smtp_reply(code, text)}"
                         for who, (code, text) in error.recipients.items())
        raise DeliveryError(clean(f"SMTP refused every recipient: {said}")) from None
    except smtplib.SMTPResponseException as error:
        reply = _smtp_reply(error.smtp_code, error.smtp_error)
        raise DeliveryError(clean(f"SMTP {step} failed: {reply}")) from None
    except smtplib.SMTPException as error:
        raise DeliveryError(clean(f"SMTP {step} failed: {error}")) from None
    except ssl.SSLError as error:
        raise DeliveryError(clean(f"SMTP {step} failed: TLS: {error.reason or error}")
                            ) from None
    except OSError as error:
        raise DeliveryError(clean(f"SMTP {step} failed: mail server {settings.smtp_host}:"
                                  f"{settings.smtp_port} unreachable: {_reason(error)}")
                            ) from None


def _smtp_reply(code: int, text: bytes | str) -> str:
    said = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {said}"


def send(settings: Settings, notification: outbox.Notification) -> None:
    """One attempt at one message; raises DeliveryError when it does not go through.
    What is said is cleaned of secrets first, wherever the payload came from."""
    payload = redaction.clean_data(notification.payload)
    if notification.channel == "webhook":
        if settings.alert_webhook_url is None:
            raise ChannelNotConfiguredError("ALERT_WEBHOOK_URL is not set")
        post_webhook(settings.alert_webhook_url.reveal(),
                     webhook_body(payload, settings.alert_webhook_format))
    elif notification.channel == "email":
        if not (settings.smtp_host and settings.alert_email_from and settings.alert_email_to):
            raise ChannelNotConfiguredError(
                "e-mail is not configured (SMTP_HOST, ALERT_EMAIL_FROM and ALERT_EMAIL_TO)")
        send_email(settings, email_message(payload, settings))
    else:
        raise ChannelNotConfiguredError(f"unknown channel {notification.channel!r}")


def backoff_ms(attempts: int) -> int:
    """The wait after `attempts` failed attempts: 2 s, 4 s, 8 s, ... at most 5 minutes."""
    if attempts < 1:
        return 0
    return min(MAX_RETRY_MS, FIRST_RETRY_MS << min(attempts - 1, 30))


def deliver_due(store: Store, settings: Settings, now_ts: int, limit: int = BATCH,
                should_stop: Callable[[], bool] | None = None) -> list[tuple[int, str]]:
    """Send the messages that are due; returns (id, outcome) for each one tried, the
    outcome being `sent`, `retry` or `failed`. A delivery failure is recorded, never
    raised. A channel that fails is not tried again in the same pass: its other messages
    wait for the next one, so one unreachable endpoint costs one timeout per pass."""
    outcomes: list[tuple[int, str]] = []
    broken: set[str] = set()
    unsent_firing: set[tuple[int | None, str]] = set()
    _remember(settings)
    for notification in outbox.due(store, now_ts, limit):
        if should_stop is not None and should_stop():
            break
        if notification.channel in broken:
            continue
        if notification.event == "resolved" and \
                (notification.alert_id, notification.channel) in unsent_firing:
            continue
        if not outbox.claim(store, notification.id, now_ts, CLAIM_LEASE_MS):
            if notification.event == "firing":  # another sender has it: the resolution
                unsent_firing.add((notification.alert_id, notification.channel))  # waits
            continue
        attempts = notification.attempts + 1
        final = False
        try:
            send(settings, notification)
        except ChannelNotConfiguredError as error:
            failure, final = clean(str(error)), True
        except DeliveryError as error:
            failure = clean(str(error))
        except Exception as error:  # noqa: BLE001 - a bug in one message must not stop the rest
            failure = clean(f"internal error: {one_line(error)}")
        else:
            outbox.mark_sent(store, notification.id, attempts, now_ts)
            outcomes.append((notification.id, "sent"))
            log.info("%s %s message %d sent (attempt %d)", notification.channel,
                     notification.event, notification.id, attempts)
            continue
        broken.add(notification.channel)
        deadline = notification.created_ts + GIVE_UP_AFTER_MS
        if final or now_ts >= deadline:
            outbox.mark_failed(store, notification.id, failure, attempts)
            outcomes.append((notification.id, "failed"))
            log.error("%s %s message %d given up after %d attempts: %s", notification.channel,
                      notification.event, notification.id, attempts, failure)
        else:
            next_ts = min(now_ts + backoff_ms(attempts), deadline)
            outbox.mark_retry(store, notification.id, attempts, next_ts, failure)
            outcomes.append((notification.id, "retry"))
            log.warning("%s %s message %d not delivered (attempt %d), next try in %s: %s",
                        notification.channel, notification.event, notification.id, attempts,
                        uptime((next_ts - now_ts) / 1000), failure)
    return outcomes


class Notifier:
    """The collector's notification thread: its own SQLite connection, `deliver_due` every
    second. Sampling only queues messages, so a slow or unreachable channel never delays
    it."""

    def __init__(self, settings: Settings, store_path: Path,
                 clock: Callable[[], int] = now_ms, poll_seconds: float = POLL_SECONDS) -> None:
        self.settings = settings
        self.store_path = store_path
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="notifier", daemon=True)
        self.store: Store | None = None

    def start(self) -> None:
        self.store = Store(self.store_path)
        self.thread.start()

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop after the attempt under way (at most its send timeout); True when the
        thread ended within `timeout` seconds. The thread closes its connection."""
        self.stop_event.set()
        if self.thread.is_alive():
            self.thread.join(timeout)
        elif self.store is not None:  # never started its loop
            self.store.close()
            self.store = None
        return not self.thread.is_alive()

    def run_once(self) -> list[tuple[int, str]]:
        assert self.store is not None, "start() first"
        return deliver_due(self.store, self.settings, self.clock(),
                           should_stop=self.stop_event.is_set)

    def _loop(self) -> None:
        try:
            while not self.stop_event.is_set():
                try:
                    outcomes = self.run_once()
                except Exception:  # a locked or broken file: try again at the next poll
                    log.exception("notification pass failed")
                    outcomes = []
                if len(outcomes) < BATCH or all(result != "sent" for _, result in outcomes):
                    self.stop_event.wait(self.poll_seconds)
        finally:
            if self.store is not None:
                self.store.close()
                self.store = None
