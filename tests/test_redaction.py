"""Secrets out of URLs and driver messages, for every spelling a real setting can have;
errors on one line."""

from __future__ import annotations

import pytest

from ops.backup import errors as backup_errors
from ops.redaction import MASK, one_line, redact, scrub, split_userinfo, url_secrets

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
     ["AWS_SESSION_TOKEN:abc"]),
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
    assert split_userinfo("http://h/users/@me") == ("http://", "h/users/", "me"), \
        "an @ in a path reads as user info: shown redacted rather than leaked"


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
