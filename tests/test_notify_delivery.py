"""Alert messages through Apprise to real receivers on 127.0.0.1: json://, form://, ntfy://,
Slack, Discord, Mattermost and Teams-style webhooks (HTTP, and HTTPS for Teams), e-mail
over aiosmtpd with AUTH and STARTTLS. Faults are done for real: a channel down for the
first attempts, a refused login, a silence. Time is passed in, so backoff is crossed by
moving `now_ts` rather than by sleeping."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apprise.plugins.discord import NotifyDiscord
from apprise.plugins.slack import NotifySlack

from ops.alerts import notify, silences
from ops.alerts.repeats import announce_repeats
from ops.config import Settings, load_settings
from ops.storage import Store, outbox
from ops.storage import alerts as records
from tests.receivers import HttpReceiver, Mailbox, self_signed, smtp_server
from tests.servers import free_port

T0 = 1_764_213_125_000  # 2025-11-27 03:12:05 UTC
DUE = T0 + notify.GATHER_MS
HOUR = 3600_000
TOKEN = "xYzSecretToken0123456789"
PASSWORD = "s3cret-Pa55word!"


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    server = HttpReceiver().start()
    yield server
    server.stop()


def settings_for(tmp_path: Path, **values: str) -> Settings:
    return load_settings({"OPS_DATA_DIR": str(tmp_path / "data"), **values}, env_file=None)


def an_alert(alert_id: int = 7, **changes: Any) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "id": alert_id, "rule": "service_down", "subject": "cache", "severity": "critical",
        "status": "firing", "message": "cache is down: Error 111 connecting to 127.0.0.1:6379",
        "value": 0.0, "pending_ts": T0 - 30_000, "firing_ts": T0, "resolved_ts": None}
    alert.update(changes)
    return alert


def outcomes(store: Store, settings: Settings, now_ts: int) -> list[str]:
    return [outcome for _, outcome in notify.deliver_due(store, settings, now_ts)]


def fire(store: Store, settings: Settings, **changes: Any) -> None:
    assert notify.announce(store, settings, an_alert(**changes), "firing", T0) >= 1


# --- each kind of receiver ---


def test_json_and_form_channels_get_the_message(tmp_path: Path, receiver: HttpReceiver) -> None:
    settings = settings_for(tmp_path, ALERT_URLS=f"json://127.0.0.1:{receiver.port}/j/{TOKEN},"
                            f"form://127.0.0.1:{receiver.port}/f",
                            OPS_PUBLIC_URL="https://ops.example.com")
    store = Store(settings.database_path)
    fire(store, settings)
    assert outcomes(store, settings, T0) == []  # gathered for 1.5 s first
    assert outcomes(store, settings, DUE) == ["sent", "sent"]
    assert outcomes(store, settings, DUE + HOUR) == []  # once
    as_form, as_json = sorted(receiver.delivered, key=lambda r: r.path)
    assert as_json.path == f"/j/{TOKEN}" and as_form.path == "/f"
    title = ("FIRING [critical] service down: cache is down: Error 111 connecting to "
             "127.0.0.1:6379 (since 03:11:35 UTC)")
    assert as_json.json()["title"] == title and as_json.json()["type"] == "failure"
    assert as_form.form()["title"] == title
    assert "Open: https://ops.example.com/alerts" in as_json.json()["message"]


def test_ntfy_receiver_gets_topic_title_and_message(tmp_path: Path,
                                                    receiver: HttpReceiver) -> None:
    settings = settings_for(tmp_path, ALERT_URLS=f"ntfy://127.0.0.1:{receiver.port}/ops-alerts")
    store = Store(settings.database_path)
    assert notify.queue_test(store, settings, T0) != []
    assert outcomes(store, settings, T0) == ["sent"]
    [request] = receiver.delivered
    body = request.json()
    assert body["topic"] == "ops-alerts"
    assert body["title"] == ("TEST ops-dashboard test message: alerts reach this channel "
                             "(sent 03:12:05 UTC)")


def test_slack_and_discord_webhooks_get_their_payloads(tmp_path: Path, receiver: HttpReceiver,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # Apprise's own Slack and Discord senders, pointed at the local receiver.
    monkeypatch.setattr(NotifySlack, "webhook_url", f"http://127.0.0.1:{receiver.port}/slack")
    monkeypatch.setattr(NotifyDiscord, "notify_url", f"http://127.0.0.1:{receiver.port}/discord")
    receiver.reply = b"ok"
    for fmt, url in (("slack", f"https://hooks.slack.com/services/T0AAA1111/B0BBB2222/{TOKEN}"),
                     ("discord", f"https://discord.com/api/webhooks/123456789012345678/{TOKEN}")):
        settings = settings_for(tmp_path / fmt, ALERT_WEBHOOK_URL=url, ALERT_WEBHOOK_FORMAT=fmt)
        store = Store(settings.database_path)
        fire(store, settings)
        assert outcomes(store, settings, DUE) == ["sent"]
    slack, discord = receiver.delivered
    assert slack.path == f"/slack/T0AAA1111/B0BBB2222/{TOKEN}"
    assert "FIRING [critical] service down" in slack.text
    assert "attachments" in slack.json() or "blocks" in slack.json()
    assert discord.path.startswith(f"/discord/123456789012345678/{TOKEN}")
    assert "FIRING [critical] service down" in discord.text
    assert "embeds" in discord.json() or "content" in discord.json()


def test_a_slack_format_to_mattermost_posts_the_slack_payload(tmp_path: Path,
                                                              receiver: HttpReceiver) -> None:
    settings = settings_for(tmp_path, ALERT_WEBHOOK_FORMAT="slack",
                            ALERT_WEBHOOK_URL=f"http://127.0.0.1:{receiver.port}/hooks/abc123")
    store = Store(settings.database_path)
    fire(store, settings)
    assert outcomes(store, settings, DUE) == ["sent"]
    [request] = receiver.delivered
    assert request.path == "/hooks/abc123" and "service down" in request.json()["text"]


def test_teams_workflow_over_https_gets_an_adaptive_card(tmp_path: Path) -> None:
    receiver = HttpReceiver(tls_files=self_signed(tmp_path)).start()
    try:
        settings = settings_for(tmp_path, ALERT_URLS=f"workflows://127.0.0.1:{receiver.port}/"
                                f"wf123abc/{TOKEN}?verify=no")
        store = Store(settings.database_path)
        fire(store, settings)
        assert outcomes(store, settings, DUE) == ["sent"]
    finally:
        receiver.stop()
    [request] = receiver.delivered
    assert request.path.startswith("/workflows/wf123abc/triggers/manual/paths/invoke")
    assert "AdaptiveCard" in request.text and "service down" in request.text


# --- e-mail ---


def mail_settings(tmp_path: Path, port: int, **values: str) -> Settings:
    return settings_for(tmp_path, **{
        "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_STARTTLS": "false",
        "ALERT_EMAIL_FROM": "ops@example.com",
        "ALERT_EMAIL_TO": "oncall@example.com, lead@example.com", **values})


def test_mailto_with_login_delivers_subject_and_body(tmp_path: Path) -> None:
    mailbox = Mailbox()
    server = smtp_server(mailbox, authenticator=mailbox.authenticate, auth_require_tls=False)
    try:
        settings = mail_settings(tmp_path, server.port, SMTP_USER="alerts@example.com",
                                 SMTP_PASSWORD=PASSWORD)
        store = Store(settings.database_path)
        fire(store, settings)
        assert outcomes(store, settings, DUE) == ["sent"]
    finally:
        server.stop()
    assert {(login, password) for _, login, password in mailbox.logins} == \
        {("alerts@example.com", PASSWORD)}
    recipients = sorted(r for _, rcpt, _, _ in mailbox.messages for r in rcpt)
    assert recipients == ["lead@example.com", "oncall@example.com"]
    sender, _, message, authenticated = mailbox.messages[0]
    assert sender == "ops@example.com" and authenticated
    assert str(message["Subject"]).startswith("FIRING [critical] service down")
    assert "Where:" in message.get_body().get_content()  # type: ignore[union-attr]


@pytest.mark.parametrize("echo", [False, True])
def test_refused_login_is_retried_and_never_shows_the_password(tmp_path: Path,
                                                              echo: bool) -> None:
    mailbox = Mailbox(accept_login=False, echo_password=echo)
    server = smtp_server(mailbox, authenticator=mailbox.authenticate, auth_require_tls=False)
    try:
        settings = mail_settings(tmp_path, server.port, SMTP_USER="alerts@example.com",
                                 SMTP_PASSWORD=PASSWORD)
        store = Store(settings.database_path)
        fire(store, settings)
        assert outcomes(store, settings, DUE) == ["retry"]
    finally:
        server.stop()
    assert mailbox.messages == []
    [row] = outbox.recent(store)
    assert row.last_error is not None and "535" in row.last_error
    assert PASSWORD not in row.last_error and "\n" not in row.last_error
    [state] = notify.channel_state(store, settings)
    assert state["last_error"] == row.last_error and state["last_success_ts"] is None


def test_mailtos_starttls_then_auth_then_send(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    mailbox = Mailbox()
    server = smtp_server(mailbox, tls_context=context, require_starttls=True,
                         authenticator=mailbox.authenticate)  # AUTH only after STARTTLS
    try:
        url = (f"mailtos://alerts%40example.com:{PASSWORD}@127.0.0.1:{server.port}/?smtp="
               "127.0.0.1&from=ops@example.com&to=oncall@example.com&mode=starttls&verify=no")
        settings = settings_for(tmp_path, ALERT_URLS=url)
        store = Store(settings.database_path)
        fire(store, settings)
        assert outcomes(store, settings, DUE) == ["sent"]
        # The old SMTP_* settings, STARTTLS on, against the same server: refused without
        # trusting its certificate (verified by default), one clean line.
        old = mail_settings(tmp_path / "old", server.port, SMTP_STARTTLS="true",
                            SMTP_USER="alerts@example.com", SMTP_PASSWORD=PASSWORD)
        old_store = Store(old.database_path)
        fire(old_store, old)
        assert outcomes(old_store, old, DUE) == ["retry"]
    finally:
        server.stop()
    assert [login for _, login, _ in mailbox.logins] == ["alerts@example.com"]
    assert len(mailbox.messages) == 1 and mailbox.messages[0][3] is True
    [row] = outbox.recent(old_store)
    assert row.last_error is not None and PASSWORD not in row.last_error


# --- faults and outbox semantics ---


def test_channel_down_first_then_exactly_one_delivery(tmp_path: Path) -> None:
    receiver = HttpReceiver()  # not started: the port is closed
    settings = settings_for(tmp_path, ALERT_URLS=f"json://127.0.0.1:{receiver.port}/{TOKEN}")
    store = Store(settings.database_path)
    fire(store, settings)
    assert outcomes(store, settings, DUE) == ["retry"]
    assert outcomes(store, settings, DUE + 1_000) == []  # backing off (2 s)
    assert outcomes(store, settings, DUE + 2_000) == ["retry"]  # then 4 s
    [row] = outbox.recent(store)
    assert row.attempts == 2 and row.next_attempt_ts == DUE + 6_000
    assert row.last_error is not None and "Connection refused" in row.last_error
    assert TOKEN not in row.last_error
    receiver.start()
    try:
        assert outcomes(store, settings, DUE + 6_000) == ["sent"]
        for later in (DUE + 60_000, DUE + HOUR, DUE + 30 * HOUR):
            assert outcomes(store, settings, later) == []
        # A second store on the file (a restart) finds nothing left to send.
        assert outcomes(Store(settings.database_path), settings, DUE + 2 * HOUR) == []
    finally:
        receiver.stop()
    assert len(receiver.requests) == 1
    [state] = notify.channel_state(store, settings)
    assert state["last_success_ts"] == DUE + 6_000
    assert "Connection refused" in str(state["last_error"])


def test_gives_up_24_hours_after_queueing(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, ALERT_URLS=f"json://127.0.0.1:{free_port()}/x")
    store = Store(settings.database_path)
    fire(store, settings)
    now = DUE
    while outbox.counts(store)["pending"]:
        notify.deliver_due(store, settings, now)
        now += 10 * 60_000
    [row] = outbox.recent(store)
    assert row.status == "failed" and T0 + 24 * HOUR <= now <= T0 + 25 * HOUR


def test_alerts_of_one_moment_go_as_one_digest(tmp_path: Path, receiver: HttpReceiver) -> None:
    settings = settings_for(tmp_path, ALERT_URLS=f"json://127.0.0.1:{receiver.port}/d")
    store = Store(settings.database_path)
    for n, subject in enumerate(("API", "database", "cache", "frontend", "admin"), 1):
        fire(store, settings, alert_id=n, subject=subject, message=f"{subject} is down")
    assert outcomes(store, settings, DUE) == ["sent"] * 5
    [request] = receiver.delivered
    assert request.json()["title"] == "5 alert messages: 5 firing"
    assert request.json()["message"].count("\n- FIRING") == 5
    assert outbox.counts(store)["sent"] == 5


def test_resolved_after_firing_while_down_arrive_in_order(tmp_path: Path) -> None:
    receiver = HttpReceiver()
    settings = settings_for(tmp_path, ALERT_URLS=f"json://127.0.0.1:{receiver.port}/o")
    store = Store(settings.database_path)
    fire(store, settings)
    assert outcomes(store, settings, DUE) == ["retry"]
    notify.announce(store, settings, an_alert(status="resolved", resolved_ts=T0 + 60_000,
                                              message="cache is up again after 1m 30s"),
                    "resolved", T0 + 60_000)
    receiver.start()
    try:
        assert outcomes(store, settings, T0 + 70_000) == ["sent", "sent"]
    finally:
        receiver.stop()
    [digest] = receiver.delivered
    lines = digest.json()["message"].splitlines()
    assert [line[:10] for line in lines if line.startswith("- ")] == ["- FIRING [", "- RESOLVED"]


def test_two_senders_on_one_file_send_each_message_once(tmp_path: Path,
                                                        receiver: HttpReceiver) -> None:
    settings = settings_for(tmp_path, ALERT_URLS=f"json://127.0.0.1:{receiver.port}/two")
    first, second = Store(settings.database_path), Store(settings.database_path)
    for n in range(1, 4):
        notify.queue_test(first, settings, T0 + n)
    assert len(notify.deliver_due(first, settings, T0 + 10)) == 3
    assert notify.deliver_due(second, settings, T0 + 10) == []
    assert len(receiver.delivered) == 3


def test_a_silence_sends_nothing_and_records_everything(tmp_path: Path,
                                                        receiver: HttpReceiver) -> None:
    settings = settings_for(tmp_path, ALERT_URLS=f"json://127.0.0.1:{receiver.port}/s")
    store = Store(settings.database_path)
    window = silences.silence(store, settings, "2h", "redis", "test", T0 - 1)
    fire(store, settings)  # cache: the redis service's alert
    fire(store, settings, alert_id=8, rule="memory_high", subject="host",
         message="host memory 95% used")
    assert outcomes(store, settings, DUE + HOUR) == ["sent"]  # only the memory alert
    rows = {row.alert_id: row for row in outbox.recent(store)}
    assert rows[7].status == "silenced" and rows[7].attempts == 0
    assert rows[7].note is not None and f"maintenance window {window.id} (redis)" in rows[7].note
    assert rows[8].status == "sent"
    assert [r.json()["title"].split(":")[0] for r in receiver.delivered] == \
        ["FIRING [critical] memory high"]
    # Ended: the next event is sent again.
    assert silences.end(store, window.id, T0 + HOUR) == 1
    notify.announce(store, settings, an_alert(status="resolved", resolved_ts=T0 + 2 * HOUR,
                                              message="cache is up again"), "resolved",
                    T0 + 2 * HOUR)
    assert outcomes(store, settings, T0 + 3 * HOUR) == ["sent"]
    assert outbox.counts(store) == {"pending": 0, "sent": 2, "failed": 0, "silenced": 1}


def test_silence_durations_and_targets(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, HTTP_CHECKS="frontend=http://127.0.0.1:9/")
    assert silences.duration_ms("2h") == 2 * HOUR
    assert silences.duration_ms("1h30m") == 90 * 60_000
    for bad in ("2", "0m", "8d", "2 hours", "-1h"):
        with pytest.raises(silences.SilenceError):
            silences.duration_ms(bad)
    assert silences.target_or_error(settings, "frontend") == "frontend"
    assert silences.target_or_error(settings, "all") is None
    with pytest.raises(silences.SilenceError, match="neither a rule nor a service"):
        silences.target_or_error(settings, "nope")


def test_a_critical_alert_still_firing_is_repeated_every_n_hours(tmp_path: Path,
                                                                 receiver: HttpReceiver) -> None:
    settings = settings_for(tmp_path, ALERT_URLS=f"json://127.0.0.1:{receiver.port}/r",
                            ALERT_REPEAT_HOURS="2")
    store = Store(settings.database_path)
    critical = records.create(store, "disk_high", "host", "critical", T0, 97.0, "disk 97% used")
    warning = records.create(store, "memory_high", "host", "warning", T0, 95.0, "memory 95%")
    for alert in (critical, warning):
        alert.status, alert.firing_ts = "firing", T0
        records.save(store, alert)
    assert announce_repeats(store, settings, T0 + HOUR, notify.announce) == 0
    assert announce_repeats(store, settings, T0 + 2 * HOUR, notify.announce) == 1
    assert announce_repeats(store, settings, T0 + 3 * HOUR, notify.announce) == 0  # once
    assert outcomes(store, settings, T0 + 3 * HOUR) == ["sent"]
    [request] = receiver.delivered
    assert request.json()["title"].startswith("STILL FIRING [critical] disk high (host) for 2h")
    off = settings_for(tmp_path)
    assert announce_repeats(store, off, T0 + 9 * HOUR, notify.announce) == 0
