"""Dump MongoDB databases into one verified `mongodump --gzip --archive` file.

The archive is written as `<name>.partial`, verified from disk, its manifest written
atomically, and only then renamed to `mongo-<UTC yyyymmddTHHMMSSZ>.archive.gz`: a file
with the final name is always complete and verified. The name is the start's second, or
the next free one (`free_name`). Files are owner-only (0600) whatever the umask.
Documents travel as raw BSON batches from the server to gzip (find_raw_batches), never
decoded, so memory stays constant whatever the size of the database.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from bson.binary import Binary
from pymongo import MongoClient
from pymongo.errors import (
    ConfigurationError,
    ConnectionFailure,
    OperationFailure,
    PyMongoError,
)

from ops.backup.archive import (
    ArchiveWriter,
    CollectionMetadata,
    Header,
    NamespaceSummary,
    Prelude,
    collection_metadata,
    gzip_writer,
)
from ops.backup.errors import ArchiveError, BackupError, VerifyError, one_line, redact_uri, scrub
from ops.backup.manifest import (
    CollectionStats,
    Manifest,
    archive_name,
    backup_id,
    manifest_path,
    partial_path,
    to_utc,
    tool_version,
    write_manifest,
)
from ops.backup.restored import is_scratch
from ops.backup.verify import verify
from ops.config import SYSTEM_DATABASES
from ops.permissions import PRIVATE_FILE, private_dir

log = logging.getLogger("ops.backup")

BATCH_SIZE = 1000
PROGRESS_INTERVAL_S = 0.5
SERVER_SELECTION_TIMEOUT_MS = 5_000
SOCKET_TIMEOUT_MS = 120_000
WRITE_QUEUE_DEPTH = 8
MAX_NAME_STEPS = 3600  # seconds past its start a backup's name may move to find a free one


@dataclass(frozen=True)
class DumpProgress:
    """Where a running dump is; `documents_estimated` comes from estimatedDocumentCount."""

    collections_done: int
    collections_total: int
    documents_done: int
    documents_estimated: int
    current: str | None
    bytes_written: int
    elapsed_s: float


@dataclass(frozen=True)
class _Planned:
    meta: CollectionMetadata
    estimated: int


class _Progress:
    """Calls the callback at most every PROGRESS_INTERVAL_S, and at every collection edge."""

    def __init__(self, callback: Callable[[DumpProgress], None] | None,
                 plan: list[_Planned]) -> None:
        self._callback = callback
        self._started = time.monotonic()
        self._last = 0.0
        self.total = len(plan)
        self.estimated = sum(p.estimated for p in plan)
        self.done = 0
        self.documents = 0
        self.current: str | None = None
        self.bytes_written = 0

    def emit(self, force: bool = False) -> None:
        now = time.monotonic()
        if self._callback is None or (not force and now - self._last < PROGRESS_INTERVAL_S):
            return
        self._last = now
        self._callback(DumpProgress(self.done, self.total, self.documents, self.estimated,
                                    self.current, self.bytes_written, now - self._started))


class _HashingFile:
    """The file object gzip writes into: hashes and counts the compressed bytes."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.raw.write(data)
        self.sha256.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        self.raw.flush()


def dump(uri: str, backup_dir: Path, databases: list[str] | None = None, *,
         gzip_level: int = 6, now: datetime | None = None,
         progress: Callable[[DumpProgress], None] | None = None,
         leave_out: Collection[str] = ()) -> Manifest:
    """Back up `databases` (None: all but admin/local/config and `leave_out`, the copies
    restored here: restored.py) into one verified archive.

    Returns the manifest written beside it. A failure of the server, the disk or the
    data raises BackupError (one line, no password) chained to the error that caused it;
    anything else (a bug) propagates unchanged. No file is left behind either way.
    """
    if not 1 <= gzip_level <= 9:
        raise BackupError(f"gzip level must be 1 to 9, not {gzip_level}")
    started = _to_ms(to_utc(now or datetime.now(UTC)))
    clock = time.monotonic()
    backup_dir = Path(backup_dir)
    _prepare_dir(backup_dir)
    final = free_name(backup_dir, started)
    partial = partial_path(final)
    try:
        manifest = _dump_to(uri, partial, final, databases, gzip_level, started, clock, progress,
                            frozenset(leave_out))
    except (BackupError, PyMongoError, OSError) as exc:
        _discard(partial)
        translated = _translate(exc, uri, partial)
        if translated is exc:
            raise
        raise translated from exc
    except BaseException:  # a bug or an interrupt: remove the file, let the error go up as it is
        _discard(partial)
        raise
    log.info("backup %s written: %d documents in %d collections, %d bytes, %.1f s",
             manifest.file, manifest.documents_total, len(manifest.collections),
             manifest.size_bytes, manifest.duration_s)
    return manifest


def _discard(path: Path) -> None:
    """Remove an unfinished file; failing to must not hide the error that ended the dump
    (on a read-only file system even removing a file that is not there fails)."""
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        if os.path.lexists(path):
            log.warning("cannot remove %s: %s", path, exc.strerror or exc)


def _prepare_dir(backup_dir: Path) -> None:
    try:
        private_dir(backup_dir)
    except OSError as exc:
        raise BackupError(f"cannot create backup directory {backup_dir}: "
                          f"{exc.strerror or exc}") from exc


def free_name(backup_dir: Path, started: datetime) -> Path:
    """The archive's final path: named after the UTC second the backup started, or the
    first later second whose name is free, so two backups in one second (or one landing
    on a name copied in by hand) never collide; the manifest keeps the true start time.

    Taken means an archive or a manifest of that name exists, even as a link. A partial
    file of the chosen name is refused, never deleted: another dump may be writing it.
    Dumps in one BACKUP_DIR run one at a time (the jobs' lock), so the name stays free
    until this dump publishes it."""
    for step in range(MAX_NAME_STEPS):
        final = backup_dir / archive_name(started + timedelta(seconds=step))
        if os.path.lexists(final) or os.path.lexists(manifest_path(final)):
            continue
        partial = partial_path(final)
        if os.path.lexists(partial):
            raise BackupError(f"{partial.name} exists in {backup_dir}: another backup is being "
                              f"written, or an interrupted one left it (remove_partials)")
        return final
    raise BackupError(f"no free backup name in {backup_dir} within {MAX_NAME_STEPS} s of "
                      f"{archive_name(started)}")


def _dump_to(uri: str, partial: Path, final: Path, databases: list[str] | None,
             gzip_level: int, started: datetime, clock: float,
             progress: Callable[[DumpProgress], None] | None,
             leave_out: frozenset[str]) -> Manifest:
    with client_for(uri) as client:
        server_version, plan = _plan(client, databases, leave_out)
        log.info("backup %s started: %d collections from %s", final.name, len(plan),
                 redact_uri(uri))
        prelude = Prelude(Header(server_version=server_version, tool_version=tool_version()),
                          [p.meta for p in plan])
        summaries, sha256, size = _write_archive(client, prelude, plan, partial, gzip_level,
                                                 _Progress(progress, plan))
    kinds = {(p.meta.db, p.meta.collection): p.meta.type for p in plan}
    manifest = Manifest(
        id=backup_id(final), file=final.name, sha256=sha256, size_bytes=size,
        started=started, finished=started, duration_s=0.0, server_version=server_version,
        tool=tool_version(), databases=_database_names(databases, plan),
        collections=[_stats(s, kinds) for s in summaries],
        documents_total=sum(s.documents for s in summaries), gzip_level=gzip_level)
    verify(partial, manifest)
    elapsed = time.monotonic() - clock
    manifest.finished = _to_ms(started + timedelta(seconds=elapsed))
    manifest.duration_s = round(elapsed, 3)
    manifest.verified, manifest.verified_at = True, manifest.finished
    _publish(manifest, partial, final)
    return manifest


def _to_ms(when: datetime) -> datetime:
    """The manifest stores milliseconds; keep the returned one equal to the stored one."""
    return when.replace(microsecond=when.microsecond // 1000 * 1000)


def _publish(manifest: Manifest, partial: Path, final: Path) -> None:
    """Manifest first, then the archive's final name: a final name is always complete."""
    meta_path = manifest_path(final)
    write_manifest(manifest, meta_path)
    try:
        os.replace(partial, final)
        _fsync_dir(final.parent)
    except BaseException:
        _discard(meta_path)
        raise


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def client_for(uri: str, task: str = "backup") -> Iterator[MongoClient[Any]]:
    """A client with the timeouts every backup task uses, closed at the end."""
    client: MongoClient[Any] = MongoClient(
        uri, serverSelectionTimeoutMS=SERVER_SELECTION_TIMEOUT_MS,
        connectTimeoutMS=SERVER_SELECTION_TIMEOUT_MS, socketTimeoutMS=SOCKET_TIMEOUT_MS,
        appname=f"ops-dashboard {task}")
    try:
        yield client
    finally:
        client.close()


def _plan(client: MongoClient[Any], databases: list[str] | None,
          leave_out: frozenset[str] = frozenset()) -> tuple[str, list[_Planned]]:
    """Server version and every collection to dump, with its metadata, in a stable order."""
    server_version = str(client.admin.command("buildInfo").get("version") or "0.0.0")
    present = client.list_database_names()
    if databases is None:
        names = [d for d in present
                 if d not in SYSTEM_DATABASES and d not in leave_out and not is_scratch(d)]
        if left := sorted(set(present) & leave_out):
            log.info("left out of the backup as restored copies: %s", ", ".join(left))
    else:
        missing = [d for d in databases if d not in present]
        if missing:
            raise BackupError(f"no database {', '.join(missing)} on the server "
                              f"(it has: {', '.join(present) or 'none'})")
        names = list(databases)
    return server_version, [p for db in names for p in _plan_database(client, db)]


def _plan_database(client: MongoClient[Any], db: str) -> list[_Planned]:
    planned = []
    infos = sorted(client[db].list_collections(), key=lambda i: str(i["name"]))
    for info in infos:
        name, kind = str(info["name"]), str(info.get("type") or "collection")
        if _skipped(name):
            continue
        if kind not in ("collection", "view"):
            raise BackupError(f"{db}.{name} is a {kind} collection, which backups do not "
                              f"support yet")
        coll = client[db][name]
        indexes = [] if kind == "view" else [dict(ix) for ix in coll.list_indexes()]
        estimated = 0 if kind == "view" else coll.estimated_document_count()
        meta = collection_metadata(db, name, kind, dict(info.get("options") or {}), indexes,
                                   _uuid_hex((info.get("info") or {}).get("uuid")))
        planned.append(_Planned(meta, estimated))
    return planned


def _skipped(name: str) -> bool:
    """System collections are the server's own, as mongodump skips them (system.js kept)."""
    return name.startswith("system.") and name != "system.js"


def _uuid_hex(value: object) -> str | None:
    """mongodump records the collection UUID as 32 hex digits; stand-ins may have none."""
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, Binary) and value.subtype == 4:
        return bytes(value).hex()
    return None


def _write_archive(client: MongoClient[Any], prelude: Prelude, plan: list[_Planned],
                   partial: Path, gzip_level: int,
                   progress: _Progress) -> tuple[list[NamespaceSummary], str, int]:
    # Owner-only whatever the umask; O_EXCL: never over a file or through a link.
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as raw:
        hashing = _HashingFile(raw)
        with (gzip_writer(hashing, gzip_level) as gz,  # type: ignore[arg-type]
              _WriterThread(ArchiveWriter(gz, prelude)) as writer):
            progress.emit(force=True)
            for item in plan:
                _write_collection(client, writer, item, progress, hashing)
                progress.documents = writer.documents
        raw.flush()
        os.fsync(raw.fileno())
    progress.bytes_written = hashing.size
    progress.current = None
    progress.emit(force=True)
    return writer.summaries, hashing.sha256.hexdigest(), hashing.size


class _WriterThread:
    """Checksums, compresses and writes on a second thread while this one reads batches.

    zlib and file writes release the GIL, so compression overlaps the network reads.
    The queue is short, so memory stays a few batches; a write error (a full disk) is
    raised in the reading thread at its next call.
    """

    def __init__(self, writer: ArchiveWriter, depth: int = WRITE_QUEUE_DEPTH) -> None:
        self._writer = writer
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(target=self._run, name="backup-writer", daemon=True)
        self.error: BaseException | None = None
        self.documents = 0
        self.summaries: list[NamespaceSummary] = []

    def __enter__(self) -> _WriterThread:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self._queue.put(None)
        self._thread.join()
        if kind is None:
            self._raise_error()

    def _run(self) -> None:
        while (task := self._queue.get()) is not None:
            if self.error is None:  # after a failure keep draining so put() never blocks
                try:
                    task()
                except BaseException as exc:  # noqa: BLE001 - handed to the reading thread
                    self.error = exc
            self._queue.task_done()
        self._queue.task_done()

    def _raise_error(self) -> None:
        if self.error is not None:
            raise self.error

    def _submit(self, task: Callable[[], None]) -> None:
        self._raise_error()
        self._queue.put(task)

    def begin(self, db: str, collection: str) -> None:
        self._submit(functools.partial(self._writer.begin, db, collection))

    def write(self, batch: bytes) -> None:
        self._submit(functools.partial(self._write, batch))

    def _write(self, batch: bytes) -> None:
        self.documents += self._writer.write_documents(batch)

    def end(self) -> None:
        """Close the collection and wait for it, so progress at its end is exact."""
        self._submit(lambda: self.summaries.append(self._writer.end()))
        self._queue.join()
        self._raise_error()


def _write_collection(client: MongoClient[Any], writer: _WriterThread, item: _Planned,
                      progress: _Progress, hashing: _HashingFile) -> None:
    meta = item.meta
    progress.current = meta.namespace
    progress.emit(force=True)
    writer.begin(meta.db, meta.collection)
    if not meta.is_view:  # a view is an empty block: mongorestore creates it from that
        cursor = client[meta.db][meta.collection].find_raw_batches({}, batch_size=BATCH_SIZE)
        for batch in cursor:
            writer.write(batch)
            progress.documents = writer.documents
            progress.bytes_written = hashing.size
            progress.emit()
    writer.end()
    progress.documents = writer.documents
    progress.bytes_written = hashing.size
    progress.done += 1
    progress.emit(force=True)


def _database_names(requested: list[str] | None, plan: list[_Planned]) -> list[str]:
    if requested is not None:
        return list(requested)
    return list(dict.fromkeys(p.meta.db for p in plan))


def _stats(summary: NamespaceSummary, kinds: dict[tuple[str, str], str]) -> CollectionStats:
    return CollectionStats(db=summary.db, name=summary.collection,
                           type=kinds[(summary.db, summary.collection)],
                           documents=summary.documents, bytes=summary.bytes, crc64=summary.crc64)


_DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def _translate(exc: BackupError | PyMongoError | OSError, uri: str,
               partial: Path) -> BackupError:
    """One-line BackupError for what went wrong (the caller chains `exc` as its cause).

    A plain BackupError of this module is returned as it is: it already says what failed.
    """
    where = partial.parent
    if isinstance(exc, VerifyError):
        message = f"the new backup failed verification: {exc}"
    elif isinstance(exc, ArchiveError):
        message = f"the server sent a malformed batch: {exc}"
    elif isinstance(exc, BackupError):
        return exc
    elif isinstance(exc, OSError) and exc.errno in _DISK_FULL:
        message = (f"disk full: no space left on the device of {where} "
                   f"while writing {partial.name}")
    elif isinstance(exc, OSError):
        message = f"cannot write {partial}: {exc.strerror or exc}"
    elif isinstance(exc, OperationFailure):
        message = f"MongoDB refused the dump: {one_line(_errmsg(exc))}"
    elif isinstance(exc, ConnectionFailure):
        detail = one_line(str(exc).split(", Timeout:")[0])
        message = f"MongoDB unreachable or connection lost ({redact_uri(uri)}): {detail}"
    elif isinstance(exc, ConfigurationError):
        message = f"invalid MongoDB connection string: {one_line(str(exc))}"
    else:
        message = f"MongoDB error during the dump: {one_line(str(exc))}"
    return BackupError(scrub(message, uri))


def _errmsg(exc: OperationFailure) -> str:
    details = exc.details or {}
    return str(details.get("errmsg") or exc)
