"""Alert notifications: queued once, delivered by webhook (json, slack, discord) and SMTP,
retried with backoff through real outages, given up after 24 hours, secrets never shown.

A real HTTP receiver and a real SMTP server (aiosmtpd) listen on loopback; time is passed
in, so backoff is crossed by moving `now_ts` rather than by sleeping.
"""

from __future__ import annotations

import base64
import email
import itertools
import json
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from ops.alerts import notify, wording
from ops.config import Settings, load_settings
from ops.storage import Store, outbox
from tests.servers import free_port

T0 = 1_764_213_125_000  # 2025-11-27 03:12:05 UTC
HOUR = 3600_000
TOKEN = "T0AAA1111/B0BBB2222/xYzSecretToken0123456789"
PASSWORD = "s3cret-Pa55word!"


# --- a webhook receiver the test runs ---


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers `status`; it can
    be stopped (a closed port) and started again on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.status = 200
        self.delay_s = 0.0
        self.requests: list[tuple[str, int, dict[str, Any]]] = []  # path, answer, body
        self.lock = threading.Lock()
        self.arrived = threading.Event()
        self.server: ThreadingHTTPServer | None = None

    @property
    def delivered(self) -> list[dict[str, Any]]:
        """Bodies that were answered 2xx, i.e. delivered."""
        with self.lock:
            return [body for _, status, body in self.requests if 200 <= status < 300]

    def url(self, path: str = f"/services/{TOKEN}") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                status = receiver.status
                with receiver.lock:
                    receiver.requests.append((self.path, status, body))
                # An unhelpful endpoint echoes the URL it was called at, token and all.
                reply = b"ok" if status < 300 else f"no hook at {self.path}".encode()
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
                receiver.arrived.set()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.stop()


# --- an SMTP server the test runs ---


class Mailbox:
    """aiosmtpd handler keeping every message, and every login its authenticator saw."""

    def __init__(self, accept_login: bool = True, echo_password: bool = False) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage, bool]] = []
        self.logins: list[tuple[str, str, str]] = []  # mechanism, login, password
        self.accept_login = accept_login
        self.echo_password = echo_password

    async def handle_DATA(self, server: Any, session: Any,  # noqa: N802 (aiosmtpd's name)
                          envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed,
                              bool(session.authenticated)))
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((mechanism, login, password))
        if self.accept_login:
            return AuthResult(success=True, auth_data=auth_data)
        if self.echo_password:
            # A careless server repeats what it was given in its refusal.
            return AuthResult(success=False, handled=False,
                              message=f"535 5.7.8 {login} with password {password} refused "
                                      f"({base64.b64encode(password.encode()).decode()})")
        return AuthResult(success=False, handled=False)


def smtp_server(mailbox: Mailbox, **options: Any) -> Controller:
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    return controller


# --- helpers ---


def settings_for(tmp_path: Path, **values: str) -> Settings:
    return load_settings({"OPS_DATA_DIR": str(tmp_path / "data"), **values}, env_file=None)


def webhook_settings(tmp_path: Path, url: str, fmt: str = "json") -> Settings:
    return settings_for(tmp_path, ALERT_WEBHOOK_URL=url, ALERT_WEBHOOK_FORMAT=fmt)


def mail_settings(tmp_path: Path, port: int, **values: str) -> Settings:
    return settings_for(tmp_path, **{
        "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_STARTTLS": "false",
        "ALERT_EMAIL_FROM": "ops@example.com",
        "ALERT_EMAIL_TO": "oncall@example.com, lead@example.com", **values})


def open_store(settings: Settings) -> Store:
    return Store(settings.database_path)


def an_alert(alert_id: int = 7, **changes: Any) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "id": alert_id, "rule": "cache_down", "subject": "redis", "severity": "critical",
        "status": "firing", "message": "redis is down: Error 111 connecting to 127.0.0.1:6379",
        "value": 0.0, "pending_ts": T0, "firing_ts": T0 + 30_000, "resolved_ts": None}
    alert.update(changes)
    return alert


def resolved(alert: dict[str, Any], at_ts: int) -> dict[str, Any]:
    """The alert as the engine resolves it: its message says what recovered."""
    recovered = wording.resolved_text("service_down", "redis is up",
                                      (at_ts - alert["pending_ts"]) / 1000, alert["message"])
    return {**alert, "status": "resolved", "resolved_ts": at_ts, "message": recovered}


def resolved_text(lasted: str) -> str:
    return (f"RESOLVED cache down: redis is up again after {lasted} (was: redis is down: "
            "Error 111 connecting to 127.0.0.1:6379)")


def all_rows(store: Store) -> list[outbox.Notification]:
    return list(reversed(outbox.recent(store, 1000)))


# --- channels and queueing ---


def test_channels_follow_the_settings(tmp_path: Path) -> None:
    assert notify.channels(settings_for(tmp_path)) == []
    assert notify.channels(webhook_settings(tmp_path, "https://hooks.example.com/x")) == \
        ["webhook"]
    # E-mail needs a server, a sender and recipients.
    assert notify.channels(settings_for(tmp_path, SMTP_HOST="mail.example.com",
                                        ALERT_EMAIL_FROM="ops@example.com")) == []
    assert notify.channels(mail_settings(tmp_path, 25)) == ["email"]
    both = mail_settings(tmp_path, 25, ALERT_WEBHOOK_URL="https://hooks.example.com/x")
    assert notify.channels(both) == ["webhook", "email"]


def test_announce_queues_one_row_per_channel_once(tmp_path: Path) -> None:
    settings = mail_settings(tmp_path, 25, ALERT_WEBHOOK_URL="https://hooks.example.com/x")
    store = open_store(settings)
    alert = an_alert()
    assert notify.announce(store, settings, alert, "firing", T0 + 30_000) == 2
    assert notify.announce(store, settings, alert, "firing", T0 + 35_000) == 0
    assert notify.announce(store, settings, resolved(alert, T0 + 155_000), "resolved",
                           T0 + 155_000) == 2
    assert notify.announce(store, settings, resolved(alert, T0 + 155_000), "resolved",
                           T0 + 160_000) == 0
    rows = outbox.for_alert(store, 7)
    assert [(r.event, r.channel, r.status, r.attempts) for r in rows] == [
        ("firing", "webhook", "pending", 0), ("firing", "email", "pending", 0),
        ("resolved", "webhook", "pending", 0), ("resolved", "email", "pending", 0)]
    assert rows[0].payload["message"] == alert["message"]
    assert rows[0].created_ts == rows[0].next_attempt_ts == T0 + 30_000
    # Another alert (a new firing of the same rule) is a new message.
    assert notify.announce(store, settings, an_alert(8), "firing", T0 + HOUR) == 2
    # Nothing configured: nothing queued.
    assert notify.announce(store, settings_for(tmp_path), an_alert(9), "firing", T0) == 0
    # Inside the caller's own write transaction (the alert rules write alerts in one).
    with store.transaction():
        assert notify.announce(store, settings, an_alert(10), "firing", T0) == 2
    assert outbox.counts(store) == {"pending": 8, "sent": 0, "failed": 0}


# --- webhook delivery ---


def test_webhook_gets_firing_and_resolved_exactly_once(tmp_path: Path,
                                                       receiver: Receiver) -> None:
    settings = webhook_settings(tmp_path, receiver.url())
    store = open_store(settings)
    alert = an_alert()
    now = T0 + 30_000
    assert notify.announce(store, settings, alert, "firing", now) == 1
    assert notify.announce(store, settings, alert, "firing", now + 1000) == 0
    [(first_id, outcome)] = notify.deliver_due(store, settings, now + 1000)
    assert outcome == "sent"
    assert notify.deliver_due(store, settings, now + 2000) == []
    assert notify.announce(store, settings, alert, "firing", now + 3000) == 0
    assert notify.deliver_due(store, settings, now + 4000) == []

    done = resolved(alert, T0 + 155_000)
    assert notify.announce(store, settings, done, "resolved", T0 + 155_000) == 1
    assert notify.announce(store, settings, done, "resolved", T0 + 156_000) == 0
    assert [o for _, o in notify.deliver_due(store, settings, T0 + 156_000)] == ["sent"]
    assert notify.deliver_due(store, settings, T0 + 10 * HOUR) == []

    bodies = receiver.delivered
    assert [b["event"] for b in bodies] == ["firing", "resolved"]
    assert len(receiver.requests) == 2
    assert bodies[0]["text"] == ("FIRING [critical] cache down: redis is down: Error 111 "
                                 "connecting to 127.0.0.1:6379 (since 03:12:05 UTC)")
    assert bodies[1]["text"] == resolved_text("2m 35s")
    assert receiver.requests[0][0] == f"/services/{TOKEN}"
    sent = outbox.get(store, first_id)
    assert sent is not None
    assert (sent.status, sent.attempts, sent.sent_ts, sent.last_error) == \
        ("sent", 1, now + 1000, None)


def test_webhook_down_then_back_is_retried_with_backoff_and_sent_once(
        tmp_path: Path, receiver: Receiver) -> None:
    settings = webhook_settings(tmp_path, receiver.url())
    store = open_store(settings)
    alert = an_alert()
    now = T0 + 30_000
    assert notify.announce(store, settings, alert, "firing", now) == 1

    # 1st attempt: the endpoint answers 503.
    receiver.status = 503
    [(row_id, outcome)] = notify.deliver_due(store, settings, now)
    assert outcome == "retry"
    row = outbox.get(store, row_id)
    assert row is not None
    assert (row.status, row.attempts, row.next_attempt_ts) == ("pending", 1, now + 2000)
    assert row.last_error is not None and row.last_error.startswith("webhook answered HTTP 503")
    assert TOKEN not in row.last_error and "xYzSecretToken" not in row.last_error
    assert "no hook at" in row.last_error  # the body was read, the token taken out of it
    # Not due yet: nothing is tried, announcing again queues nothing.
    assert notify.deliver_due(store, settings, now + 1999) == []
    assert notify.announce(store, settings, alert, "firing", now + 1999) == 0
    assert len(receiver.requests) == 1

    # 2nd attempt: nothing listens on the port any more.
    receiver.stop()
    assert notify.deliver_due(store, settings, now + 2000) == [(row_id, "retry")]
    row = outbox.get(store, row_id)
    assert row is not None
    assert (row.attempts, row.next_attempt_ts) == (2, now + 2000 + 4000)
    assert row.last_error is not None and "webhook unreachable" in row.last_error
    assert "refused" in row.last_error.lower() and TOKEN not in row.last_error

    # 3rd attempt, also refused, waits 8 s.
    assert notify.deliver_due(store, settings, now + 5999) == []
    assert notify.deliver_due(store, settings, now + 6000) == [(row_id, "retry")]
    row = outbox.get(store, row_id)
    assert row is not None and (row.attempts, row.next_attempt_ts) == (3, now + 14_000)

    # The endpoint is back: the 4th attempt delivers it.
    receiver.status = 200
    receiver.start()
    assert notify.deliver_due(store, settings, now + 14_000) == [(row_id, "sent")]
    row = outbox.get(store, row_id)
    assert row is not None
    assert (row.status, row.attempts, row.sent_ts) == ("sent", 4, now + 14_000)
    assert notify.deliver_due(store, settings, now + 30 * 60_000) == []

    # The resolution goes out once too.
    done = resolved(alert, now + 60_000)
    assert notify.announce(store, settings, done, "resolved", now + 60_000) == 1
    assert notify.announce(store, settings, done, "resolved", now + 61_000) == 0
    assert [o for _, o in notify.deliver_due(store, settings, now + 61_000)] == ["sent"]
    assert notify.deliver_due(store, settings, now + 2 * HOUR) == []
    assert [b["event"] for b in receiver.delivered] == ["firing", "resolved"]
    assert [status for _, status, _ in receiver.requests] == [503, 200, 200]


def test_resolved_waits_for_its_firing_message(tmp_path: Path, receiver: Receiver) -> None:
    settings = webhook_settings(tmp_path, receiver.url())
    store = open_store(settings)
    alert = an_alert()
    notify.announce(store, settings, alert, "firing", T0)
    receiver.status = 500
    assert [o for _, o in notify.deliver_due(store, settings, T0)] == ["retry"]
    notify.announce(store, settings, resolved(alert, T0 + 1000), "resolved", T0 + 1000)
    # The resolution is due, but its firing message has not gone out yet.
    assert notify.deliver_due(store, settings, T0 + 1500) == []
    receiver.status = 200
    outcomes = notify.deliver_due(store, settings, T0 + 2000)
    assert [o for _, o in outcomes] == ["sent", "sent"]
    assert [b["event"] for b in receiver.delivered] == ["firing", "resolved"]


def test_a_redirect_is_not_a_delivery(tmp_path: Path, receiver: Receiver) -> None:
    settings = webhook_settings(tmp_path, receiver.url())
    store = open_store(settings)
    notify.announce(store, settings, an_alert(), "firing", T0)
    receiver.status = 302
    [(row_id, outcome)] = notify.deliver_due(store, settings, T0)
    assert outcome == "retry"
    row = outbox.get(store, row_id)
    assert row is not None and row.last_error is not None
    assert row.last_error.startswith("webhook answered HTTP 302")
    assert [path for path, _, _ in receiver.requests] == [f"/services/{TOKEN}"]


def test_backoff_doubles_from_two_seconds_up_to_five_minutes() -> None:
    assert [notify.backoff_ms(n) for n in range(1, 11)] == [
        2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000, 300_000]
    assert notify.backoff_ms(500) == 300_000


def test_gives_up_24_hours_after_queueing(tmp_path: Path) -> None:
    settings = webhook_settings(tmp_path, f"http://127.0.0.1:{free_port()}/hooks/{TOKEN}")
    store = open_store(settings)
    assert notify.announce(store, settings, an_alert(), "firing", T0) == 1
    now, attempt_times = T0, []
    while True:
        outcomes = notify.deliver_due(store, settings, now)
        assert len(outcomes) == 1
        attempt_times.append(now)
        if outcomes[0][1] == "failed":
            break
        assert outcomes[0][1] == "retry"
        [row] = outbox.for_alert(store, 7)
        assert notify.deliver_due(store, settings, row.next_attempt_ts - 1) == []
        now = row.next_attempt_ts
    gaps = [b - a for a, b in itertools.pairwise(attempt_times)]
    assert gaps[:9] == [2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000]
    assert max(gaps) == 300_000
    assert attempt_times[-1] == T0 + 24 * HOUR  # the last try is at the 24-hour mark
    [row] = outbox.for_alert(store, 7)
    assert row.status == "failed" and row.attempts == len(attempt_times)
    assert row.last_error is not None and "webhook unreachable" in row.last_error
    assert TOKEN not in row.last_error
    assert notify.deliver_due(store, settings, T0 + 48 * HOUR) == []
    assert outbox.counts(store) == {"pending": 0, "sent": 0, "failed": 1}


def test_a_channel_no_longer_configured_fails_at_once(tmp_path: Path) -> None:
    configured = webhook_settings(tmp_path, "https://hooks.example.com/x")
    store = open_store(configured)
    notify.announce(store, configured, an_alert(), "firing", T0)
    assert [o for _, o in notify.deliver_due(store, settings_for(tmp_path), T0)] == ["failed"]
    [row] = outbox.for_alert(store, 7)
    assert (row.status, row.attempts, row.last_error) == \
        ("failed", 1, "ALERT_WEBHOOK_URL is not set")


def test_two_senders_on_one_file_send_each_message_once(tmp_path: Path,
                                                        receiver: Receiver) -> None:
    settings = webhook_settings(tmp_path, receiver.url())
    store = open_store(settings)
    for alert_id in (1, 2, 3):
        notify.announce(store, settings, an_alert(alert_id), "firing", T0)
    receiver.delay_s = 0.2
    barrier = threading.Barrier(2)
    results: list[list[tuple[int, str]]] = []

    def sender() -> None:
        own = open_store(settings)
        barrier.wait()
        results.append(notify.deliver_due(own, settings, T0 + 1000))
        own.close()

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    sent = sorted(row_id for outcome in results for row_id, _ in outcome)
    assert sent == [1, 2, 3]
    assert sorted(b["alert_id"] for b in receiver.delivered) == [1, 2, 3]
    assert len(receiver.requests) == 3


# --- webhook formats ---


def test_headlines() -> None:
    firing = notify.alert_payload(an_alert(), "firing", T0 + 30_000)
    assert notify.headline(firing) == (
        "FIRING [critical] cache down: redis is down: Error 111 connecting to "
        "127.0.0.1:6379 (since 03:12:05 UTC)")
    done = notify.alert_payload(resolved(an_alert(), T0 + 125_000), "resolved", T0 + 125_000)
    assert notify.headline(done) == resolved_text("2m 5s")
    # The subject is named when the message does not; a multi-line message is one line.
    disk = an_alert(rule="disk_usage_high", subject="host", severity="warning",
                    message="disk 93.5% used\n(threshold 90%)", value=93.5)
    assert notify.headline(notify.alert_payload(disk, "firing", T0)) == (
        "FIRING [warning] disk usage high (host): disk 93.5% used (threshold 90%) "
        "(since 03:12:05 UTC)")
    # A condition that began on another day shows the date.
    late = notify.alert_payload(an_alert(), "firing", T0 + 24 * HOUR)
    assert notify.headline(late).endswith("(since 2025-11-27 03:12:05 UTC)")
    assert notify.headline(notify.payload_for_test(T0)) == (
        "TEST ops-dashboard test message: alerts reach this channel (sent 03:12:05 UTC)")


def test_json_body_is_the_payload_with_event_and_text() -> None:
    payload = notify.alert_payload(an_alert(), "firing", T0 + 30_000)
    body = notify.webhook_body(payload, "json")
    assert body["event"] == "firing" and body["text"] == notify.headline(payload)
    for key in ("rule", "subject", "severity", "status", "message", "value", "pending_ts",
                "firing_ts", "resolved_ts"):
        assert body[key] == an_alert()[key]
    assert body["alert_id"] == 7 and body["ts"] == T0 + 30_000
    json.dumps(body)  # plain JSON


def test_slack_body_shape_and_colours() -> None:
    firing = notify.webhook_body(notify.alert_payload(an_alert(), "firing", T0), "slack")
    assert set(firing) == {"text", "attachments"}
    assert firing["text"].startswith("FIRING [critical] cache down")
    [attachment] = firing["attachments"]
    assert attachment["color"] == "#d32f2f"  # red
    assert attachment["title"] == "Firing: cache down (redis)"
    assert attachment["text"] == an_alert()["message"]
    fields = {f["title"]: f["value"] for f in attachment["fields"]}
    assert fields["Severity"] == "critical" and fields["Subject"] == "redis"
    assert fields["Since"] == "2025-11-27 03:12:05 UTC" and fields["Value"] == "0"
    assert all(set(f) == {"title", "value", "short"} for f in attachment["fields"])
    assert all(isinstance(f["value"], str) for f in attachment["fields"])

    done = notify.webhook_body(notify.alert_payload(resolved(an_alert(), T0 + 125_000),
                                                    "resolved", T0 + 125_000), "slack")
    assert done["text"] == resolved_text("2m 5s")
    assert done["attachments"][0]["color"] == "#2e7d32"  # green
    assert {f["title"]: f["value"] for f in done["attachments"][0]["fields"]}["Lasted"] == \
        "2m 5s"


def test_discord_body_shape_and_colours() -> None:
    firing = notify.webhook_body(notify.alert_payload(an_alert(), "firing", T0), "discord")
    assert set(firing) == {"content", "embeds"}
    assert firing["content"].startswith("FIRING [critical] cache down")
    [embed] = firing["embeds"]
    assert embed["title"] == "Firing: cache down (redis)"
    assert embed["description"] == an_alert()["message"]
    assert embed["color"] == 0xD32F2F and isinstance(embed["color"], int)
    assert embed["timestamp"] == "2025-11-27T03:12:05+00:00"
    assert all(set(f) == {"name", "value", "inline"} for f in embed["fields"])
    done = notify.webhook_body(notify.alert_payload(resolved(an_alert(), T0 + 125_000),
                                                    "resolved", T0 + 125_000), "discord")
    assert done["embeds"][0]["color"] == 0x2E7D32
    assert done["content"] == resolved_text("2m 5s")
    # Discord's limits: content 2000, title 256 characters.
    huge = notify.alert_payload(an_alert(message="x" * 5000), "firing", T0)
    body = notify.webhook_body(huge, "discord")
    assert len(body["content"]) <= 2000 and len(body["embeds"][0]["description"]) <= 4096


@pytest.mark.parametrize("fmt", ["json", "slack", "discord"])
def test_each_format_is_what_the_receiver_gets(tmp_path: Path, receiver: Receiver,
                                               fmt: str) -> None:
    settings = webhook_settings(tmp_path, receiver.url(), fmt)
    store = open_store(settings)
    notify.announce(store, settings, an_alert(), "firing", T0)
    assert [o for _, o in notify.deliver_due(store, settings, T0)] == ["sent"]
    [row] = outbox.for_alert(store, 7)
    assert receiver.delivered == [json.loads(json.dumps(notify.webhook_body(row.payload,
                                                                             fmt)))]


# --- e-mail ---


def test_email_is_delivered_over_plain_smtp(tmp_path: Path) -> None:
    mailbox = Mailbox()
    server = smtp_server(mailbox)
    try:
        settings = mail_settings(tmp_path, server.port)
        store = open_store(settings)
        alert = an_alert()
        assert notify.announce(store, settings, alert, "firing", T0 + 30_000) == 1
        assert notify.announce(store, settings, alert, "firing", T0 + 31_000) == 0
        assert [o for _, o in notify.deliver_due(store, settings, T0 + 31_000)] == ["sent"]
        assert notify.announce(store, settings, resolved(alert, T0 + 125_000), "resolved",
                               T0 + 125_000) == 1
        assert [o for _, o in notify.deliver_due(store, settings, T0 + 126_000)] == ["sent"]
        assert notify.deliver_due(store, settings, T0 + HOUR) == []
    finally:
        server.stop()
    assert len(mailbox.messages) == 2
    sender, recipients, message, authenticated = mailbox.messages[0]
    assert sender == "ops@example.com" and not authenticated
    assert recipients == ["oncall@example.com", "lead@example.com"]
    assert message["Subject"] == ("FIRING [critical] cache down: redis is down: Error 111 "
                                  "connecting to 127.0.0.1:6379 (since 03:12:05 UTC)")
    assert message["From"] == "ops@example.com"
    assert message["To"] == "oncall@example.com, lead@example.com"
    assert message["Auto-Submitted"] == "auto-generated"
    body = message.get_content()
    assert "Rule:     cache_down" in body and "Severity: critical" in body
    assert "Since:    2025-11-27 03:12:05 UTC" in body
    assert "Message:  redis is down: Error 111" in body
    assert mailbox.messages[1][2]["Subject"] == resolved_text("2m 5s")
    assert "Lasted:   2m 5s" in mailbox.messages[1][2].get_content()


def test_email_subject_is_trimmed(tmp_path: Path) -> None:
    settings = mail_settings(tmp_path, 25)
    payload = notify.alert_payload(an_alert(message="timeout " * 60), "firing", T0)
    message = notify.email_message(payload, settings)
    assert len(message["Subject"]) <= 150 and message["Subject"].endswith("…")
    assert message["Subject"].startswith("FIRING [critical] cache down (redis): timeout timeout")
    assert "timeout " * 20 in message.get_content()


def test_smtp_login_reaches_the_server(tmp_path: Path) -> None:
    mailbox = Mailbox()
    server = smtp_server(mailbox, authenticator=mailbox.authenticate, auth_require_tls=False)
    try:
        settings = mail_settings(tmp_path, server.port, SMTP_USER="alerts@example.com",
                                 SMTP_PASSWORD=PASSWORD)
        store = open_store(settings)
        notify.announce(store, settings, an_alert(), "firing", T0)
        assert [o for _, o in notify.deliver_due(store, settings, T0)] == ["sent"]
    finally:
        server.stop()
    assert [(login, password) for _, login, password in mailbox.logins] == \
        [("alerts@example.com", PASSWORD)]
    assert len(mailbox.messages) == 1 and mailbox.messages[0][3] is True  # authenticated


@pytest.mark.parametrize("echo", [False, True])
def test_refused_login_is_retried_and_never_shows_the_password(tmp_path: Path,
                                                              echo: bool) -> None:
    mailbox = Mailbox(accept_login=False, echo_password=echo)
    server = smtp_server(mailbox, authenticator=mailbox.authenticate, auth_require_tls=False)
    try:
        settings = mail_settings(tmp_path, server.port, SMTP_USER="alerts@example.com",
                                 SMTP_PASSWORD=PASSWORD)
        store = open_store(settings)
        notify.announce(store, settings, an_alert(), "firing", T0)
        assert [o for _, o in notify.deliver_due(store, settings, T0)] == ["retry"]
        assert [o for _, o in notify.deliver_due(store, settings, T0 + 2000)] == ["retry"]
        notify.send_test(store, settings, T0 + 3000)
        assert [o for _, o in notify.deliver_due(store, settings, T0 + 3000)] == ["retry"]
    finally:
        server.stop()
    # Three attempts; in each, smtplib tries every mechanism offered (PLAIN, then LOGIN).
    assert mailbox.logins == [(m, "alerts@example.com", PASSWORD)
                              for _ in range(3) for m in ("PLAIN", "LOGIN")]
    assert mailbox.messages == []
    errors = [row.last_error or "" for row in all_rows(store)]
    assert all(error.startswith("SMTP login failed: 535") for error in errors)
    encoded = base64.b64encode(PASSWORD.encode()).decode()
    for error in errors:
        assert PASSWORD not in error and encoded not in error and "\n" not in error
    if echo:
        assert "with password *** refused (***)" in errors[0]
    stored = "\n".join(str(row.payload) for row in all_rows(store))
    assert PASSWORD not in stored
    assert PASSWORD not in str(settings.smtp_password) and PASSWORD not in repr(settings)


def test_starttls_refused_by_a_plain_server_is_a_failure(tmp_path: Path) -> None:
    mailbox = Mailbox()
    server = smtp_server(mailbox)
    try:
        settings = mail_settings(tmp_path, server.port, SMTP_STARTTLS="true")
        store = open_store(settings)
        notify.announce(store, settings, an_alert(), "firing", T0)
        assert [o for _, o in notify.deliver_due(store, settings, T0)] == ["retry"]
    finally:
        server.stop()
    [row] = outbox.for_alert(store, 7)
    assert row.last_error is not None and row.last_error.startswith("SMTP STARTTLS failed")
    assert "STARTTLS" in row.last_error and mailbox.messages == []


def test_smtp_server_down_is_retried(tmp_path: Path) -> None:
    settings = mail_settings(tmp_path, free_port())
    store = open_store(settings)
    notify.announce(store, settings, an_alert(), "firing", T0)
    assert [o for _, o in notify.deliver_due(store, settings, T0)] == ["retry"]
    [row] = outbox.for_alert(store, 7)
    assert row.last_error is not None
    assert row.last_error.startswith("SMTP connect failed: mail server 127.0.0.1:")
    assert "refused" in row.last_error.lower()


def _self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl for a test cert")
def test_starttls_then_login_then_send(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client trusts the test's certificate
    mailbox = Mailbox()
    server = smtp_server(mailbox, tls_context=context, require_starttls=True,
                         authenticator=mailbox.authenticate)  # AUTH only after STARTTLS
    try:
        settings = mail_settings(tmp_path, server.port, SMTP_STARTTLS="true",
                                 SMTP_USER="alerts@example.com", SMTP_PASSWORD=PASSWORD)
        store = open_store(settings)
        notify.announce(store, settings, an_alert(), "firing", T0)
        assert [o for _, o in notify.deliver_due(store, settings, T0)] == ["sent"]
    finally:
        server.stop()
    assert [login for _, login, _ in mailbox.logins] == ["alerts@example.com"]
    assert len(mailbox.messages) == 1 and mailbox.messages[0][3] is True


# --- test messages ---


def test_send_test_queues_one_per_channel_and_delivers(tmp_path: Path,
                                                       receiver: Receiver) -> None:
    mailbox = Mailbox()
    server = smtp_server(mailbox)
    try:
        settings = mail_settings(tmp_path, server.port, ALERT_WEBHOOK_URL=receiver.url(),
                                 ALERT_WEBHOOK_FORMAT="slack")
        store = open_store(settings)
        assert notify.send_test(store, settings, T0) == 2
        rows = all_rows(store)
        assert [(r.alert_id, r.event, r.channel) for r in rows] == \
            [(None, "test", "webhook"), (None, "test", "email")]
        assert sorted(o for _, o in notify.deliver_due(store, settings, T0)) == ["sent", "sent"]
        # A test can be sent again, and again it is delivered.
        assert notify.send_test(store, settings, T0 + 60_000) == 2
        assert len(notify.deliver_due(store, settings, T0 + 60_000)) == 2
    finally:
        server.stop()
    assert outbox.counts(store) == {"pending": 0, "sent": 4, "failed": 0}
    texts = [body["text"] for body in receiver.delivered]
    said = "TEST ops-dashboard test message: alerts reach this channel"
    assert texts == [f"{said} (sent 03:12:05 UTC)", f"{said} (sent 03:13:05 UTC)"]
    assert receiver.delivered[0]["attachments"][0]["color"] == "#1e88e5"
    assert [m[2]["Subject"] for m in mailbox.messages] == texts
    assert notify.send_test(store, settings_for(tmp_path), T0) == 0  # nothing configured


# --- secrets ---


def test_webhook_token_never_appears_in_errors(tmp_path: Path, receiver: Receiver) -> None:
    url = receiver.url(f"/api/webhooks/123456789012345678/{TOKEN}?thread_id=98765432")
    settings = webhook_settings(tmp_path, url, "discord")
    store = open_store(settings)
    notify.announce(store, settings, an_alert(), "firing", T0)
    receiver.status = 404  # the reply echoes the path, token and query
    notify.deliver_due(store, settings, T0)
    receiver.stop()
    notify.deliver_due(store, settings, T0 + 2000)
    [row] = outbox.for_alert(store, 7)
    assert row.attempts == 2 and row.last_error is not None
    errors = [receiver.requests[0][0], row.last_error]
    assert TOKEN in errors[0]  # the receiver did see it
    for part in (TOKEN, "xYzSecretToken0123456789", "123456789012345678", "98765432"):
        assert part not in row.last_error
    assert str(settings.alert_webhook_url) == f"http://127.0.0.1:{receiver.port}/***"
    assert notify.scrub(f"HTTP 404: no hook at {url.split(str(receiver.port))[1]}",
                        notify.webhook_secrets(url)) == "HTTP 404: no hook at ***"


# --- the notifier thread ---


def test_notifier_thread_delivers_and_stops(tmp_path: Path, receiver: Receiver) -> None:
    settings = webhook_settings(tmp_path, receiver.url())
    store = open_store(settings)
    notifier = notify.Notifier(settings, settings.database_path)
    notifier.start()
    try:
        now = int(time.time() * 1000)
        assert notify.announce(store, settings, an_alert(), "firing", now) == 1
        assert receiver.arrived.wait(5), "the notifier did not deliver within 5 s"
        deadline = time.monotonic() + 5
        while outbox.for_alert(store, 7)[0].status != "sent" and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        started = time.monotonic()
        stopped = notifier.stop(timeout=5)
    assert stopped and not notifier.thread.is_alive()
    assert time.monotonic() - started < 2.5
    [row] = outbox.for_alert(store, 7)
    assert (row.status, row.attempts) == ("sent", 1)
    assert [b["event"] for b in receiver.delivered] == ["firing"]
    # Stopped: a new message stays queued.
    notify.announce(store, settings, resolved(an_alert(), now + 1000), "resolved", now + 1000)
    time.sleep(1.5)
    assert len(receiver.requests) == 1


def test_notifier_uses_its_clock_for_backoff(tmp_path: Path) -> None:
    settings = webhook_settings(tmp_path, f"http://127.0.0.1:{free_port()}/hook/{TOKEN}")
    store = open_store(settings)
    notify.announce(store, settings, an_alert(), "firing", T0)
    notifier = notify.Notifier(settings, settings.database_path, clock=lambda: T0,
                               poll_seconds=0.05)
    notifier.start()
    try:
        deadline = time.monotonic() + 5
        while outbox.for_alert(store, 7)[0].attempts == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # several more polls at the same instant: still not due again
    finally:
        assert notifier.stop(timeout=5)
    [row] = outbox.for_alert(store, 7)
    assert (row.status, row.attempts, row.next_attempt_ts) == ("pending", 1, T0 + 2000)
