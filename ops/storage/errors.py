"""The errors the storage package raises for a file it will not (or cannot yet) use.

    ValueError
     └── StoreError     the file is not a readable ops history: not SQLite, another
          │             program's database, or written by a newer version
          └── DiskFullError  the disk under it is full: SQLite cannot even open the file
                             (its -shm beside it) - the file itself is fine

The message is one line naming the file and what to do; the file is left as it was.
"""

from __future__ import annotations

import shutil
from pathlib import Path

# Less free space than this under the history's directory counts as a full disk: SQLite
# needs room for its -wal and -shm files (32 KiB) and a page or two to open the file.
FULL_BELOW_BYTES = 256 * 1024


class StoreError(ValueError):
    """The file at the store's path cannot be used as the ops history."""


class DiskFullError(StoreError):
    """The disk under the history is full: free space, and it opens as it was."""


def disk_full(path: Path) -> bool:
    """Whether the disk holding `path` (a file or the directory it will be made in) is
    too full for SQLite to open or create it."""
    try:
        return shutil.disk_usage(path.parent).free < FULL_BELOW_BYTES
    except OSError:
        return False


def disk_full_error(path: Path, error: Exception) -> DiskFullError:
    free = shutil.disk_usage(path.parent).free
    return DiskFullError(f"cannot open {path} ({error}): its disk is full ({free:,} bytes "
                         "free): free space there; the file is left as it was")
