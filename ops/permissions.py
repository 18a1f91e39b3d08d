"""Our files are for our user alone: backups hold every customer document, and the
history, the link-signing key and the lock files are no one else's business.

Two halves of one rule, called by every entry point before it writes anything:

- `keep_private()`: the process umask becomes 0o077, so whatever the process (or a
  library inside it: SQLite, gzip, filelock, streamlit) creates is 0600, and each
  directory 0700, whatever the umask of the shell or service manager that started it.
- `tighten(settings)`: what an older version created 0644/0755 loses its group and
  other bits at start: the data and backup directories and our own files in them.
  A symbolic link is never followed: one planted in either directory, named like our
  file, leaves its target as it was.

The two directories are taken as configured (a symlinked OPS_DATA_DIR is the admin's
choice, and everything is written through it anyway); nothing inside them is followed.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ops.config import Settings

log = logging.getLogger("ops.permissions")

PRIVATE_UMASK = 0o077
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
OTHERS = 0o077  # group and other bits: what tightening removes

# Our files, by directory: names or shell patterns. Anything else there is left alone.
DATA_FILES = ("ops.sqlite3", "ops.sqlite3-wal", "ops.sqlite3-shm", "ops.sqlite3-journal",
              ".download-key", "collector.lock", "collector.pid")
BACKUP_FILES = ("mongo-*.archive.gz", "mongo-*.archive.gz.json", "mongo-*.archive.gz.partial",
                ".backup.lock", ".manifest-*.tmp")


@dataclass(frozen=True)
class Tightened:
    """One path whose mode was changed: from `before` to `after` (permission bits)."""

    path: Path
    before: int
    after: int

    def __str__(self) -> str:
        return f"{self.path} {self.before:04o}->{self.after:04o}"


def keep_private() -> None:
    """From now on this process creates files 0600 and directories 0700."""
    os.umask(PRIVATE_UMASK)


def private_dir(path: Path) -> None:
    """Create `path` (and missing parents) owner-only, whatever the umask; an existing
    directory is left as it is (`tighten` deals with old ones)."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)


def make_private(path: Path | str, dir_fd: int | None = None) -> Tightened | None:
    """Remove group and other bits from one existing file or directory, never through a
    symbolic link; None when there was nothing to do (absent, a link, not a file or a
    directory, already private). Raises OSError when the change itself fails (not the
    owner, a read-only disk).

    The path is opened O_PATH, never for reading: closing any other descriptor of a file
    drops every POSIX lock this process holds on it, and SQLite's locks on ops.sqlite3
    and its -shm (held by other connections of this process) must survive."""
    try:
        fd = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    try:
        info = os.fstat(fd)  # of a link itself, when the path is one (O_NOFOLLOW)
        if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
            return None
        before = stat.S_IMODE(info.st_mode)
        if not before & OTHERS:
            return None
        _chmod_opened(fd, path, dir_fd, before & ~OTHERS)
        return Tightened(Path(path), before, before & ~OTHERS)
    finally:
        os.close(fd)


def _chmod_opened(fd: int, path: Path | str, dir_fd: int | None, mode: int) -> None:
    """chmod the file `fd` (O_PATH) refers to: through /proc/self/fd, which names that
    very file and not whatever the path names now; without /proc, by the path just
    checked not to be a link."""
    try:
        os.chmod(f"/proc/self/fd/{fd}", mode)
    except FileNotFoundError:  # no /proc mounted
        os.chmod(path, mode, dir_fd=dir_fd)


def _tighten_fd(fd: int, path: Path) -> Tightened | None:
    """The same for a directory opened for reading (no lock lives on a directory)."""
    info = os.fstat(fd)
    before = stat.S_IMODE(info.st_mode)
    if not before & OTHERS:
        return None
    os.fchmod(fd, before & ~OTHERS)
    return Tightened(path, before, before & ~OTHERS)


def _tighten_dir(directory: Path, patterns: tuple[str, ...]) -> tuple[list[Tightened],
                                                                       list[str]]:
    """The directory itself, then each of our files in it, opened by name relative to
    the open directory (so a directory swapped for a link half way is not followed)."""
    changed: list[Tightened] = []
    failed: list[str] = []
    try:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        return changed, failed
    except OSError as error:
        return changed, [f"{directory}: {error.strerror or error}"]
    try:
        targets = [(directory, None)] + [
            (directory / name, name) for name in sorted(os.listdir(dir_fd))
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)]
        for path, name in targets:
            try:
                done = _tighten_fd(dir_fd, path) if name is None else \
                    make_private(name, dir_fd)
            except OSError as error:
                failed.append(f"{path}: {error.strerror or error}")
                continue
            if done is not None:
                changed.append(Tightened(path, done.before, done.after))
    finally:
        os.close(dir_fd)
    return changed, failed


def tighten(settings: Settings, quiet: bool = False) -> list[Tightened]:
    """Take group and other access away from the data and backup directories and our
    files in them; returns what was changed. One log line says what changed (and one what
    could not be), at INFO and WARNING, or DEBUG when `quiet` (a command whose stderr is
    its answer)."""
    data, backups = settings.ops_data_dir, settings.backup_dir
    if os.path.abspath(data) == os.path.abspath(backups):
        changed, failed = _tighten_dir(data, DATA_FILES + BACKUP_FILES)
    else:
        changed, failed = _tighten_dir(data, DATA_FILES)
        more, also = _tighten_dir(backups, BACKUP_FILES)
        changed, failed = changed + more, failed + also
    if changed:
        log.log(logging.DEBUG if quiet else logging.INFO,
                "made %d paths an older version left readable by other users private: %s",
                len(changed), ", ".join(str(c) for c in changed))
    if failed:
        log.log(logging.DEBUG if quiet else logging.WARNING,
                "could not make private: %s", "; ".join(failed))
    return changed
