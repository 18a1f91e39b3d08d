"""Reader and writer of the mongodump archive format (`mongodump --archive [--gzip]`).

The layout, as mongo-tools defines it (common/archive):

    magic number 0x8199e26d (little-endian uint32)
    header BSON {concurrent_collections: int32, version: "0.1", server_version, tool_version}
    one BSON per collection {db, collection, metadata: <Extended JSON text>, size: int32, type}
    terminator 0xffffffff
    then blocks until the end of the stream, each:
        namespace header BSON {db, collection, EOF: false, CRC: int64 0}
        raw BSON documents of that collection
        terminator
    and, once per collection, an EOF block:
        {db, collection, EOF: true, CRC: int64 CRC-64/ECMA of all its documents}, terminator

mongorestore expects an EOF block for every collection of the prelude (views included:
they get an empty data block, which is what triggers their creation). The whole stream
is gzipped for `--gzip`. Documents stay raw bytes end to end: nothing is decoded here.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import bson
from bson import json_util

from ops.backup.errors import ArchiveError
from ops.backup.files import open_regular

MAGIC = 0x8199E26D
MAGIC_BYTES = struct.pack("<I", MAGIC)
TERMINATOR = b"\xff\xff\xff\xff"
FORMAT_VERSION = "0.1"
MAX_BSON_SIZE = 16 * 1024 * 1024
MIN_BSON_SIZE = 5
CHUNK_SIZE = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
GZIP_SLICE = 64 << 10

_INT32 = struct.Struct("<i")
_UINT64_MASK = (1 << 64) - 1
_EXT_JSON = json_util.JSONOptions(json_mode=json_util.JSONMode.CANONICAL)

# --- CRC-64/ECMA as Go's hash/crc64 with crc64.ECMA computes it (CRC-64/XZ) -------------

_ECMA_REFLECTED = 0xC96C5795D7870F42


def _make_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _ECMA_REFLECTED if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _make_table()


def crc64_reference(data: bytes, crc: int = 0) -> int:
    """Pure-Python CRC-64/ECMA, continuing from `crc`; the definition the fast one must match."""
    crc ^= _UINT64_MASK
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ _UINT64_MASK


try:  # a Rust implementation: the pure-Python loop is hundreds of times slower
    from fastcrc import crc64 as _fastcrc64

    def crc64(data: bytes, crc: int = 0) -> int:
        """CRC-64/ECMA of `data`, continuing from `crc` (0 starts a new checksum)."""
        return _fastcrc64.xz(data, crc)
except ImportError:  # pragma: no cover - fastcrc is a requirement; this keeps reads possible
    crc64 = crc64_reference


def to_int64(value: int) -> int:
    """Go stores the uint64 checksum as an int64 in the EOF header."""
    value &= _UINT64_MASK
    return value - (1 << 64) if value >= 1 << 63 else value


# --- the prelude ------------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    """The archive header: format and versions of the server and tool that wrote it."""

    server_version: str
    tool_version: str
    format_version: str = FORMAT_VERSION
    concurrent_collections: int = 1

    def to_bson(self) -> bytes:
        return bson.encode({
            "concurrent_collections": self.concurrent_collections,
            "version": self.format_version,
            "server_version": self.server_version,
            "tool_version": self.tool_version,
        })

    @classmethod
    def from_bson(cls, raw: bytes) -> Header:
        doc = bson.decode(raw)
        return cls(server_version=str(doc.get("server_version", "")),
                   tool_version=str(doc.get("tool_version", "")),
                   format_version=str(doc.get("version", "")),
                   concurrent_collections=int(doc.get("concurrent_collections", 1)))


@dataclass(frozen=True)
class CollectionMetadata:
    """One collection (or view) of the prelude; `metadata` is mongodump's metadata.json."""

    db: str
    collection: str
    type: str = "collection"
    metadata: dict[str, Any] = field(default_factory=dict)
    size: int = 0

    @property
    def namespace(self) -> str:
        return f"{self.db}.{self.collection}"

    @property
    def is_view(self) -> bool:
        return self.type == "view"

    @property
    def indexes(self) -> list[dict[str, Any]]:
        return list(self.metadata.get("indexes") or [])

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.metadata.get("options") or {})

    def metadata_json(self) -> str:
        """Canonical Extended JSON v2, compact, as mongodump writes it."""
        return json_util.dumps(self.metadata, json_options=_EXT_JSON, separators=(",", ":"))

    def to_bson(self) -> bytes:
        return bson.encode({"db": self.db, "collection": self.collection,
                            "metadata": self.metadata_json(), "size": self.size,
                            "type": self.type})

    @classmethod
    def from_bson(cls, raw: bytes, offset: int) -> CollectionMetadata:
        doc = bson.decode(raw)
        text = doc.get("metadata") or ""
        try:
            metadata = json_util.loads(text) if text else {}
        except (ValueError, TypeError) as exc:
            raise ArchiveError(f"metadata of {doc.get('db')}.{doc.get('collection')} "
                               f"is not Extended JSON ({exc})", offset) from exc
        kind = doc.get("type") or metadata.get("type") or "collection"
        return cls(db=str(doc.get("db", "")), collection=str(doc.get("collection", "")),
                   type=str(kind), metadata=metadata, size=int(doc.get("size") or 0))


def collection_metadata(db: str, name: str, kind: str, options: dict[str, Any],
                        indexes: list[dict[str, Any]],
                        uuid: str | None = None) -> CollectionMetadata:
    """Build the prelude entry mongodump would: options, indexes, uuid, name, type."""
    metadata: dict[str, Any] = {}
    if options:
        metadata["options"] = options
    metadata["indexes"] = indexes
    if uuid:
        metadata["uuid"] = uuid
    metadata["collectionName"] = name
    metadata["type"] = kind
    return CollectionMetadata(db=db, collection=name, type=kind, metadata=metadata)


@dataclass(frozen=True)
class Prelude:
    header: Header
    collections: list[CollectionMetadata]

    @property
    def databases(self) -> list[str]:
        """Databases in the order they first appear, as mongorestore lists them."""
        return list(dict.fromkeys(c.db for c in self.collections))

    def to_bytes(self) -> bytes:
        parts = [MAGIC_BYTES, self.header.to_bson()]
        parts += [c.to_bson() for c in self.collections]
        parts.append(TERMINATOR)
        return b"".join(parts)


# --- stream events ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Document:
    """One raw BSON document of a collection and where it starts in the uncompressed stream."""

    db: str
    collection: str
    raw: bytes
    offset: int


@dataclass(frozen=True, slots=True)
class NamespaceEnd:
    """The EOF block of a collection, its checksum already checked against the documents."""

    db: str
    collection: str
    documents: int
    bytes: int
    crc64: int
    offset: int

    @property
    def namespace(self) -> str:
        return f"{self.db}.{self.collection}"


@dataclass
class _NamespaceState:
    crc: int = 0
    documents: int = 0
    bytes: int = 0
    closed: bool = False


# --- reading ------------------------------------------------------------------------------


class _Buffer:
    """Exact-size reads over an iterator of chunks, counting the stream offset."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buf = b""
        self._pos = 0
        self.offset = 0

    def _fill(self, size: int) -> bool:
        while len(self._buf) - self._pos < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                return False
            self._buf = self._buf[self._pos:] + chunk
            self._pos = 0
        return True

    def at_end(self) -> bool:
        return not self._fill(1)

    def read(self, size: int, what: str) -> bytes:
        if not self._fill(size):
            raise ArchiveError(f"archive truncated while reading {what}", self.offset)
        data = self._buf[self._pos:self._pos + size]
        self._pos += size
        self.offset += size
        return data

    def peek_int32(self, what: str) -> int:
        if not self._fill(4):
            raise ArchiveError(f"archive truncated while reading {what}", self.offset)
        return int(_INT32.unpack_from(self._buf, self._pos)[0])


def _read_bson_or_terminator(buf: _Buffer, what: str) -> bytes | None:
    """One BSON document, or None for a terminator, checked like mongo-tools' parser."""
    size = buf.peek_int32(what)
    if size == -1:
        buf.read(4, what)
        return None
    if size < MIN_BSON_SIZE or size > MAX_BSON_SIZE:
        raise ArchiveError(f"{size} is neither a valid BSON length nor a terminator "
                           f"(reading {what})", buf.offset)
    start = buf.offset
    raw = buf.read(size, what)
    if raw[-1] != 0:
        raise ArchiveError(f"BSON {what} of {size} bytes does not end with a null byte", start)
    return raw


class ArchiveReader:
    """Streams an uncompressed archive: the prelude first, then documents and EOF blocks.

    Checks what mongorestore checks: magic number, block structure, one EOF per namespace,
    each collection's CRC-64, and that every collection of the prelude was closed.
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._buf = _Buffer(chunks)
        self.prelude = self._read_prelude()

    @property
    def offset(self) -> int:
        """Bytes of the uncompressed stream consumed so far."""
        return self._buf.offset

    def _read_prelude(self) -> Prelude:
        magic = self._buf.read(4, "the magic number")
        if magic != MAGIC_BYTES:
            raise ArchiveError("not a mongodump archive (bad magic number)", 0)
        header_at = self._buf.offset
        raw = _read_bson_or_terminator(self._buf, "the archive header")
        if raw is None:
            raise ArchiveError("archive header missing", header_at)
        header = _decode(Header.from_bson, raw, "archive header", header_at)
        collections = []
        while True:
            at = self._buf.offset
            raw = _read_bson_or_terminator(self._buf, "the prelude")
            if raw is None:
                break
            collections.append(_decode(partial(CollectionMetadata.from_bson, offset=at), raw,
                                       "collection metadata", at))
        return Prelude(header, collections)

    def __iter__(self) -> Iterator[Document | NamespaceEnd]:
        states: dict[tuple[str, str], _NamespaceState] = {}
        buf = self._buf
        while not buf.at_end():
            at = buf.offset
            raw = _read_bson_or_terminator(buf, "a namespace header")
            if raw is None:
                raise ArchiveError("two terminators in a row (block without header)", at)
            head = _decode(bson.decode, raw, "namespace header", at)
            key = (str(head.get("db", "")), str(head.get("collection", "")))
            if not key[1]:
                raise ArchiveError("namespace header without a collection", at)
            state = states.setdefault(key, _NamespaceState())
            if state.closed:
                raise ArchiveError(f"data for {_ns(key)} after its end marker", at)
            if head.get("EOF"):
                yield self._close(key, state, head, at)
                self._expect_terminator(key)
                continue
            yield from self._documents(key, state)
        self._check_all_closed(states)

    def _documents(self, key: tuple[str, str], state: _NamespaceState) -> Iterator[Document]:
        db, coll = key
        buf = self._buf
        while True:
            at = buf.offset
            raw = _read_bson_or_terminator(buf, f"a document of {_ns(key)}")
            if raw is None:
                return
            state.crc = crc64(raw, state.crc)
            state.documents += 1
            state.bytes += len(raw)
            yield Document(db, coll, raw, at)

    def _close(self, key: tuple[str, str], state: _NamespaceState, head: dict[str, Any],
               at: int) -> NamespaceEnd:
        state.closed = True
        expected = int(head.get("CRC") or 0)
        got = to_int64(state.crc)
        if expected != got:
            raise ArchiveError(f"CRC mismatch in {_ns(key)}: end marker says {expected}, "
                               f"its {state.documents} documents give {got}", at)
        return NamespaceEnd(key[0], key[1], state.documents, state.bytes, got, at)

    def _expect_terminator(self, key: tuple[str, str]) -> None:
        at = self._buf.offset
        if _read_bson_or_terminator(self._buf, f"the end marker of {_ns(key)}") is not None:
            raise ArchiveError(f"documents after the end marker of {_ns(key)}", at)

    def _check_all_closed(self, states: dict[tuple[str, str], _NamespaceState]) -> None:
        end = self._buf.offset
        for key, state in states.items():
            if not state.closed:
                raise ArchiveError(f"archive ended before the end marker of {_ns(key)}", end)
        for meta in self.prelude.collections:
            if meta.type != "timeseries" and (meta.db, meta.collection) not in states:
                raise ArchiveError(f"archive ended before {meta.namespace} was seen", end)


def _ns(key: tuple[str, str]) -> str:
    return f"{key[0]}.{key[1]}"


def _decode(decode: Any, raw: bytes, what: str, offset: int) -> Any:
    try:
        return decode(raw)
    except ArchiveError:
        raise
    except (bson.errors.BSONError, ValueError, TypeError) as exc:
        raise ArchiveError(f"{what} is not valid BSON ({exc})", offset) from exc


# --- chunk sources ------------------------------------------------------------------------


def file_chunks(f: BinaryIO, size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """The bytes of an open file in chunks of `size`."""
    while chunk := f.read(size):
        yield chunk


def gunzip_chunks(chunks: Iterable[bytes], size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Decompress gzip members with bounded output per step; gzip CRC-32 and length checked.

    Input is fed in small slices so that damage is located within GZIP_SLICE bytes of
    the compressed file.
    """
    out, fed = 0, 0
    inflater = zlib.decompressobj(31)
    started = False
    for chunk in chunks:
        for start in range(0, len(chunk), GZIP_SLICE):
            data = chunk[start:start + GZIP_SLICE]
            while data:
                started = True
                try:
                    piece = inflater.decompress(data, size)
                except zlib.error as exc:
                    raise ArchiveError(_gzip_problem(exc, fed, fed + len(data), out)) from exc
                out += len(piece)
                if piece:
                    yield piece
                if inflater.eof:
                    data = inflater.unused_data
                    inflater = zlib.decompressobj(31)
                    started = False
                    if data and not data.startswith(GZIP_MAGIC):
                        raise ArchiveError("trailing bytes after the gzip stream", out)
                else:
                    data = inflater.unconsumed_tail
            fed += min(GZIP_SLICE, len(chunk) - start)
    if started:
        raise ArchiveError("gzip stream truncated (no end-of-stream marker)", out)


def _gzip_problem(exc: zlib.error, first: int, last: int, out: int) -> str:
    text = str(exc).split(": ", 1)[-1]
    if text == "incorrect data check":
        return "gzip CRC-32 mismatch at the end of the stream: the data was altered"
    if text == "incorrect length check":
        return f"gzip length mismatch after {out} bytes"
    return f"gzip data corrupt ({text}) in compressed bytes {first}-{last}"


@contextmanager
def open_archive(path: Path) -> Iterator[ArchiveReader]:
    """An ArchiveReader over a file, gzipped (`--gzip --archive`) or not (`--archive`)."""
    with open_regular(path) as f:  # never through a link
        gzipped = f.read(2) == GZIP_MAGIC
        f.seek(0)
        chunks = file_chunks(f)
        yield ArchiveReader(gunzip_chunks(chunks) if gzipped else chunks)


# --- writing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NamespaceSummary:
    db: str
    collection: str
    documents: int
    bytes: int
    crc64: int


def count_documents(chunk: bytes) -> int:
    """Number of whole BSON documents in `chunk`; refuses bytes that do not split into them."""
    pos, count, end = 0, 0, len(chunk)
    unpack = _INT32.unpack_from
    while pos < end:
        if end - pos < MIN_BSON_SIZE:
            raise ArchiveError("partial BSON document in a batch", pos)
        size = unpack(chunk, pos)[0]
        if size < MIN_BSON_SIZE or pos + size > end or chunk[pos + size - 1] != 0:
            raise ArchiveError(f"bad BSON document length {size} in a batch", pos)
        pos += size
        count += 1
    return count


class ByteSink(Protocol):
    """Anything bytes can be written to: a file, a GzipFile, a BytesIO."""

    def write(self, data: bytes, /) -> int: ...


class ArchiveWriter:
    """Writes an archive to a binary stream, one collection after another.

    The prelude is written first (it lists every collection), then for each collection
    begin() - write_documents()* - end(). Byte order and field types follow mongo-tools.
    """

    def __init__(self, out: ByteSink, prelude: Prelude) -> None:
        self._out = out
        self._current: tuple[str, str] | None = None
        self._state = _NamespaceState()
        self.bytes_written = 0
        self._write(prelude.to_bytes())

    def _write(self, data: bytes) -> None:
        self._out.write(data)
        self.bytes_written += len(data)

    def begin(self, db: str, collection: str) -> None:
        if self._current is not None:
            raise RuntimeError(f"{_ns(self._current)} is still open")
        self._current = (db, collection)
        self._state = _NamespaceState()
        self._write(_namespace_header(db, collection, eof=False, crc=0))

    def write_documents(self, chunk: bytes) -> int:
        """Append whole raw BSON documents (one or many, concatenated); returns how many."""
        if self._current is None:
            raise RuntimeError("write_documents() outside begin()/end()")
        count = count_documents(chunk)
        self._state.crc = crc64(chunk, self._state.crc)
        self._state.documents += count
        self._state.bytes += len(chunk)
        self._write(chunk)
        return count

    def end(self) -> NamespaceSummary:
        if self._current is None:
            raise RuntimeError("end() without begin()")
        db, coll = self._current
        crc = to_int64(self._state.crc)
        self._write(TERMINATOR + _namespace_header(db, coll, eof=True, crc=crc) + TERMINATOR)
        self._current = None
        return NamespaceSummary(db, coll, self._state.documents, self._state.bytes, crc)


def _namespace_header(db: str, collection: str, *, eof: bool, crc: int) -> bytes:
    return bson.encode({"db": db, "collection": collection, "EOF": eof, "CRC": bson.Int64(crc)})


def gzip_writer(raw: BinaryIO, level: int) -> gzip.GzipFile:
    """A gzip stream as Go's gzip writer makes it: no file name, mtime 0."""
    return gzip.GzipFile(filename="", mode="wb", compresslevel=level, fileobj=raw, mtime=0)

