"""`python -m ops silence`: start, list and end maintenance windows from a shell; a bad
duration or target is one line and exit status 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ops.alerts import silences
from ops.clock import now_ms
from ops.storage import Store

ROOT = Path(__file__).resolve().parents[1]


def ops(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ops", "silence", *args], cwd=ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=60)


def test_silence_start_list_end(env: dict[str, str]) -> None:
    made = ops(env, "2h", "redis")
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("silenced 1: redis until ")
    assert "nothing is sent, everything is recorded" in made.stdout
    store = Store(Path(env["OPS_DATA_DIR"]) / "ops.sqlite3")
    [silence] = silences.active(store, now_ms())
    assert silence.target == "redis" and silence.created_by.startswith("ops silence (")
    listed = ops(env)
    assert listed.returncode == 0 and listed.stdout.startswith("1: redis until ")
    ended = ops(env, "--end", "1")
    assert (ended.returncode, ended.stdout) == (0, "ended 1 silence(s)\n")
    assert ops(env).stdout == "no silence in force: alerts are sent\n"


def test_bad_duration_or_target_is_one_line(env: dict[str, str]) -> None:
    for args, said in ((("2 weeks",), "error: duration '2 weeks': expected minutes"),
                       (("2h", "nope"), "error: 'nope' is neither a rule nor a service")):
        answer = ops(env, *args)
        assert answer.returncode == 2 and answer.stdout == ""
        assert answer.stderr.startswith(said) and answer.stderr.count("\n") == 1
