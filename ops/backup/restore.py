"""Restore one database of a mongodump archive (ours or real mongodump's) into MongoDB.

The file is verified first (with its manifest when one lies beside it), so a damaged
backup is refused before anything is written. Then collections are created with their
options, documents inserted as raw BSON batches, indexes built from the archive
metadata (names, unique and other options kept) and views recreated as views.

MongoDB's own databases (admin: users and roles; local: the oplog; config: sharding)
are never a target, whichever way the name is spelled (`check_target`); the command,
the page and the job all refuse them, and so does `restore` itself.

Before dropping anything, `restore` calls its `safety_backup` hook (the command and the
job pass one: jobs.py `SafetyBackup`), which backs up the target as it is; only once that
backup is written and verified are its collections dropped, and when it fails nothing is.
"""

from __future__ import annotations

import logging
import os
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bson.raw_bson import RawBSONDocument
from bson.son import SON
from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import ConfigurationError, OperationFailure, PyMongoError

from ops.backup.archive import (
    CollectionMetadata,
    Document,
    NamespaceEnd,
    Prelude,
    open_archive,
)
from ops.backup.dump import SERVER_SELECTION_TIMEOUT_MS, SOCKET_TIMEOUT_MS
from ops.backup.errors import (
    ArchiveError,
    BackupError,
    RestoreError,
    VerifyError,
    one_line,
    redact_uri,
    scrub,
)
from ops.backup.manifest import CollectionStats, Manifest, load_manifest_for
from ops.backup.verify import verify
from ops.config import SYSTEM_DATABASES

log = logging.getLogger("ops.backup")

INSERT_BATCH_DOCS = 1000
INSERT_BATCH_BYTES = 8 << 20
PROGRESS_INTERVAL_S = 0.5
# What MongoDB refuses in a database name (on any platform), and its length limit.
FORBIDDEN_IN_NAMES = frozenset('/\\. "$*<>:|?\x00')
MAX_NAME_BYTES = 63


def check_target(name: str) -> None:
    """Refuse a target database that is not a plain database name of the user's: empty,
    one MongoDB would reject, or admin, local or config in any spelling MongoDB (or a C
    string cut at a NUL) would take for them: any case, Unicode compatibility forms,
    surrounding spaces. Raises RestoreError with one line."""
    as_seen = unicodedata.normalize("NFKC", name.split("\x00")[0]).strip().casefold()
    if as_seen in SYSTEM_DATABASES:
        raise RestoreError(f"refusing to restore into {name!r}: admin, local and config are "
                           "MongoDB's own databases (users and roles, the oplog, sharding "
                           "metadata); choose another name")
    if not name.strip():
        raise RestoreError("no target database given: name the database to restore into")
    bad = sorted({c for c in name if c in FORBIDDEN_IN_NAMES or not c.isprintable()})
    if bad:
        raise RestoreError(f"{name!r} is not a database name MongoDB accepts: it contains "
                           f"{' '.join(repr(c) for c in bad)}")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise RestoreError(f"{name[:20]!r}... is not a database name MongoDB accepts: "
                           f"longer than {MAX_NAME_BYTES} bytes")


@dataclass(frozen=True)
class RestoreProgress:
    collections_done: int
    collections_total: int
    documents_done: int
    documents_total: int | None  # from the manifest; None for archives without one
    current: str | None


@dataclass
class RestoreReport:
    path: Path
    from_db: str
    to_db: str
    collections: list[CollectionStats] = field(default_factory=list)
    documents_total: int = 0
    indexes_created: int = 0
    views: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    safety_backup: str | None = None  # the id of the backup of what `dropped` held


class _Batches:
    """Per-collection insert buffers, bounded by documents and bytes."""

    def __init__(self, db: Database[Any]) -> None:
        self._db = db
        self._docs: dict[str, list[RawBSONDocument]] = {}
        self._bytes: dict[str, int] = {}

    def add(self, collection: str, raw: bytes) -> int:
        """Buffer one document; returns how many were inserted by a flush (0 if none)."""
        docs = self._docs.setdefault(collection, [])
        docs.append(RawBSONDocument(raw))
        self._bytes[collection] = self._bytes.get(collection, 0) + len(raw)
        if len(docs) >= INSERT_BATCH_DOCS or self._bytes[collection] >= INSERT_BATCH_BYTES:
            return self.flush(collection)
        return 0

    def flush(self, collection: str) -> int:
        docs = self._docs.pop(collection, [])
        self._bytes.pop(collection, None)
        if docs:
            self._db[collection].insert_many(docs, ordered=True,
                                             bypass_document_validation=True)
        return len(docs)


class _Progress:
    def __init__(self, callback: Callable[[RestoreProgress], None] | None, total: int,
                 documents_total: int | None) -> None:
        self._callback = callback
        self._last = 0.0
        self.total = total
        self.documents_total = documents_total
        self.done = 0
        self.documents = 0
        self.current: str | None = None

    def emit(self, force: bool = False) -> None:
        now = time.monotonic()
        if self._callback is None or (not force and now - self._last < PROGRESS_INTERVAL_S):
            return
        self._last = now
        self._callback(RestoreProgress(self.done, self.total, self.documents,
                                       self.documents_total, self.current))


def restore(path: Path, uri: str, to_db: str, *, from_db: str | None = None,
            drop: bool = False,
            progress: Callable[[RestoreProgress], None] | None = None,
            before_writing: Callable[[RestoreReport], None] | None = None,
            safety_backup: Callable[[RestoreReport], str] | None = None) -> RestoreReport:
    """Restore database `from_db` of the archive at `path` into `to_db`.

    `safety_backup` is called when the target holds collections that `drop` is about to
    replace, after every refusal and the archive's verification and before anything is
    written: it backs the target up and returns that backup's id (kept in the report and
    named by any later failure). When it raises BackupError the restore is refused and
    nothing is dropped. Without it (library callers, benchmarks) nothing is backed up.

    `before_writing` gets the report (source, target, the collections it replaces) once
    every refusal has passed and before the first write, so a caller can remember a copy
    even when the restore then fails half-way (restored.py).

    Refuses a target that holds collections unless `drop` (then they are dropped first).
    A refusal, or a failure of the file, the data or the server, raises RestoreError with
    one line naming the problem (no password), chained to the error that caused it;
    anything else (a bug) propagates unchanged.
    """
    check_target(to_db)
    started = time.monotonic()
    path = Path(path)
    if not os.path.lexists(path):
        raise RestoreError(f"{path}: no such backup file")
    safety: list[str] = []  # the safety backup's id once written: named by a later failure
    try:
        report = _restore(path, uri, to_db, from_db, drop, progress, before_writing,
                          safety_backup, safety)
    except ArchiveError as exc:
        raise RestoreError(_kept(f"{path.name}: {exc}", safety, to_db)) from exc
    except BackupError as exc:  # a refusal or a damaged file: already one line, cause chained
        if not safety:
            raise
        raise RestoreError(_kept(str(exc), safety, to_db)) from exc
    except PyMongoError as exc:
        raise RestoreError(_kept(scrub(_describe(exc, uri, to_db), uri), safety,
                                 to_db)) from exc
    except OSError as exc:  # a link or a directory too: never followed (files.py)
        raise RestoreError(_kept(f"cannot read {path}: {exc.strerror or exc}", safety,
                                 to_db)) from exc
    report.duration_s = time.monotonic() - started
    log.info("restored %s from %s into %s: %d documents, %d indexes, %d views",
             report.from_db, path.name, to_db, report.documents_total, report.indexes_created,
             len(report.views))
    return report


def _kept(message: str, safety: list[str], to_db: str) -> str:
    """A failure after the safety backup says where the dropped data is."""
    if not safety:
        return message
    return (f"{message}; what {to_db} held before is in safety backup {safety[0]} "
            f"(restore it with --drop to bring it back)")


def _restore(path: Path, uri: str, to_db: str, from_db: str | None, drop: bool,
             progress: Callable[[RestoreProgress], None] | None,
             before_writing: Callable[[RestoreReport], None] | None,
             safety_backup: Callable[[RestoreReport], str] | None,
             safety: list[str]) -> RestoreReport:
    """Cheap refusals first (database choice, non-empty target), then verify, then the
    safety backup of what drop replaces, then write."""
    with open_archive(path) as reader:
        source = _choose_database(reader.prelude, from_db, path)
    client: MongoClient[Any] = MongoClient(
        uri, serverSelectionTimeoutMS=SERVER_SELECTION_TIMEOUT_MS,
        connectTimeoutMS=SERVER_SELECTION_TIMEOUT_MS, socketTimeoutMS=SOCKET_TIMEOUT_MS,
        appname="ops-dashboard restore")
    with client:
        db = client[to_db]
        existing = _refuse_non_empty(db, drop)
        manifest = _verified(path)
        report = RestoreReport(path=path, from_db=source, to_db=to_db, dropped=existing)
        if existing and safety_backup is not None:
            report.safety_backup = _safety(safety_backup, report)
            safety.append(report.safety_backup)
        if before_writing is not None:
            before_writing(report)
        for name in existing:
            db.drop_collection(name)
        with open_archive(path) as reader:
            metas = [c for c in reader.prelude.collections if c.db == source]
            tracker = _Progress(progress, len(metas), _documents_of(manifest, source))
            _restore_stream(db, reader, source, metas, report, tracker)
    return report


def _safety(safety_backup: Callable[[RestoreReport], str], report: RestoreReport) -> str:
    try:
        return safety_backup(report)
    except BackupError as exc:
        raise RestoreError(f"refusing to drop {report.to_db}: its safety backup failed "
                           f"({exc}); nothing was dropped") from exc


def _verified(path: Path) -> Manifest | None:
    """Verify before writing anything: a damaged backup must not half-restore."""
    try:
        manifest = load_manifest_for(path)
    except VerifyError as exc:  # an unreadable manifest does not make the archive unusable
        log.warning("restoring without the manifest: %s", exc)
        manifest = None
    try:
        verify(path, manifest)
    except BackupError as exc:
        raise RestoreError(f"refusing to restore a damaged backup: {exc}") from exc
    return manifest


def _choose_database(prelude: Prelude, from_db: str | None, path: Path) -> str:
    choices = prelude.databases
    if from_db is not None:
        if from_db not in choices:
            raise RestoreError(f"{path.name} has no database {from_db!r} "
                               f"(it has: {', '.join(choices) or 'none'})")
        return from_db
    if len(choices) == 1:
        return choices[0]
    if not choices:
        raise RestoreError(f"{path.name} holds no collections to restore")
    raise RestoreError(f"{path.name} holds several databases ({', '.join(choices)}): "
                       "name the one to restore (--from-db; on the Backups page: 'Database "
                       "in the backup')")


def _user_collections(db: Database[Any]) -> list[str]:
    return sorted(n for n in db.list_collection_names()
                  if not n.startswith("system.") or n == "system.js")


def _refuse_non_empty(db: Database[Any], drop: bool) -> list[str]:
    """The target's collections, which drop allows to replace; otherwise a refusal."""
    existing = _user_collections(db)
    if existing and not drop:
        shown = ", ".join(existing[:5]) + (", …" if len(existing) > 5 else "")
        raise RestoreError(f"database {db.name} is not empty ({len(existing)} collections: "
                           f"{shown}); to replace it, restore with --drop (on the Backups "
                           "page: tick 'Replace what is in that database')")
    return existing


def _documents_of(manifest: Manifest | None, source: str) -> int | None:
    if manifest is None:
        return None
    return sum(c.documents for c in manifest.collections if c.db == source)


def _restore_stream(db: Database[Any], reader: Any, source: str,
                    metas: list[CollectionMetadata], report: RestoreReport,
                    tracker: _Progress) -> None:
    by_name = {m.collection: m for m in metas}
    for meta in metas:
        if not meta.is_view:
            _create(db, meta.collection, meta.options)
    batches = _Batches(db)
    tracker.emit(force=True)
    for event in reader:
        if event.db != source:
            continue
        if isinstance(event, Document):
            tracker.current = f"{source}.{event.collection}"
            tracker.documents += batches.add(event.collection, event.raw)
            tracker.emit()
        elif isinstance(event, NamespaceEnd):
            _finish_collection(db, event, by_name.get(event.collection), batches, report,
                               tracker)
    for meta in metas:
        if meta.is_view:
            _create(db, meta.collection, meta.options)
            report.views.append(meta.collection)
    report.documents_total = sum(c.documents for c in report.collections)
    tracker.current = None
    tracker.emit(force=True)


def _finish_collection(db: Database[Any], end: NamespaceEnd, meta: CollectionMetadata | None,
                       batches: _Batches, report: RestoreReport, tracker: _Progress) -> None:
    tracker.documents += batches.flush(end.collection)
    kind = meta.type if meta else "collection"
    if meta is not None and not meta.is_view:
        report.indexes_created += _create_indexes(db, meta)
    report.collections.append(CollectionStats(db=db.name, name=end.collection, type=kind,
                                              documents=end.documents, bytes=end.bytes,
                                              crc64=end.crc64))
    tracker.done += 1
    tracker.emit(force=True)


def _create(db: Database[Any], name: str, options: dict[str, Any]) -> None:
    """`create` with the archived options: capped, validator, collation, viewOn/pipeline…"""
    try:
        db.command(SON([("create", name), *options.items()]))
    except OperationFailure as exc:
        raise RestoreError(f"cannot create {db.name}.{name}: "
                           f"{one_line(str((exc.details or {}).get('errmsg') or exc))}") from exc


def _create_indexes(db: Database[Any], meta: CollectionMetadata) -> int:
    specs = [_index_spec(ix) for ix in meta.indexes if ix.get("name") != "_id_"]
    if not specs:
        return 0
    try:
        db.command(SON([("createIndexes", meta.collection), ("indexes", specs)]))
    except OperationFailure as exc:
        raise RestoreError(f"cannot create the indexes of {db.name}.{meta.collection}: "
                           f"{one_line(str((exc.details or {}).get('errmsg') or exc))}") from exc
    return len(specs)


def _index_spec(index: dict[str, Any]) -> SON[str, Any]:
    """The listIndexes document minus `ns` (pre-4.4 servers), in its original key order."""
    return SON((k, v) for k, v in index.items() if k != "ns")


def _describe(exc: PyMongoError, uri: str, to_db: str) -> str:
    if isinstance(exc, ConfigurationError):
        return f"invalid MongoDB connection string: {one_line(str(exc))}"
    detail = one_line(str(exc).split(", Timeout:")[0])
    return f"restore into {to_db} failed ({redact_uri(uri)}): {detail}"
