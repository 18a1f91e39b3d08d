"""Alerts in Arabic: each stored English message told again in Arabic at display time
(ops.alerts.shown), figures, names and services' errors as left-to-right islands; and a
real notification sent with OPS_LANGUAGE=ar through the test receivers (JSON webhook and
SMTP), arriving in Arabic, UTF-8 intact, while the stored alert, the JSON endpoints and
the commands stay English."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ops import report
from ops.alerts import messages, shown
from ops.alerts.rules import DEFAULT_RULES, Context
from ops.alerts.wording import ended_text, resolved_text
from ops.i18n import LEFT_TO_RIGHT_ISOLATE, POP_DIRECTIONAL_ISOLATE, speaking
from ops.snapshot import read_snapshot
from ops.storage import Store
from ops.storage import alerts as records
from ops.storage.alerts import Alert
from tests.receivers import HttpReceiver, Mailbox, smtp_server
from tests.test_notify_delivery import DUE, T0, an_alert, fire, outcomes, settings_for

_ISLAND = re.compile(f"{LEFT_TO_RIGHT_ISOLATE}[^{POP_DIRECTIONAL_ISOLATE}]*"
                     f"{POP_DIRECTIONAL_ISOLATE}")
_WORD = re.compile(r"[A-Za-z]{2,}")
ARABIC = re.compile("[\u0600-\u06ff]")


def english_outside_islands(text: str) -> list[str]:
    return _WORD.findall(_ISLAND.sub("", text))


def island(text: str) -> str:
    return f"{LEFT_TO_RIGHT_ISOLATE}{text}{POP_DIRECTIONAL_ISOLATE}"


def every_message() -> list[str]:
    """The messages the default rules write, firing and clean, on a tick that trips them."""
    ctx = Context(
        now_ts=T0, configured={"redis": True, "mongo": True, "api": True},
        row={"redis_up": 0, "mongo_up": 1, "api_up": 0, "frontend_up": 1,
             "api_latency_ms": 2500.0, "frontend_latency_ms": 20.0,
             "host_mem_used_pct": 95.5, "host_load_5": 9.0, "host_cores": 4,
             "host_disk_used_pct": 97.25, "redis_maxmemory_mb": 64,
             "redis_memory_used_pct": 93.0, "mongo_connections_current": 90,
             "mongo_connections_available": 10},
        errors={"redis": "Error 111 connecting to 127.0.0.1:6379. Connection refused."},
        redis_window={"hits": 100.0, "misses": 1900.0, "evicted": 42.0},
        backup_disk_pct=12.0, last_good_backup_ts=T0 - 30 * 3_600_000,
        watched_since_ts=T0 - 40 * 3_600_000, auto_backup=True,
        last_backup_failure="mongodump exited with code 1: auth failed",
        last_drill_failure="collection orders: 10 documents dumped, 9 restored",
        copy_failures={"s3://bucket/ops": "AccessDenied", "sftp://backup.example.com": None})
    said = [finding.message for r in DEFAULT_RULES for finding in r.check(r, ctx)]
    said += [resolved_text("service_down", "cache is up", 250.0, said[0]),
             resolved_text("memory_high", "host memory 62.0% used (limit 90%)", 720.0,
                           "host memory 95.5% used (limit 90%)"),
             resolved_text("disk_high", None, 180.0, "data dir disk 97.2% full (limit 90%)"),
             ended_text(None, "cache is down: no answer"),
             ("collector is not sampling: no sample for 1m 15s (it samples every 5 s; "
              "silent after 3 intervals)"),
             "web-1 is exited with exit code 137", "web-1 is restarting (restart count 4)",
             "web-1 is unhealthy: curl: (7) Failed to connect",
             "web-1 was killed for lack of memory (OOM killer; limit 512 MB)",
             "web-1 memory 95.0% of its 512 MB limit (limit 90%)", "web-1 is healthy"]
    return said


def test_every_rule_message_is_told_in_arabic_with_its_islands() -> None:
    said = every_message()
    assert len(said) > 20
    with speaking("ar"):
        for message in said:
            told = shown.message_text(message)
            assert ARABIC.search(told), message
            assert not english_outside_islands(told), (message, told)
            assert LEFT_TO_RIGHT_ISOLATE not in told or told.count(LEFT_TO_RIGHT_ISOLATE) \
                == told.count(POP_DIRECTIONAL_ISOLATE)


def test_a_service_error_stays_an_island_and_figures_keep_their_digits() -> None:
    alert = Alert(1, "service_down", "cache", "critical", "firing", T0, T0, None, T0, None,
                  3, 0, 0.0, "cache is down: Error 111 connecting to 127.0.0.1:6379")
    with speaking("ar"):
        told = shown.shown_message(alert)
        hit = shown.message_text("cache hit rate 5.0% over 15 min (2000 lookups; limit 80%)")
    assert island("Error 111 connecting to 127.0.0.1:6379") in told
    assert island("5.0%") in hit and island("2000") in hit


def test_a_message_it_cannot_rebuild_is_shown_whole_as_an_island() -> None:
    with speaking("ar"):
        told = shown.message_text("something a newer version wrote")
    assert told == island("something a newer version wrote")


def test_english_is_the_stored_message_exactly() -> None:
    for message in every_message():
        assert shown.message_text(message) == message
    alert = an_alert()
    assert shown.shown_message(alert) == alert["message"]
    assert shown.subject("cache") == "cache" and shown.severity("critical") == "critical"


def test_english_notifications_are_unchanged_by_the_language_code() -> None:
    payload = {**an_alert(), "event": "firing", "ts": T0, "alert_id": 7, "limit": None}
    with speaking("en"):
        said = messages.single(payload)
    assert said.title == ("FIRING [critical] service down: cache is down: Error 111 "
                          "connecting to 127.0.0.1:6379 (since 03:11:35 UTC)")
    assert "Where:    cache" in said.body


# --- a real notification in Arabic ---


def test_an_arabic_notification_reaches_the_webhook_and_the_mailbox(tmp_path: Path) -> None:
    receiver = HttpReceiver().start()
    mailbox = Mailbox()
    server = smtp_server(mailbox)
    try:
        settings = settings_for(
            tmp_path, OPS_LANGUAGE="ar", ALERT_URLS=f"json://127.0.0.1:{receiver.port}/ar",
            SMTP_HOST="127.0.0.1", SMTP_PORT=str(server.port), SMTP_STARTTLS="false",
            ALERT_EMAIL_FROM="ops@example.com", ALERT_EMAIL_TO="oncall@example.com",
            OPS_PUBLIC_URL="https://ops.example.com")
        assert settings.ops_language == "ar"
        store = Store(settings.database_path)
        fire(store, settings)
        assert sorted(outcomes(store, settings, DUE)) == ["sent", "sent"]
    finally:
        receiver.stop()
        server.stop()
    [request] = receiver.delivered
    assert request.raw.decode("utf-8")  # UTF-8 intact: it decodes strictly
    body = request.json()
    title, text = body["title"], body["message"]
    assert title.startswith("نشط [حرج] خدمة متوقفة") or title.startswith("نشط [حرج]"), title
    assert "Error 111 connecting to 127.0.0.1:6379" in title
    assert f"{LEFT_TO_RIGHT_ISOLATE}Error 111" in title
    assert "ذاكرة التخزين المؤقت متوقف" in text
    assert "الخطورة:" in text and "حرج" in text
    assert f"افتح: {LEFT_TO_RIGHT_ISOLATE}https://ops.example.com/alerts" in text
    assert not english_outside_islands(title) and not english_outside_islands(text)
    [(_, _, mail, _)] = mailbox.messages
    subject = str(mail["Subject"])
    assert subject.startswith("نشط") and "Error 111" in subject
    content = mail.get_body().get_content()  # type: ignore[union-attr]
    assert "ذاكرة التخزين المؤقت متوقف" in content and "أين:" in content


def test_an_arabic_test_message_and_digest(tmp_path: Path) -> None:
    from ops.alerts import notify

    receiver = HttpReceiver().start()
    try:
        settings = settings_for(tmp_path, OPS_LANGUAGE="ar",
                                ALERT_URLS=f"json://127.0.0.1:{receiver.port}/t")
        store = Store(settings.database_path)
        assert notify.queue_test(store, settings, T0) != []
        assert outcomes(store, settings, T0) == ["sent"]
        fire(store, settings)
        fire(store, settings, alert_id=8, rule="memory_high", subject="host",
             severity="warning", message="host memory 95.5% used (limit 90%)", value=95.5)
        assert outcomes(store, settings, DUE) == ["sent", "sent"]
    finally:
        receiver.stop()
    test, digest = (request.json() for request in receiver.delivered)
    assert test["title"].startswith("اختبار رسالة اختبار من لوحة العمليات")
    assert digest["title"].startswith(island("2") + " رسالتا تنبيه")
    assert "ذاكرة المضيف مستخدمة بنسبة" in digest["message"]
    for said in (test["title"], digest["title"], digest["message"]):
        assert not english_outside_islands(said), said


def test_json_and_commands_stay_english_with_ops_language_ar(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, OPS_LANGUAGE="ar")
    store = Store(settings.database_path)
    alert = records.create(store, "service_down", "cache", "critical", T0, 0.0,
                           "cache is down: Connection refused")
    alert.status, alert.firing_ts = "firing", T0
    records.save(store, alert)
    with speaking("ar"):  # as the notifier is, while it builds a message
        detailed = report.health_detailed(read_snapshot(store, T0 + 60_000), settings)
    [said] = detailed["alerts"]
    assert said["message"] == "cache is down: Connection refused"
    assert records.firing(store)[0].message == "cache is down: Connection refused"
    env = {"OPS_DATA_DIR": str(tmp_path / "data"), "OPS_LANGUAGE": "ar", "PATH": "/usr/bin"}
    done = subprocess.run([sys.executable, "-m", "ops", "silence", "2h", "redis"],
                          capture_output=True, text=True, env=env, check=True,
                          cwd=Path(__file__).parent.parent)
    assert done.stdout.startswith("silenced 1: redis until")
    assert not ARABIC.search(done.stdout + done.stderr)


@pytest.mark.parametrize("status", ["pending", "firing", "resolved", "cleared"])
def test_states_and_subjects_are_translated(status: str) -> None:
    with speaking("ar"):
        assert ARABIC.search(shown.state(status))
        assert ARABIC.search(shown.subject("data dir"))
        assert shown.subject("web-1") == island("web-1")
