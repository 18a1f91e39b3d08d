"""Attacks on the way in, against a real dashboard server (`streamlit run`, uvicorn):
parallel password guessing, forged, expired and logged-out session cookies, the websocket
opened without a login, pages served beyond loopback without a password, framing and
sniffing, and unknown API paths."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.config import load_settings
from ops.storage import Store
from ops.web.sessions import COOKIE, new_session, valid_session
from tests.dashboard_server import Answer, Dashboard

PASSWORD = "c0rrect h0rse"
GUESSERS = 40


@pytest.fixture
def start(tmp_path: Path) -> Iterator[type[Dashboard]]:
    started: list[Dashboard] = []

    def starting(env: dict[str, str], *flags: str, address: str = "127.0.0.1") -> Dashboard:
        server = Dashboard({"OPS_DATA_DIR": str(tmp_path / "data"), **env}, tmp_path, *flags,
                           address=address)
        started.append(server)
        return server

    yield starting  # type: ignore[misc]
    for server in started:
        server.stop()


def test_parallel_guesses_get_a_few_checks_and_the_admin_elsewhere_gets_in(start) -> None:
    server = start({"OPS_ADMIN_PASSWORD": PASSWORD})
    barrier = threading.Barrier(GUESSERS)
    answers: list[Answer] = []

    def guess(i: int) -> None:
        barrier.wait()
        answers.append(server.log_in(f"guess {i}"))

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(GUESSERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    counted = Counter(answer.status for answer in answers)
    assert sum(counted.values()) == GUESSERS
    assert set(counted) <= {401, 429}, counted
    assert 1 <= counted[401] <= 6, f"{counted[401]} passwords checked out of {GUESSERS}"
    refused = next(answer for answer in answers if answer.status == 429)
    assert b"Too many wrong passwords from 127.0.0.1: try again in" in refused.body
    assert all(answer.cookie() is None for answer in answers)
    # The admin at another address is not held up by the attacker's failures.
    admin = server.log_in(PASSWORD, source="127.0.0.2", next_path="/history")
    assert admin.status == 303, admin.body[:300]
    assert admin.headers["location"] == "/history" and admin.cookie()


def test_a_session_survives_new_connections_and_ends_at_log_out(start, tmp_path: Path) -> None:
    server = start({"OPS_ADMIN_PASSWORD": PASSWORD, "OPS_SESSION_HOURS": "3"})
    # A bookmarked page before login: to the form, and back to the page after it.
    first = server.request("GET", "/history?range=7d")
    assert first.status == 303
    assert first.headers["location"] == "/login?next=%2Fhistory%3Frange%3D7d"
    form = server.request("GET", first.headers["location"])
    assert form.status == 200 and b'name="next" value="/history?range=7d"' in form.body
    assert server.websocket_status() == 403, "no app for a client without a session"
    wrong = server.log_in("nope")
    assert wrong.status == 401 and wrong.cookie() is None and b"Wrong password" in wrong.body

    answer = server.log_in(PASSWORD, next_path="/history?range=7d")
    assert answer.status == 303 and answer.headers["location"] == "/history?range=7d"
    set_cookie = next(h for h in answer.headers.get_all("set-cookie") or [] if h.startswith(COOKIE))
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
    assert f"Max-Age={3 * 3600}" in set_cookie and "Path=/" in set_cookie
    assert "Secure" not in set_cookie, "plain HTTP here"
    cookie = answer.cookie()
    assert cookie is not None
    # Every new connection (reload, new tab, bookmark) with the cookie gets the app.
    for path in ("/", "/history", "/backups"):
        assert server.request("GET", path, cookie=cookie).status == 200
    assert server.websocket_status(cookie) == 101
    behind_https = server.request(
        "POST", "/login", {"password": PASSWORD, "next": "/"},
        headers={"X-Forwarded-Proto": "https"}, source="127.0.0.3")
    assert "; Secure" in (behind_https.headers["set-cookie"] or "")

    # Forged cookies: another signature, a later expiry with the old signature, junk.
    session_id, expires, signature = cookie.split(".")
    for forged in (f"{session_id}.{expires}.{'0' * len(signature)}",
                   f"{session_id}.{int(expires) + 3600}.{signature}",
                   f"other.{expires}.{signature}", "junk", ""):
        assert server.request("GET", "/history", cookie=forged).status == 303, forged
        assert server.websocket_status(forged) == 403, forged
    # A correctly signed cookie whose time is up.
    settings = load_settings({"OPS_DATA_DIR": str(tmp_path / "data"),
                              "OPS_ADMIN_PASSWORD": PASSWORD}, env_file=None)
    _, expired = new_session(settings, now=time.time() - 13 * 3600)
    assert server.request("GET", "/", cookie=expired).status == 303

    # Log out: the cookie is cleared, and a copy of it no longer works anywhere.
    out = server.request("GET", "/logout", cookie=cookie)
    assert out.status == 303 and out.headers["location"] == "/login"
    assert f"{COOKIE}=;" in out.headers["set-cookie"] and "Max-Age=0" in out.headers["set-cookie"]
    assert server.request("GET", "/history", cookie=cookie).status == 303
    assert server.websocket_status(cookie) == 403


def test_a_password_change_ends_every_session(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    before = load_settings({"OPS_DATA_DIR": data, "OPS_ADMIN_PASSWORD": "old one"},
                           env_file=None)
    after = load_settings({"OPS_DATA_DIR": data, "OPS_ADMIN_PASSWORD": "new one"},
                          env_file=None)
    store = Store(before.database_path)
    _, cookie = new_session(before)
    assert valid_session(before, store, cookie) is not None
    assert valid_session(after, store, cookie) is None
    store.close()


def test_login_form_posted_from_another_site_is_refused(start) -> None:
    server = start({"OPS_ADMIN_PASSWORD": PASSWORD})
    answer = server.request("POST", "/login", {"password": PASSWORD, "next": "/"},
                            headers={"Origin": "http://evil.example"})
    assert answer.status == 403 and answer.cookie() is None
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        answer = server.log_in(PASSWORD, next_path=target)
        assert answer.status == 303 and answer.headers["location"] == "/", target


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_no_pages_beyond_loopback_without_a_password(start, how: str) -> None:
    """However the server is told to listen on every interface, without a password it
    shows no page and runs no app; the health endpoint still answers."""
    if how == "flag":
        server = start({}, address="0.0.0.0")
    else:
        server = start({"STREAMLIT_SERVER_ADDRESS": "0.0.0.0"}, address="")
    page = server.request("GET", "/")
    assert page.status == 403
    assert b"without a password: set OPS_ADMIN_PASSWORD" in page.body
    assert server.request("GET", "/backups").status == 403
    assert server.websocket_status() == 403
    assert server.request("GET", "/api/monitoring/health/detailed").status in (200, 503)


def test_open_beyond_loopback_only_when_told_so(start) -> None:
    server = start({"OPS_ALLOW_NO_PASSWORD": "true"}, address="0.0.0.0")
    assert server.request("GET", "/").status == 200
    assert server.websocket_status() == 101


def test_loopback_without_password_is_open(start) -> None:
    server = start({})
    assert server.request("GET", "/").status == 200
    assert server.websocket_status() == 101
    assert server.request("GET", "/login").status == 303, "no password: nothing to log into"


def test_headers_and_unknown_api_paths(start) -> None:
    server = start({"OPS_ADMIN_PASSWORD": PASSWORD})
    cookie = server.log_in(PASSWORD).cookie()
    for path, kwargs in (("/", {"cookie": cookie}), ("/login", {}),
                         ("/api/monitoring/dashboard", {}), ("/metrics", {})):
        answer = server.request("GET", path, **kwargs)  # type: ignore[arg-type]
        assert answer.headers["x-frame-options"] == "DENY", path
        assert answer.headers["content-security-policy"] == "frame-ancestors 'none'", path
        assert answer.headers["x-content-type-options"] == "nosniff", path
        assert answer.headers["cache-control"] == "no-store", path
    for method in ("GET", "POST"):
        answer = server.request(method, "/api/monitoring/nope", {} if method == "POST" else None)
        assert answer.status == 404, method
        assert answer.headers["content-type"] == "application/json"
        assert b'"error"' in answer.body and b"<html" not in answer.body
