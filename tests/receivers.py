"""Real receivers for alert notifications, on 127.0.0.1: an HTTP server that records
every request (JSON, form or any body; plain or TLS with a throw-away certificate) and an
SMTP server (aiosmtpd) with AUTH and STARTTLS."""

from __future__ import annotations

import email
import json
import ssl
import subprocess
import threading
import time
from email import policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.servers import free_port


class Request:
    def __init__(self, method: str, path: str, headers: dict[str, str], raw: bytes,
                 status: int) -> None:
        self.method, self.path, self.headers, self.raw, self.status = \
            method, path, headers, raw, status

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.raw or b"null")

    def form(self) -> dict[str, str]:
        return {key: values[-1] for key, values in parse_qs(self.text).items()}


class HttpReceiver:
    """Records every request and answers `status`; stop() closes the port (a channel
    down) and start() opens it again on the same port. `tls` serves HTTPS with a
    self-signed certificate (Apprise is told `verify=no`)."""

    def __init__(self, tls_files: tuple[Path, Path] | None = None) -> None:
        self.port = free_port()
        self.status = 200
        self.reply = b'{"ok": true}'  # Slack's webhooks answer plain `ok`
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.tls_files = tls_files
        self.server: ThreadingHTTPServer | None = None

    @property
    def delivered(self) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if 200 <= r.status < 300]

    def start(self) -> HttpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status = receiver.status
                with receiver.lock:
                    receiver.requests.append(Request(self.command, self.path,
                                                     dict(self.headers.items()), raw, status))
                reply = receiver.reply if status < 300 else \
                    f'{{"error": "no hook at {self.path}"}}'.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_POST = do_PUT = do_GET = _answer  # noqa: N815 (http.server's names)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        if self.tls_files is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*self.tls_files)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self.server = server
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def wait_for(self, count: int, timeout: float = 30) -> list[Request]:
        deadline = time.monotonic() + timeout
        while len(self.delivered) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.delivered


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (cert.pem, key.pem), made with openssl."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


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
        if self.echo_password:  # a careless server repeats what it was given
            return AuthResult(success=False, handled=False,
                              message=f"535 5.7.8 {login} with password {password} refused")
        return AuthResult(success=False, handled=False)


def smtp_server(mailbox: Mailbox, **options: Any) -> Controller:
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    return controller
