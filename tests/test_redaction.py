"""Secrets out of URLs and driver messages, for every spelling a real setting can have;
errors on one line; the choke point clean() with the process-wide list of known secrets,
and the log filter."""

from __future__ import annotations

import logging
import warnings
from io import StringIO

import pytest

from ops import redaction
from ops.backup import errors as backup_errors
from ops.config import SettingsError, load_settings
from ops.redaction import (
    MASK,
    clean,
    clean_data,
    clean_json,
    one_line,
    redact,
    remember,
    scrub,
    split_userinfo,
    url_secrets,
)

# (URL as a user may set it, as shown, the secrets it carries)
HOSTILE = [
    ("mongodb://backup:p@ss@mongo:27017/app", "mongodb://backup:***@mongo:27017/app",
     ["p@ss"]),
    ("mongodb://backup:S3cret-p%40ss@127.0.0.1:27017/?authSource=admin",
     "mongodb://backup:***@127.0.0.1:27017/?authSource=admin", ["S3cret-p%40ss"]),
    ("mongodb://u:ab/c+d==@mongo:27017/app", "mongodb://u:***@mongo:27017/app", ["ab/c+d=="]),
    ("mongodb://u:p?x#y@mongo/", "mongodb://u:***@mongo/", ["p?x#y"]),
    (("mongodb://AKIA@mongo/?authMechanism=MONGODB-AWS"
     "&authMechanismProperties=AWS_SESSION_TOKEN:abc"),
     "mongodb://AKIA@mongo/?authMechanism=MONGODB-AWS&authMechanismProperties=***",
     ["AWS_SESSION_TOKEN:abc", "abc"]),
    ("mongodb://u:pw@mongo/?tls=true&tlsCertificateKeyFilePassword=kp%21&appName=ops",
     "mongodb://u:***@mongo/?tls=true&tlsCertificateKeyFilePassword=***&appName=ops",
     ["pw", "kp%21"]),
    ("mongodb://mongo/?tlsCertificateKeyFilePassword=",
     "mongodb://mongo/?tlsCertificateKeyFilePassword=***", []),
    ("mongodb+srv://u:pw@cluster0.example.net/app?retryWrites=true&w=majority",
     "mongodb+srv://u:***@cluster0.example.net/app?retryWrites=true&w=majority", ["pw"]),
    ("mongodb://u:pw@[::1]:27017,[fe80::1%25eth0]:27018/app?replicaSet=rs0",
     "mongodb://u:***@[::1]:27017,[fe80::1%25eth0]:27018/app?replicaSet=rs0", ["pw"]),
    ("mongodb://[::1]:27017/", "mongodb://[::1]:27017/", []),
    ("mongodb://mongo:27017/app", "mongodb://mongo:27017/app", []),
    ("mongodb://reader@mongo/", "mongodb://reader@mongo/", []),
    ("mongodb://u:@mongo/", "mongodb://u:***@mongo/", []),
    ("redis://redis:6379/0?password=pw", "redis://redis:6379/0?password=***", ["pw"]),
    ("redis://:@redis:6379/0", "redis://:***@redis:6379/0", []),
    ("rediss://default:pw@cache.example:6380/1", "rediss://default:***@cache.example:6380/1",
     ["pw"]),
    ("unix:///run/redis.sock?db=0&password=pw", "unix:///run/redis.sock?db=0&password=***",
     ["pw"]),
    (("https://h.example/x?token=t1&sig=s1&X-Amz-Signature=s2&api_key=k1&apikey=k2"
     "&access_token=t2&secret=s3&pwd=p1&pass=p2&key=k3&X-Amz-Credential=c1&page=2"),
     ("https://h.example/x?token=***&sig=***&X-Amz-Signature=***&api_key=***&apikey=***"
     "&access_token=***&secret=***&pwd=***&pass=***&key=***&X-Amz-Credential=***&page=2"),
     ["t1", "s1", "s2", "k1", "k2", "t2", "s3", "p1", "p2", "k3", "c1"]),
    ("http://api:3001/api/health", "http://api:3001/api/health", []),
    # a password with an unencoded @ and / (drivers read "ss" as the host)
    ("mongodb://u:p@ss/word@mongo/db", "mongodb://u:***@mongo/db", ["p@ss/word"]),
    # a secret under a harmless name, said by its value
    ("mongodb://m/?appName=AWS_SESSION_TOKEN:tok1", "mongodb://m/?appName=***",
     ["AWS_SESSION_TOKEN:tok1", "tok1"]),
    ("https://h.example/x?code=az1&q=password%3Dp3", "https://h.example/x?code=***&q=***",
     ["az1", "password%3Dp3", "p3"]),
    # webhook hosts whose path is the token
    ("https://hooks.slack.com/services/T000/B000/XXXX", "https://hooks.slack.com/services/***/***/***",
     ["T000", "B000", "XXXX"]),
    ("https://discord.com/api/webhooks/123/tok-en?wait=true",
     "https://discord.com/api/webhooks/***/***?wait=true", ["123", "tok-en"]),
    ("https://api.telegram.org/bot123:AA-bb/sendMessage?chat_id=5",
     "https://api.telegram.org/bot***/sendMessage?chat_id=5", ["123:AA-bb"]),
    ("https://acme.webhook.office.com/webhookb2/g1@g2/IncomingWebhook/i3/g4",
     "https://acme.webhook.office.com/webhookb2/***/***/***/***",
     ["g1@g2", "IncomingWebhook", "i3", "g4"]),
    ("https://ntfy.example/hooks/token/t5/more", "https://ntfy.example/hooks/token/***/more",
     ["t5"]),
]


@pytest.mark.parametrize(("url", "shown", "secrets"), HOSTILE, ids=[h[0][:40] for h in HOSTILE])
def test_redact_hides_every_secret_and_keeps_the_rest(url: str, shown: str,
                                                      secrets: list[str]) -> None:
    assert redact(url) == shown
    assert url_secrets(url) == secrets
    for secret in secrets:
        assert secret not in redact(url)


@pytest.mark.parametrize(("url", "shown", "secrets"), HOSTILE, ids=[h[0][:40] for h in HOSTILE])
def test_scrub_removes_a_quoted_url_s_secrets(url: str, shown: str, secrets: list[str]) -> None:
    message = f"connection to {url} failed"
    scrubbed = scrub(message, *url_secrets(url))
    assert all(secret not in scrubbed for secret in secrets)
    assert (MASK in scrubbed) if secrets else (scrubbed == message)


def test_scrub_takes_every_spelling_of_a_secret() -> None:
    said = "auth failed: S3cret-p@ss, S3cret-p%40ss, S3cret-p%40ss!"
    assert scrub(said, "S3cret-p%40ss") == "auth failed: ***, ***, ***!"
    assert scrub(said, "S3cret-p@ss") == "auth failed: ***, ***, ***!"
    assert scrub("nothing to hide", None, "") == "nothing to hide"


def test_not_a_url_is_left_as_it_is() -> None:
    assert redact("letmein") == "letmein"
    assert split_userinfo("letmein") == ("", None, "letmein")
    assert url_secrets("letmein") == []


def test_split_userinfo_finds_the_last_at_before_the_hosts() -> None:
    assert split_userinfo("mongodb://u:p@ss@h1,h2/db") == ("mongodb://", "u:p@ss", "h1,h2/db")
    assert split_userinfo("mongodb://u:p@ss/wd@h/db") == ("mongodb://", "u:p@ss/wd", "h/db")
    assert split_userinfo("mongodb://u:p?x#y@h/") == ("mongodb://", "u:p?x#y", "h/")
    assert split_userinfo("http://h/users/@me") == ("http://", None, "h/users/@me")
    assert split_userinfo("http://h:3001/a/@me") == ("http://", None, "h:3001/a/@me")
    assert split_userinfo("http://h/p?mail=a@b.c") == ("http://", None, "h/p?mail=a@b.c")


def test_backup_errors_use_the_same_redaction() -> None:
    uri = "mongodb://backup:S3cret-p%40ss@127.0.0.1:1/?authSource=admin"
    assert backup_errors.redact_uri(uri) == "mongodb://backup:***@127.0.0.1:1/?authSource=admin"
    assert backup_errors.scrub("refused S3cret-p@ss", uri) == "refused ***"


def test_one_line_names_the_exception_and_joins_lines() -> None:
    assert one_line(ValueError("bad\n   value")) == "ValueError: bad value"
    assert one_line(OSError()) == "OSError"
    assert one_line("first\nsecond\tthird") == "first second third"
    assert one_line(None) == "None"
    long = one_line("x" * 400, limit=300)
    assert len(long) == 300 and long.endswith("…")
    assert backup_errors.one_line("y" * 400) == "y" * 299 + "…"


# --- the choke point ---


def test_clean_masks_remembered_secrets_in_every_spelling_and_urls_in_text() -> None:
    remember("Kn0wn-p@ss", "short")
    said = ("auth failed (Kn0wn-p@ss, Kn0wn-p%40ss, Kn0wn-p%40ss)\nat "
            "mongodb://u:other@h/?tlsCertificateKeyFilePassword=kp): retry; "
            "see https://hooks.slack.com/services/T/B/C.")
    assert clean(said) == ("auth failed (***, ***, ***) at mongodb://u:***@h/?"
                           "tlsCertificateKeyFilePassword=***): retry; see "
                           "https://hooks.slack.com/services/***/***/***.")
    assert clean("shortly") == "***ly", "a remembered secret is masked inside words too"


def test_a_short_remembered_secret_is_not_masked_in_free_text() -> None:
    remember("pw", "abc")
    assert clean("pwd abc") == "pwd abc", "shorter than MIN_KNOWN: would mask every word"
    assert clean("mongodb://u:pw@h/") == "mongodb://u:***@h/", "in a URL it still is"


def test_clean_names_exceptions_keeps_lines_on_request_and_limits_length() -> None:
    remember("Tr4ceback-secret")
    assert clean(OSError("refused Tr4ceback-secret")) == "OSError: refused ***"
    assert clean("a\n  Tr4ceback-secret\nb", keep_lines=True) == "a\n  ***\nb"
    assert clean("x" * 50, limit=10) == "x" * 9 + "…"


def test_clean_data_and_json_mask_every_string_and_keep_the_rest() -> None:
    remember("D4ta-secret")
    data = {"message": "said D4ta-secret", "n": 3, "nested": [{"url": "redis://:pw@r/0"}],
            "none": None}
    assert clean_data(data) == {"message": "said ***", "n": 3,
                                "nested": [{"url": "redis://:***@r/0"}], "none": None}
    assert "D4ta-secret" not in clean_json({"path": StringIO, "text": "D4ta-secret"})


def test_loaded_settings_register_their_secrets(tmp_path: object) -> None:
    load_settings({"MONGO_URI": "mongodb://u:Reg1stered-pw@h/?authMechanismProperties="
                                "AWS_SESSION_TOKEN:Sess10n-tok",
                   "ALERT_WEBHOOK_URL": "https://chat.example/hook/plainwebhookpath",
                   "OPS_API_TOKEN": "Api-t0ken-value", "SMTP_PASSWORD": "Smtp-pa55",
                   "API_HEALTH_URL": "http://api/health?token=Hea1th-tok"}, env_file=None)
    said = ("Reg1stered-pw Sess10n-tok /hook/plainwebhookpath Api-t0ken-value Smtp-pa55 "
            "Hea1th-tok")
    assert clean(said) == "*** *** *** *** *** ***"


@pytest.mark.parametrize(("name", "value"), [
    ("MONGO_URI", "mongodb://u:p@ss/S1ash-pw@127.0.0.1:1/db"),
    ("REDIS_URL", "redis://:p@ss/S1ash-pw@127.0.0.1:1/0"),
    ("ALERT_WEBHOOK_URL", "https://u:S1ash/pw@hooks.example.com/x"),
    ("API_HEALTH_URL", "http://u:S1ash/pw@127.0.0.1:1/health"),
])
def test_a_password_with_an_unencoded_slash_is_refused_without_showing_it(
        name: str, value: str) -> None:
    """Drivers read `u:p@ss/word@h` as host `ss` (shown in errors and pages), and urlsplit
    used to raise on the webhook's port with the password in a traceback."""
    with pytest.raises(SettingsError) as caught:
        load_settings({name: value}, env_file=None)
    assert "S1ash" not in str(caught.value) and "percent-encoded" in str(caught.value)


def test_the_log_filter_cleans_message_arguments_and_traceback() -> None:
    remember("L0g-secret")
    stream = StringIO()
    handler = logging.StreamHandler(stream)
    redaction.filter_logs([handler])
    log = logging.getLogger("test.redaction.filter")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("down: %s\nforged line", "L0g-secret at redis://:pw@r/0")
        try:
            raise ValueError("L0g-secret in a traceback")
        except ValueError:
            log.exception("failed %d", 1)
        log.warning("%s %s", "too few arguments")
    finally:
        log.removeHandler(handler)
    text = stream.getvalue()
    assert "L0g-secret" not in text and ":pw@" not in text
    assert "down: *** at redis://:***@r/0 forged line\n" in text
    assert "ValueError: *** in a traceback" in text and "Traceback" in text
    assert "too few arguments" in text


def test_setup_logging_routes_driver_warnings_through_the_filter() -> None:
    from ops.startup import setup_logging

    root = logging.getLogger()
    stream = StringIO()
    handler = logging.StreamHandler(stream)
    root.addHandler(handler)
    # An earlier test in this process (an AppTest run of the dashboard) may have turned
    # capturing on, and pytest's per-test warnings state turned it back off underneath:
    # start from logging's own "not capturing".
    logging.captureWarnings(False)
    try:
        setup_logging()
        remember("Warn1ng-secret")
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn("option value Warn1ng-secret is odd", UserWarning, stacklevel=1)
    finally:
        logging.captureWarnings(False)
        root.removeHandler(handler)
    assert "option value *** is odd" in stream.getvalue()
