"""Channels as Apprise URLs: ALERT_URLS checked at start, the older webhook and SMTP
settings translated, each channel shown without its secrets, and what a message says."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops import redaction
from ops.alerts import messages
from ops.alerts.channels import channels
from ops.channel_urls import secrets, shown, split_urls
from ops.config import Settings, SettingsError, load_settings

T0 = 1_764_213_125_000  # 2025-11-27 03:12:05 UTC
BOT = "123456789:AAHsecretBotToken_xyz0123"


def settings_for(tmp_path: Path, **values: str) -> Settings:
    return load_settings({"OPS_DATA_DIR": str(tmp_path / "data"), **values}, env_file=None)


def test_split_keeps_commas_inside_a_url() -> None:
    text = ("ntfy://127.0.0.1:8080/ops, mailtos://u:p@smtp.example.com?to=a@x.org,b@x.org "
            "json://h/x")
    assert split_urls(text) == ["ntfy://127.0.0.1:8080/ops",
                                "mailtos://u:p@smtp.example.com?to=a@x.org,b@x.org",
                                "json://h/x"]


@pytest.mark.parametrize(("url", "expected"), [
    ("mailtos://alerts:pw123456@smtp.example.com:587?to=a@x.org", "mailtos://smtp.example.com:587"),
    ("json://127.0.0.1:8085/hook/T0KEN123456", "json://127.0.0.1:8085"),
    ("ntfy://ntfy.example.com/private-topic", "ntfy://ntfy.example.com"),
    (f"tgram://{BOT}/-100123456", "tgram://…"),
    ("slack://T0AAA1111/B0BBB2222/xYzSecretToken0123456789", "slack://…"),
    ("https://hooks.slack.com/services/T0AAA1111/B0BBB2222/xYz0123456789", "https://hooks.slack.com"),
])
def test_a_channel_is_shown_as_scheme_host_and_port(url: str, expected: str) -> None:
    assert shown(url) == expected


def test_alert_urls_become_channels_and_their_secrets_are_masked(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, ALERT_URLS=f"tgram://{BOT}/-100123456, "
                            "ntfy://127.0.0.1:9/ops-topic-1")
    found = channels(settings)
    assert [c.origin for c in found] == ["ALERT_URLS", "ALERT_URLS"]
    assert [c.name.split("-")[0] for c in found] == ["tgram", "ntfy"]
    assert [c.shown for c in found] == ["tgram://…", "ntfy://127.0.0.1:9"]
    assert channels(settings) == found  # names are stable
    said = redaction.clean(f"POST https://api.telegram.org/bot{BOT}/sendMessage failed for "
                           f"{BOT.split(':')[1]} (chat -100123456)")
    assert BOT.split(":")[1] not in said and "-100123456" not in said
    assert BOT not in str(settings) and BOT not in repr(settings.alert_urls)


def test_a_url_apprise_cannot_use_is_one_line_naming_it(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        settings_for(tmp_path, ALERT_URLS="ntfy://127.0.0.1/ok, slack://T0Secret99")
    said = str(caught.value)
    assert said.startswith("ALERT_URLS='ntfy://127.0.0.1,slack://…' is invalid: expected "
                           "Apprise URLs separated by commas; URL 2 (slack://…) cannot be used")
    assert "T0Secret99" not in said and "\n" not in said


def test_old_webhook_settings_translate_to_apprise(tmp_path: Path) -> None:
    def url_of(url: str, fmt: str) -> str:
        settings = settings_for(tmp_path, ALERT_WEBHOOK_URL=url, ALERT_WEBHOOK_FORMAT=fmt)
        [channel] = channels(settings)
        assert channel.name == "webhook" and channel.origin == "ALERT_WEBHOOK_URL"
        return channel.url.reveal()

    assert url_of("http://127.0.0.1:8085/hook/T0K?token=abc", "json") == \
        "json://127.0.0.1:8085/hook/T0K?-token=abc"
    assert url_of("https://chat.example.com/hooks/abc123", "slack") == \
        "mmosts://chat.example.com/abc123"
    slack = "https://hooks.slack.com/services/T0AAA1111/B0BBB2222/xYzSecretToken0123456789"
    assert url_of(slack, "slack") == slack
    discord = "https://discord.com/api/webhooks/123456789012345678/abcdefTOKEN-xyz"
    assert url_of(discord, "discord") == discord


def test_a_webhook_its_format_cannot_reach_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        settings_for(tmp_path, ALERT_WEBHOOK_URL="https://chat.example.com/x/S3cretPath99",
                     ALERT_WEBHOOK_FORMAT="discord")
    said = str(caught.value)
    assert "ALERT_WEBHOOK_URL='https://chat.example.com/***' is invalid" in said
    assert "ALERT_URLS" in said and "S3cretPath99" not in said


def test_smtp_settings_translate_to_mailto(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, SMTP_HOST="smtp.example.com", SMTP_PORT="2525",
                            SMTP_USER="alerts@example.com", SMTP_PASSWORD="p@ss/w:rd!",
                            ALERT_EMAIL_FROM="ops@example.com",
                            ALERT_EMAIL_TO="a@example.com, b@example.com")
    [channel] = channels(settings)
    assert (channel.name, channel.shown) == ("email", "mailtos://smtp.example.com:2525")
    assert channel.url.reveal() == (
        "mailtos://alerts%40example.com:p%40ss%2Fw%3Ard%21@smtp.example.com:2525/?smtp="
        "smtp.example.com&from=ops@example.com&to=a@example.com,b@example.com&mode=starttls")
    plain = settings_for(tmp_path, SMTP_HOST="127.0.0.1", SMTP_STARTTLS="false",
                         ALERT_EMAIL_FROM="ops@example.com", ALERT_EMAIL_TO="a@example.com")
    assert channels(plain)[0].url.reveal().startswith("mailto://127.0.0.1:587/?")


def test_url_secrets_cover_tokens_in_host_path_and_query() -> None:
    found = secrets(f"tgram://{BOT}/-100123456?format=text&key=k3y-value-1")
    assert BOT in found or BOT.split(":")[0] in found
    assert "-100123456" in found and "k3y-value-1" in found and "text" not in found


# --- what is said ---


def alert(**changes: object) -> dict[str, object]:
    payload: dict[str, object] = {
        "event": "firing", "alert_id": 7, "ts": T0 + 30_000, "rule": "memory_high",
        "subject": "host", "severity": "critical", "status": "firing",
        "message": "host memory 95.0% used (limit 90%)", "value": 95.0, "limit": 90.0,
        "pending_ts": T0, "firing_ts": T0 + 30_000, "resolved_ts": None}
    payload.update(changes)
    return payload


def test_firing_says_what_where_since_value_limit_and_links() -> None:
    said = messages.single(alert(), "https://ops.example.com/")
    assert said.title == ("FIRING [critical] memory high: host memory 95.0% used (limit 90%) "
                          "(since 03:12:05 UTC)")
    assert said.kind == "failure"
    for line in ("host memory 95.0% used (limit 90%)", "Where:", "host",
                 "Since:    2025-11-27 03:12:05 UTC", "Value:    95", "Limit:    90",
                 "Open: https://ops.example.com/alerts"):
        assert line in said.body


def test_resolved_says_what_recovered_and_after_how_long() -> None:
    said = messages.single(alert(event="resolved", status="resolved", resolved_ts=T0 + 750_000,
                                 message="back to normal after 12m 30s: host memory 60.0% "
                                         "used (limit 90%) (was: host memory 95.0% used)"))
    assert said.title.startswith("RESOLVED memory high: back to normal after 12m 30s")
    assert "Lasted:   12m 30s" in said.body and said.kind == "success"


def test_a_repeat_says_still_firing_and_for_how_long() -> None:
    said = messages.single(alert(event="repeat-2", ts=T0 + 2 * 3600_000))
    assert said.title.startswith("STILL FIRING [critical] memory high for 2h 0m")


def test_a_digest_is_one_message_with_a_line_per_alert() -> None:
    payloads = [alert(alert_id=n, subject=f"s{n}", message=f"s{n} is down") for n in range(4)]
    payloads.append(alert(event="resolved", message="cache is up again after 1m 0s"))
    said = messages.digest(payloads, "https://ops.example.com")
    assert said.title == "5 alert messages: 4 firing, 1 resolved"
    assert said.body.count("\n- ") == 5 and "Open: https://ops.example.com/alerts" in said.body
