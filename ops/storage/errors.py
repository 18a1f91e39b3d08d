"""The one error the storage package raises for a file it will not use.

    ValueError
     └── StoreError   the file is not a readable ops history: not SQLite, another
                      program's database, or written by a newer version

The message is one line naming the file and what to do; the file is left as it was.
"""

from __future__ import annotations


class StoreError(ValueError):
    """The file at the store's path cannot be used as the ops history."""
