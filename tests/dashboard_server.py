"""A dashboard server started as admins start it (`streamlit run streamlit_app.py`), and
HTTP and websocket requests to it from a chosen client address, for the attack tests."""

from __future__ import annotations

import base64
import http.client
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from ops.config import SETTINGS
from ops.web.sessions import COOKIE
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def cookie(self) -> str | None:
        for header in self.headers.get_all("set-cookie") or []:
            name, _, rest = header.partition("=")
            if name == COOKIE:
                return rest.split(";", 1)[0]
        return None


class Dashboard:
    """`streamlit run streamlit_app.py` with only the given settings and flags."""

    def __init__(self, env: dict[str, str], log_dir: Path, *flags: str,
                 address: str = "127.0.0.1") -> None:
        self.port = free_port()
        ours = {s.name for s in SETTINGS}
        base = {k: v for k, v in os.environ.items()
                if k not in ours and not k.startswith("STREAMLIT_")}
        self.log = open(log_dir / f"dashboard-{self.port}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
             "--server.port", str(self.port), "--server.headless", "true",
             *(("--server.address", address) if address else ()), *flags],
            cwd=ROOT, env={**base, **env}, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, f"dashboard exited with {self.proc.returncode}"
            try:
                if self.request("GET", "/_stcore/health").status == 200:
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def request(self, method: str, path: str, body: dict[str, str] | None = None,
                cookie: str | None = None, source: str = "127.0.0.1",
                headers: dict[str, str] | None = None) -> Answer:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60,
                                          source_address=(source, 0))
        sent = dict(headers or {})
        if cookie is not None:
            sent["Cookie"] = f"{COOKIE}={cookie}"
        data = None
        if body is not None:
            data = urlencode(body)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            return Answer(response.status, response.headers, response.read())
        finally:
            conn.close()

    def log_in(self, password: str, source: str = "127.0.0.1", next_path: str = "/") -> Answer:
        return self.request("POST", "/login", {"password": password, "next": next_path},
                            source=source)

    def websocket_status(self, cookie: str | None = None) -> int:
        """The HTTP status of a websocket handshake on Streamlit's stream: 101 accepted."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
            key = base64.b64encode(os.urandom(16)).decode()
            lines = ["GET /_stcore/stream HTTP/1.1", f"Host: 127.0.0.1:{self.port}",
                     "Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
                     "Sec-WebSocket-Version: 13", "Sec-WebSocket-Protocol: streamlit",
                     f"Origin: http://127.0.0.1:{self.port}"]
            if cookie is not None:
                lines.append(f"Cookie: {COOKIE}={cookie}")
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            status_line = sock.recv(4096).split(b"\r\n", 1)[0]
            return int(status_line.split()[1])

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
