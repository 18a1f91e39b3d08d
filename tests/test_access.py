"""Access: the login throttle, signed download links, no open dashboard without a password."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ops.config import Secret, load_settings
from ops.web.auth import LoginThrottle, password_matches
from ops.web.downloads import check_link, signed_link, signing_key

ROOT = Path(__file__).resolve().parents[1]


def test_password_compare() -> None:
    assert password_matches("s3cret", Secret("s3cret"))
    assert not password_matches("s3cre", Secret("s3cret"))
    assert not password_matches("", Secret("s3cret"))


def test_password_checks_take_slots_per_address_and_the_window_forgets() -> None:
    now = [0.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    # Five guesses at once from one address: slots 0.5, 1, 2, 4 s apart; the sixth would
    # wait more than 10 s and is refused unchecked.
    waits = [throttle.reserve("10.0.0.9") for _ in range(6)]
    assert waits == [0.0, 0.5, 1.5, 3.5, 7.5, None]
    assert throttle.reserve("10.0.0.1") == 0.0, "another address has its own slots"
    throttle.done("10.0.0.1", ok=True)
    for _ in range(5):
        throttle.done("10.0.0.9", ok=False)
    now[0] = 20.0  # every slot has passed; with five failures slots are 10 s apart (the cap)
    assert throttle.reserve("10.0.0.9") == 0.0
    throttle.done("10.0.0.9", ok=False)
    assert throttle.reserve("10.0.0.9") == 10.0
    assert throttle.reserve("10.0.0.9") is None
    assert throttle.retry_after("10.0.0.9") == 10.0
    throttle.done("10.0.0.9", ok=False)
    now[0] += 16 * 60
    assert throttle.reserve("10.0.0.9") == 0.0, "failures older than 15 minutes are forgotten"
    throttle.done("10.0.0.9", ok=True)
    assert throttle.reserve("10.0.0.9") == 0.5, "a success forgets them: one slot ahead"


def test_signed_links_expire_and_cannot_be_forged(tmp_path: Path) -> None:
    settings = load_settings({"OPS_DATA_DIR": str(tmp_path)}, env_file=None)
    link = signed_link(settings, "mongo-20261127T030000Z", now=1000.0, seconds=300)
    path, query = link.split("?")
    assert path == "/api/backups/mongo-20261127T030000Z/download"
    params = dict(part.split("=") for part in query.split("&"))
    assert params["expires"] == "1300"
    good = ("mongo-20261127T030000Z", params["expires"], params["signature"])
    assert check_link(settings, *good, now=1299) is None
    assert check_link(settings, *good, now=1301) == ("link expired: make a new one on the "
                                                      "Backups page")
    assert check_link(settings, "mongo-20261127T030001Z", *good[1:], now=1000) == "bad signature"
    assert check_link(settings, good[0], "99999", good[2], now=1000) == "bad signature"
    assert check_link(settings, "../../etc/passwd", *good[1:], now=1000) == "not a backup link"
    key_file = tmp_path / ".download-key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert signing_key(tmp_path) == key_file.read_bytes()


def test_up_refuses_a_public_address_without_password(tmp_path: Path) -> None:
    env = {**os.environ, "OPS_DATA_DIR": str(tmp_path)}
    env.pop("OPS_ADMIN_PASSWORD", None)
    result = subprocess.run([sys.executable, "-m", "ops", "up", "--address", "0.0.0.0"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "without a password: set OPS_ADMIN_PASSWORD" in result.stderr
