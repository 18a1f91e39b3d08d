"""The collector started on a disk that is already full (a restart after the disk filled
up): it says so once, leaves the history as it was, and starts sampling by itself when
space returns - it does not call a good history unreadable, nor exit into a restart loop.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ops.clock import now_ms
from ops.config import SETTINGS
from ops.storage import Store
from tests.conftest import fill_up
from tests.servers import wait_until

ROOT = Path(__file__).resolve().parents[1]


def sample_count(path: Path) -> int:
    store = Store(path)
    try:
        return store.sample_count()
    finally:
        store.close()


def start_collector(data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    ours = {s.name for s in SETTINGS}
    env = {**{k: v for k, v in os.environ.items() if k not in ours},
           "OPS_DATA_DIR": str(data_dir), "SAMPLE_INTERVAL_SECONDS": "1",
           "ENABLE_AUTO_BACKUP": "false"}
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "collector"], cwd=ROOT, env=env,
                                stdout=out, stderr=out)


@pytest.mark.parametrize("history", ["existing", "none yet"])
def test_start_on_a_full_disk_waits_for_space(small_disk: Path, tmp_path: Path,
                                              history: str) -> None:
    path = small_disk / "ops.sqlite3"
    if history == "existing":
        store = Store(path)
        store.ensure_columns(["host_cpu_pct"])
        for i in range(3):
            store.append_sample(now_ms() - 10_000 + i * 1000, {"dt_s": 1.0, "host_cpu_pct": 5.0})
        store.checkpoint()
        store.close()
    before = path.read_bytes() if path.exists() else None
    filler = fill_up(small_disk)
    log = tmp_path / "collector.log"
    collector = start_collector(small_disk, log)
    try:
        wait_until(lambda: "sampling starts when there is space" in log.read_text(),
                   "told the disk is full")
        said = log.read_text()
        assert "its disk is full" in said and str(path) in said
        assert "not a readable SQLite file" not in said and "Traceback" not in said
        time.sleep(2)  # a few intervals on the full disk: still waiting, nothing changed
        assert collector.poll() is None, said
        assert said.count("its disk is full") == 1, "said once"
        # unchanged (with none yet, SQLite may leave an empty file: a new history to be)
        assert (path.read_bytes() if path.exists() else b"") == (before or b"")

        filler.unlink()
        wait_until(lambda: path.exists() and sample_count(path) >= (3 if before else 0) + 2,
                   "sampling after space returned")
    finally:
        collector.terminate()
        collector.wait(20)
    assert collector.returncode == 0, log.read_text()
