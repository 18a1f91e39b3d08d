"""Verify a backup file end to end without a server.

One pass over the file checks, in the order damage would show: the gzip stream (deflate
data, CRC-32, length), the archive structure, each collection's CRC-64, that every
document parses as BSON, and (with a manifest) the sha256, size and per-collection counts.
A failure raises VerifyError with one line naming what failed and where: the collection,
the byte offset in the uncompressed stream, or "sha256 mismatch".
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bson
from bson.codec_options import CodecOptions, DatetimeConversion

from ops.backup.archive import (
    GZIP_MAGIC,
    ArchiveReader,
    Document,
    Header,
    NamespaceEnd,
    file_chunks,
    gunzip_chunks,
)
from ops.backup.errors import ArchiveError, VerifyError
from ops.backup.files import open_regular
from ops.backup.manifest import CollectionStats, Manifest

# Dates outside Python's range are legal BSON: decode them instead of failing the backup.
_DECODE_OPTIONS: CodecOptions[dict[str, Any]] = CodecOptions(
    datetime_conversion=DatetimeConversion.DATETIME_AUTO)
_BATCH_DOCS = 1000
_BATCH_BYTES = 4 << 20


@dataclass
class VerifyReport:
    path: Path
    sha256: str
    size_bytes: int
    uncompressed_bytes: int
    header: Header
    collections: list[CollectionStats] = field(default_factory=list)
    documents_total: int = 0
    manifest_checked: bool = False
    duration_s: float = 0.0


class _Hashing:
    """Passes chunks through while hashing and counting them."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self.sha256 = hashlib.sha256()
        self.size = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self.sha256.update(chunk)
            self.size += len(chunk)
            yield chunk

    def drain(self) -> None:
        """Hash whatever the parser did not read, so the digest covers the whole file."""
        for chunk in self._chunks:
            self.sha256.update(chunk)
            self.size += len(chunk)


class _BsonChecker:
    """Decodes documents in batches (fast in C); on failure finds the bad one's offset."""

    def __init__(self) -> None:
        self._docs: list[Document] = []
        self._bytes = 0

    def add(self, doc: Document) -> None:
        self._docs.append(doc)
        self._bytes += len(doc.raw)
        if len(self._docs) >= _BATCH_DOCS or self._bytes >= _BATCH_BYTES:
            self.flush()

    def flush(self) -> None:
        docs, self._docs, self._bytes = self._docs, [], 0
        if not docs:
            return
        try:
            bson.decode_all(b"".join(d.raw for d in docs), _DECODE_OPTIONS)
        except (bson.errors.BSONError, ValueError, OverflowError):
            for doc in docs:
                _decode_one(doc)


def _decode_one(doc: Document) -> None:
    try:
        bson.decode(doc.raw, _DECODE_OPTIONS)
    except (bson.errors.BSONError, ValueError, OverflowError) as exc:
        raise ArchiveError(f"document of {doc.db}.{doc.collection} does not parse as BSON "
                           f"({exc})", doc.offset) from exc


def verify(path: Path, manifest: Manifest | None = None) -> VerifyReport:
    """Check `path` completely; with `manifest`, also its sha256, size and counts."""
    started = time.monotonic()
    path = Path(path)
    if not os.path.lexists(path):
        raise VerifyError(f"{path.name}: no such file")
    try:
        report = _scan(path, manifest)
    except OSError as exc:  # a link or a directory too: never followed (files.py)
        raise VerifyError(f"{path.name}: cannot read ({exc.strerror or exc})") from exc
    if manifest is not None:
        _check_manifest(report, manifest)
    report.duration_s = time.monotonic() - started
    return report


def _scan(path: Path, manifest: Manifest | None) -> VerifyReport:
    with open_regular(path) as f:
        gzipped = f.read(2) == GZIP_MAGIC
        f.seek(0)
        hashing = _Hashing(file_chunks(f))
        try:
            return _read_all(path, hashing, gzipped)
        except ArchiveError as exc:
            hashing.drain()
            digest = hashing.sha256.hexdigest()
            if manifest is not None and digest != manifest.sha256:
                raise VerifyError(f"{path.name}: sha256 mismatch (file {digest[:12]}…, "
                                  f"manifest {manifest.sha256[:12]}…); first damage: {exc}"
                                  ) from exc
            raise VerifyError(f"{path.name}: {exc}") from exc


def _read_all(path: Path, hashing: _Hashing, gzipped: bool) -> VerifyReport:
    chunks: Iterable[bytes] = gunzip_chunks(hashing) if gzipped else hashing
    reader = ArchiveReader(chunks)
    kinds = {(c.db, c.collection): c.type for c in reader.prelude.collections}
    checker = _BsonChecker()
    stats: list[CollectionStats] = []
    for event in reader:
        if isinstance(event, Document):
            checker.add(event)
            continue
        checker.flush()
        stats.append(_stats(event, kinds))
    checker.flush()
    return VerifyReport(path=path, sha256=hashing.sha256.hexdigest(), size_bytes=hashing.size,
                        uncompressed_bytes=reader.offset, header=reader.prelude.header,
                        collections=stats, documents_total=sum(s.documents for s in stats))


def _stats(end: NamespaceEnd, kinds: dict[tuple[str, str], str]) -> CollectionStats:
    kind = kinds.get((end.db, end.collection), "collection")
    return CollectionStats(db=end.db, name=end.collection, type=kind, documents=end.documents,
                           bytes=end.bytes, crc64=end.crc64)


def _check_manifest(report: VerifyReport, manifest: Manifest) -> None:
    name = report.path.name
    if report.sha256 != manifest.sha256:
        raise VerifyError(f"{name}: sha256 mismatch (file {report.sha256[:12]}…, "
                          f"manifest {manifest.sha256[:12]}…)")
    if report.size_bytes != manifest.size_bytes:
        raise VerifyError(f"{name}: size {report.size_bytes} bytes, manifest says "
                          f"{manifest.size_bytes}")
    found = {(s.db, s.name): s for s in report.collections}
    for expected in manifest.collections:
        got = found.pop((expected.db, expected.name), None)
        where = f"{expected.db}.{expected.name}"
        if got is None:
            raise VerifyError(f"{name}: {where} is in the manifest but not in the archive")
        if (got.documents, got.bytes) != (expected.documents, expected.bytes):
            raise VerifyError(f"{name}: {where} has {got.documents} documents / {got.bytes} "
                              f"bytes, manifest says {expected.documents} / {expected.bytes}")
    if found:
        extra = ", ".join(f"{db}.{coll}" for db, coll in found)
        raise VerifyError(f"{name}: {extra} in the archive but not in the manifest")
    report.manifest_checked = True
