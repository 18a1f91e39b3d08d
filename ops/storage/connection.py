"""Connections to the SQLite file: one factory, one connection per thread, one way to
open a transaction.

A sqlite3 connection holds one transaction state, so two threads sharing it step on each
other ("cannot start a transaction within a transaction"). `Connections` gives each
thread its own, opened on first use and closed when the thread ends or the owner closes,
so one `Store` may be shared by every Streamlit session and the event loop.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from ops.permissions import make_private, private_dir

BUSY_TIMEOUT_MS = 5000
# SQLite gives its -wal and -shm the main file's mode; an older version left all three 0644.
PRIVATE_SUFFIXES = ("", "-wal", "-shm")

Params = Sequence[Any] | dict[str, Any]


def connect(path: Path) -> sqlite3.Connection:
    """A connection with the file's settings: WAL so readers never wait for the writer, a
    busy timeout for the moment two writers meet, autocommit for single statements
    (`isolation_level=None`; multi-statement writes go through `transaction`).

    The file and its -wal and -shm are made owner-only whatever the process umask: the
    history names every service, host and error of the stack."""
    private_dir(path.parent)
    # check_same_thread=False only so a dead thread's connection can be closed from
    # another thread; `Connections` never lets two threads use one connection.
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False,
                           isolation_level=None)
    if conn.execute("PRAGMA page_count").fetchone()[0] == 0:
        # Only a new file can take this; it lets deleted rows give their space back.
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA synchronous=NORMAL")
    _keep_private(path)
    return conn


def _keep_private(path: Path) -> None:
    """Owner-only file modes, never through a link. A file this user cannot change
    (another user's, opened by a command run as someone else) is left as it is: its
    owner's own processes tighten it."""
    for suffix in PRIVATE_SUFFIXES:
        with suppress(OSError):
            make_private(path.with_name(path.name + suffix))


class _Slot:
    """One thread's connection; when the thread ends its thread-local goes, and with it
    this slot, whose finalizer closes the connection."""

    __slots__ = ("__weakref__", "conn", "depth")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.depth = 0  # savepoints open inside this thread's transaction


class Connections:
    """Per-thread connections to one file, opened lazily, all closed by `close()`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: dict[int, sqlite3.Connection] = {}
        self._closed = False

    def _slot(self) -> _Slot:
        slot: _Slot | None = getattr(self._local, "slot", None)
        if slot is None:
            with self._lock:
                if self._closed:
                    raise sqlite3.ProgrammingError("the store is closed")
            conn = connect(self.path)
            slot = self._local.slot = _Slot(conn)
            with self._lock:
                self._open[id(conn)] = conn
            weakref.finalize(slot, _forget, weakref.ref(self), conn)
        return slot

    def get(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        return self._slot().conn

    def opened(self) -> int:
        """How many connections are open now (one per live thread that used the file)."""
        with self._lock:
            return len(self._open)

    def close(self) -> None:
        """Close every connection opened, whichever thread opened it."""
        with self._lock:
            self._closed = True
            conns, self._open = list(self._open.values()), {}
        for conn in conns:
            conn.close()

    def _release(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            self._open.pop(id(conn), None)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction on this thread's connection, all or nothing.

        Outermost: BEGIN IMMEDIATE (the write lock is taken at once, waiting up to the
        busy timeout, so a read-then-write never fails half way), COMMIT, or ROLLBACK on
        an exception. Nested: a SAVEPOINT released, or rolled back to on an exception
        while the outer work stays. As sqlite-utils' `Database.atomic()`, nesting is
        judged by the connection itself, so a transaction opened by other means counts.
        """
        slot = self._slot()
        conn = slot.conn
        if conn.in_transaction:
            slot.depth += 1
            name = f"ops_savepoint_{slot.depth}"
            conn.execute(f"SAVEPOINT {name}")
            try:
                yield conn
            except BaseException:
                # An error may have ended the whole transaction, savepoint included.
                if conn.in_transaction:
                    conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                    conn.execute(f"RELEASE SAVEPOINT {name}")
                raise
            else:
                conn.execute(f"RELEASE SAVEPOINT {name}")
            finally:
                slot.depth -= 1
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def _forget(owner: weakref.ref[Connections], conn: sqlite3.Connection) -> None:
    """A thread ended: close its connection (a no-op when `close()` already did)."""
    connections = owner()
    if connections is not None:
        connections._release(conn)
    conn.close()


def named_rows(conn: sqlite3.Connection, sql: str, params: Params = ()) -> list[sqlite3.Row]:
    """The rows of a query, each readable by column name."""
    cursor = conn.cursor()
    cursor.row_factory = sqlite3.Row
    return cursor.execute(sql, params).fetchall()
