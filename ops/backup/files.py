"""Backup files are read only when they are regular files, never through a link.

Anyone who can put a file in BACKUP_DIR could plant a symbolic link named like a backup
(`mongo-20261127T030000Z.archive.gz -> /etc/shadow`); followed, it would be listed,
hashed, restored or served by a signed download link. So the catalogue checks with
lstat, and every reader opens with O_NOFOLLOW and checks with fstat what it opened (a
link swapped in between the listing and the open is refused too).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class NotRegularFileError(OSError):
    """The path is a symbolic link, a directory or a special file: not read."""


def regular_stat(path: Path) -> os.stat_result | None:
    """lstat of `path` when it is a regular file (not a link to one), else None."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    return info if stat.S_ISREG(info.st_mode) else None


def open_regular(path: Path) -> BinaryIO:
    """`path` opened for reading in binary, refusing anything but a regular file.

    Raises FileNotFoundError when absent and NotRegularFileError (an OSError whose
    strerror says what it is) for a link, a directory, a FIFO or a device."""
    try:
        fd = os.open(path, _FLAGS)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise NotRegularFileError(errno.ELOOP, "a symbolic link, which is never followed",
                                      str(path)) from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(errno.EINVAL, "not a regular file", str(path))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
