"""Real servers for tests and benchmarks: redis-server, a MongoDB wire server, HTTP.

Each server runs on a free loopback port in its own directory and can be stopped
and started again on the same port, so tests can cause real outages.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def wait_until(condition: Callable[[], Any], what: str, timeout: float = 120) -> Any:
    """The first true value of `condition()`, polled; AssertionError naming `what` after
    `timeout` seconds (a bound for a hung run, not a speed requirement)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} ({timeout} s)")


def terminate(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL after 10 s, when the process still runs."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class _Process:
    """A server process that can be stopped and restarted on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.workdir / "server.out", "ab") as log:
            self.proc = subprocess.Popen(self.command(), cwd=self.workdir, stdout=log,
                                         stderr=log)
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc)
        self.proc = None


class RedisServer(_Process):
    def command(self) -> list[str]:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        return [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.workdir)]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


class MongoStandIn(_Process):
    """nx-27017, a MongoDB wire-protocol server on SQLite (the stand-in for mongod)."""

    is_stand_in = True

    def command(self) -> list[str]:
        binary = Path(sys.executable).with_name("nx-27017")
        return [str(binary), "--data-dir", str(self.workdir / "db"), "-p", str(self.port),
                "--host", "127.0.0.1", "--pid-file", str(self.workdir / "nx.pid"),
                "--log-file", str(self.workdir / "nx.log")]

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"


class ExternalMongo:
    """A real mongod given by TEST_MONGO_URI; it cannot be stopped by the tests."""

    is_stand_in = False

    def __init__(self, uri: str) -> None:
        self.uri = uri

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


def mongo_server(workdir: Path) -> MongoStandIn | ExternalMongo:
    uri = os.environ.get("TEST_MONGO_URI")
    return ExternalMongo(uri) if uri else MongoStandIn(workdir)


class HealthServer:
    """An HTTP health endpoint whose answer the test sets: status, body, delay."""

    def __init__(self) -> None:
        self.status = 200
        self.body: object = {"status": "OK", "version": "1.0.0"}
        self.delay = 0.0
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                time.sleep(outer.delay)
                payload = outer.body if isinstance(outer.body, str) else json.dumps(outer.body)
                data = payload.encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
