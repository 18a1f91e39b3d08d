"""One collector per data directory: a second one would write its own samples (say,
host-only, from a shell without the settings) into the live history.

The first collector holds an exclusive lock on `collector.lock` for its whole life (the
kernel drops it when the process dies, even by SIGKILL) and writes its pid beside it,
so the second can say whom it found.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

from filelock import FileLock, Timeout

from ops.permissions import PRIVATE_FILE

log = logging.getLogger("collector.single")

LOCK_NAME = "collector.lock"
PID_NAME = "collector.pid"


class AlreadyRunningError(RuntimeError):
    """Another collector holds the data directory."""


def claim(data_dir: Path) -> FileLock:
    """Hold the data directory for this process; AlreadyRunningError names the holder."""
    lock = FileLock(data_dir / LOCK_NAME, mode=PRIVATE_FILE, thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise AlreadyRunningError(f"another collector ({_holder(data_dir)}) is already sampling "
                             f"into {data_dir}: stop it first, or give this one its own "
                             "OPS_DATA_DIR") from None
    try:
        _write_pid(data_dir)
    except OSError as error:  # a full disk: the lock holds all the same; only the name
        log.warning("cannot write %s: %s", data_dir / PID_NAME, error.strerror or error)
    return lock


def _write_pid(data_dir: Path) -> None:
    """Owner-only, and never written through a link planted under its name."""
    fd = os.open(data_dir / PID_NAME, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
                 | os.O_CLOEXEC, PRIVATE_FILE)
    os.fchmod(fd, PRIVATE_FILE)  # one an older version left 0644
    with os.fdopen(fd, "w") as pid_file:
        pid_file.write(f"{os.getpid()} {socket.gethostname()}\n")


def _holder(data_dir: Path) -> str:
    try:
        pid, _, host = (data_dir / PID_NAME).read_text().strip().partition(" ")
    except OSError:
        return "pid unknown"
    return f"pid {pid} on {host}" if host else f"pid {pid}"
