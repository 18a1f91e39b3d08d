"""Hostile connection strings and webhook URLs against every output.

Each case runs the real program (`python -m ops up`: collector and dashboard) with secrets
in the places they hide beyond `user:pass@`: MongoDB's AWS session token and TLS key
password, a Redis password in the query or with a raw `@`, a token under a harmless
query name, webhook tokens in the path of Slack and Discord, a Telegram bot token in a
health URL, the API token, SMTP and admin passwords. MongoDB and Redis refuse (closed
ports), a backup is requested and fails, alerts fire and are sent to a real HTTP receiver
(webhook hosts reach it as an HTTP proxy; its first answer is a 404 that echoes the URL,
token and all) and a real SMTP server (which, in one case, refuses the login and echoes
the password). Then no secret, in any spelling (as written, %-decoded, %-encoded,
base64, or any 6-character piece of it), may appear in: the program's log, `python -m ops
backup` and `status` output, the bytes of every file of the data directory (SQLite, its
WAL, backups and manifests), the JSON endpoints and /metrics, every page as AppTest
renders it, and the webhook and e-mail bodies received.
"""

from __future__ import annotations

import base64
import http.client
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote

import pytest
from streamlit.testing.v1 import AppTest

from ops.config import SETTINGS
from tests.browser_support import OpsUp
from tests.receivers import HttpReceiver, Mailbox, smtp_server
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["pages/overview.py", "pages/history.py", "pages/backups.py", "pages/cache.py",
         "pages/database.py", "pages/alerts.py"]
ENDPOINTS = ("/api/monitoring/health/detailed", "/api/monitoring/metrics",
             "/api/monitoring/dashboard", "/api/monitoring/cache/stats", "/metrics")
WAIT_S = 120  # a deadline for what the program must reach, never an assertion on time


@dataclass
class Case:
    """Settings with `{mongo}`, `{redis}`, `{closed}` for refusing ports; the secrets they
    hold, as a user writes them in the setting."""

    name: str
    settings: dict[str, str]
    secrets: list[str]
    smtp_refuses: bool = False
    extra: dict[str, str] = field(default_factory=dict)


CASES = [
    Case("aws-token-tls-key-redis-query-slack", {
        "MONGO_URI": "mongodb://AKIAQ7EXAMPLE:Aw5pwd%2FKx8sec%40Lm3end@127.0.0.1:{mongo}/"
                     "?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:"
                     "Ss7tok%2BQw2tok%2FZx9tok&tlsCertificateKeyFilePassword=Tl4key-Pw6key",
        "REDIS_URL": "redis://127.0.0.1:{redis}/0?password=Rq3pwd-Yy8pwd",
        # json: Apprise's Slack and Discord senders go to https only, which the test's
        # receiver cannot take as a proxy; the token paths are redacted all the same.
        "ALERT_WEBHOOK_URL": "http://hooks.slack.com/services/T0Sl4ckA/B0Sl4ckB/Sk5tok9Hh3tok",
        "ALERT_WEBHOOK_FORMAT": "json",
        "API_HEALTH_URL": "http://apiuser:Hp2pwd-Uu5pwd@127.0.0.1:{closed}/health"
                          "?token=Ht6tok-Jj1tok",
        "OPS_API_TOKEN": "At4tok-Nn7tok",
        "SMTP_USER": "alerts", "SMTP_PASSWORD": "Sm8pwd!Cc2pwd",
    }, ["Aw5pwd%2FKx8sec%40Lm3end", "Ss7tok%2BQw2tok%2FZx9tok", "Tl4key-Pw6key",
        "Rq3pwd-Yy8pwd", "T0Sl4ckA", "B0Sl4ckB", "Sk5tok9Hh3tok", "Hp2pwd-Uu5pwd",
        "Ht6tok-Jj1tok", "At4tok-Nn7tok", "Sm8pwd!Cc2pwd"]),
    Case("raw-at-value-token-discord-telegram-smtp-echo", {
        "MONGO_URI": "mongodb://backup:Rw1pwd%40Gg4pwd%3AVv6pwd@127.0.0.1:{mongo}/app"
                     "?authSource=admin&appName=AWS_SESSION_TOKEN:Ap3tok-Bb5tok",
        "REDIS_URL": "redis://:Rr2pwd@Kk7pwd@127.0.0.1:{redis}/0",
        "ALERT_WEBHOOK_URL": "http://discord.com/api/webhooks/99887766554433/Dt3tok-Ff8tok"
                             "?wait=true",
        "ALERT_WEBHOOK_FORMAT": "json",
        "API_HEALTH_URL": "http://api.telegram.org/bot123456789:Tg5tok-Xq8tok/getMe",
        "OPS_ADMIN_PASSWORD": "Ad6pwd-Mm3pwd",
        "SMTP_USER": "alerts", "SMTP_PASSWORD": "Se9pwd-Ww4pwd",
    }, ["Rw1pwd%40Gg4pwd%3AVv6pwd", "Ap3tok-Bb5tok", "Rr2pwd@Kk7pwd", "99887766554433",
        "Dt3tok-Ff8tok", "123456789:Tg5tok-Xq8tok", "Ad6pwd-Mm3pwd", "Se9pwd-Ww4pwd"],
        smtp_refuses=True),
]


def spellings(secret: str) -> set[str]:
    """Every way a secret may be written out, and each 6-character piece of it with a
    letter and a digit (the secrets here have both in every 6 characters; no word or
    number of the program's own text does)."""
    plain = unquote(secret)
    whole = {secret, plain, quote(plain, safe=""), quote_plus(plain),
             base64.b64encode(plain.encode()).decode()}
    pieces = {plain[i:i + 6] for i in range(len(plain) - 5)}
    return whole | {piece for piece in pieces
                    if re.search(r"[A-Za-z]", piece) and re.search(r"\d", piece)}


def leaks(text: str | bytes, secrets: list[str]) -> list[str]:
    found = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return sorted({s for secret in secrets for s in spellings(secret) if s in found})


def wait_for(what: str, done: Callable[[], bool], ops: OpsUp) -> None:
    deadline = time.monotonic() + WAIT_S
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached:\n{ops.log_text()[-3000:]}")
        if ops.proc.poll() is not None:
            raise RuntimeError(f"ops up exited:\n{ops.log_text()[-3000:]}")
        time.sleep(0.2)


def get(port: int, path: str, token: str | None) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        assert response.status in (200, 503), (path, response.status, body[:300])
        return body
    finally:
        conn.close()


def run_program(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", "ops", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    return done.stdout + done.stderr


def rendered(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> dict[str, bytes]:
    """Every page rendered by AppTest: each element's protobuf (texts, tables as Arrow,
    charts as JSON, an exception's message), as bytes. Whether a page renders without
    an exception is tests/test_pages.py's to judge; here what it shows is searched."""
    for setting in SETTINGS:
        monkeypatch.delenv(setting.name, raising=False)
    for name, value in env.items():
        if name != "OPS_ADMIN_PASSWORD":  # AppTest renders the pages, not the login
            monkeypatch.setenv(name, value)
    monkeypatch.chdir(ROOT)
    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    app.run()
    pages = {}
    for page in PAGES:
        app.switch_page(page)
        app.run()
        nodes = [*app.main, *app.sidebar]
        pages[page] = b"".join(node.proto.SerializeToString() for node in nodes
                               if getattr(node, "proto", None) is not None)
    return pages


def queued(ops: OpsUp, channel: str, rules: set[str], sent: bool) -> bool:
    """Every alert of `rules` fired and its message on `channel` was sent (or, when not
    `sent`, tried and refused)."""
    rows = ops.query("SELECT a.rule, n.status, n.attempts, n.last_error FROM alerts AS a "
                     "JOIN notifications AS n ON n.alert_id = a.id "
                     "WHERE n.channel = ? AND n.event = 'firing'", channel)
    done = {rule for rule, status, attempts, error in rows
            if (status == "sent" if sent else attempts >= 1 and error)}
    return rules <= done


@pytest.fixture
def program(request: pytest.FixtureRequest, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    case: Case = request.param
    receiver = HttpReceiver()
    receiver.status = 404  # the first answer echoes the URL it was called at
    receiver.start()
    mailbox = Mailbox(accept_login=not case.smtp_refuses, echo_password=case.smtp_refuses)
    smtp = smtp_server(mailbox, authenticator=mailbox.authenticate, auth_require_tls=False)
    ports = {"mongo": free_port(), "redis": free_port(), "closed": free_port()}
    settings = {name: value.format(**ports) for name, value in case.settings.items()}
    env = {"OPS_DATA_DIR": str(tmp_path / "data"), "SAMPLE_INTERVAL_SECONDS": "1",
           "ENABLE_AUTO_BACKUP": "false", "SMTP_HOST": "127.0.0.1",
           "SMTP_PORT": str(smtp.port), "SMTP_STARTTLS": "false",
           "ALERT_EMAIL_FROM": "ops@example.com", "ALERT_EMAIL_TO": "oncall@example.com",
           **settings}
    # Webhook and health hosts reach the receiver as a proxy; loopback goes direct.
    proxy = {"http_proxy": f"http://127.0.0.1:{receiver.port}", "no_proxy": "127.0.0.1"}
    ops = OpsUp({**env, **proxy}, tmp_path / "ops-up.log")
    outputs: dict[str, Any] = {}
    try:
        ops.wait_healthy()
        base = {k: v for k, v in os.environ.items() if k not in {s.name for s in SETTINGS}}
        outputs["ops backup"] = run_program(["backup"], {**base, **env})
        rules = {"backup_failed", "service_down"}
        wait_for("a failed backup", lambda: bool(ops.query(
            "SELECT 1 FROM jobs WHERE kind = 'backup' AND status = 'failed'")), ops)
        wait_for("the first webhook answered 404", lambda: bool(receiver.requests), ops)
        receiver.status = 200
        wait_for("webhook messages sent", lambda: queued(ops, "webhook", rules, True), ops)
        wait_for("e-mails tried", lambda: queued(ops, "email", rules,
                                                 not case.smtp_refuses), ops)
        token = settings.get("OPS_API_TOKEN")
        for path in ENDPOINTS:
            outputs[f"GET {path}"] = get(ops.port, path, token)
        outputs["ops status"] = run_program(["status"], {**base, **env})
    finally:
        ops.stop()
        smtp.stop()
        receiver.stop()
    outputs["log of ops up"] = ops.log_text()
    for path in sorted((tmp_path / "data").rglob("*")):
        if path.is_file():
            outputs[f"file {path.relative_to(tmp_path)}"] = path.read_bytes()
    for index, request in enumerate(receiver.requests):
        outputs[f"webhook body {index}"] = request.text
    for index, (_, _, message, _) in enumerate(mailbox.messages):
        outputs[f"e-mail {index}"] = message.as_bytes()
    for page, data in rendered(monkeypatch, env).items():
        outputs[f"page {page}"] = data
    outputs["_receiver"], outputs["_mailbox"] = receiver, mailbox
    yield {"case": case, "outputs": outputs}


@pytest.mark.parametrize("program", CASES, ids=[case.name for case in CASES], indirect=True)
def test_no_secret_reaches_any_output(program: dict[str, Any]) -> None:
    case: Case = program["case"]
    outputs: dict[str, Any] = program["outputs"]
    receiver: HttpReceiver = outputs.pop("_receiver")
    mailbox: Mailbox = outputs.pop("_mailbox")
    # The program did what the outputs are about: the backup failed (its error, with the
    # URI in it, was stored, sent and shown), alerts fired and were sent or refused.
    failure = "the last backup failed: MongoDB unreachable"
    assert "backup job 1 failed" in outputs["log of ops up"]
    assert any(failure.encode() in data for name, data in outputs.items()
               if name.startswith("file data/ops.sqlite3"))
    assert failure.encode() in outputs["GET /api/monitoring/health/detailed"]
    assert any(failure in body for name, body in outputs.items()
               if name.startswith("webhook body"))
    assert receiver.requests[0].status == 404, "the receiver echoed the token path once"
    if case.smtp_refuses:
        assert mailbox.logins and not mailbox.messages
        assert "535" in outputs["log of ops up"]
    else:
        assert any(failure.encode() in data for name, data in outputs.items()
                   if name.startswith("e-mail"))
    assert len([name for name in outputs if name.startswith("page ")]) == len(PAGES)
    found = {name: leaked for name, text in outputs.items()
             if (leaked := leaks(text, case.secrets))}
    assert not found, found
