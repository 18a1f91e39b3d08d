"""Test helpers for the backup tests: data sets, database snapshots, archive surgery."""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
import json
import os
import uuid
from pathlib import Path
from typing import Any

import bson
from bson import Binary, Int64, ObjectId
from bson.json_util import CANONICAL_JSON_OPTIONS, dumps, loads
from bson.raw_bson import RawBSONDocument
from pymongo import MongoClient

_counter = itertools.count()

# Types every server (the stand-in included) stores faithfully.
ARABIC = "مرحبا بالعالم، هذا نص عربي"


def unique_db(prefix: str) -> str:
    """A database name no other test of this session uses."""
    return f"{prefix}_{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:6]}"


def client(uri: str) -> MongoClient[dict[str, Any]]:
    return MongoClient(uri, serverSelectionTimeoutMS=5000)


def every_type_documents(count: int = 50) -> list[dict[str, Any]]:
    """Documents holding each BSON type the round trip must preserve."""
    base = dt.datetime(2026, 1, 2, 3, 4, 5, 678000)
    docs = []
    for i in range(count):
        docs.append({
            "_id": ObjectId(f"{0x6b000000:08x}{i:016x}"),
            "int32": i - 25,
            "int64": Int64((1 << 40) + i),
            "double": i * 1.25 + 0.1,
            "when": base + dt.timedelta(minutes=i),
            "blob": Binary(bytes([i % 256, 0, 255]) * (i % 5 + 1), 0),
            "nothing": None,
            "flag": i % 2 == 0,
            "name": f"{ARABIC} {i}",
            "الاسم": f"قيمة {i}",
            "email": f"user{i}@example.com",
            "nested": {"level": {"deeper": {"n": i, "tags": ["a", "ب", i]}}},
            "lines": [{"sku": f"S{j}", "qty": j, "price": j * 0.5} for j in range(i % 4)],
            "empty_doc": {},
            "empty_list": [],
        })
    return docs


def seed(uri: str, db_name: str, collections: dict[str, list[dict[str, Any]]]) -> None:
    with client(uri) as c:
        for name, docs in collections.items():
            if docs:
                c[db_name][name].insert_many(docs)
            else:
                c[db_name].create_collection(name)


def raw_documents(uri: str, db_name: str, collection: str) -> list[bytes]:
    """Every document of a collection as raw BSON bytes, sorted so sets compare equal."""
    opts: bson.CodecOptions[RawBSONDocument] = bson.CodecOptions(
        document_class=RawBSONDocument)
    with MongoClient(uri, serverSelectionTimeoutMS=5000, document_class=RawBSONDocument) as c:
        found = c.get_database(db_name, codec_options=opts)[collection].find()
        docs = [bytes(d.raw) for d in found]
    return sorted(docs)


def indexes(uri: str, db_name: str, collection: str) -> list[dict[str, Any]]:
    """listIndexes without the server-specific `ns`, sorted by name."""
    with client(uri) as c:
        found = [{k: v for k, v in ix.items() if k != "ns"}
                 for ix in c[db_name][collection].list_indexes()]
    return sorted(found, key=lambda ix: str(ix["name"]))


def snapshot(uri: str, db_name: str) -> dict[str, Any]:
    """What a database holds: per collection its raw documents and its indexes."""
    with client(uri) as c:
        names = sorted(c[db_name].list_collection_names())
    return {name: {"documents": raw_documents(uri, db_name, name),
                   "indexes": indexes(uri, db_name, name)} for name in names}


def canonical(doc: Any) -> Any:
    """A document as canonical Extended JSON, parsed back into plain JSON values."""
    return json.loads(dumps(doc, json_options=CANONICAL_JSON_OPTIONS))


def from_canonical(value: Any) -> Any:
    return loads(json.dumps(value))


def gunzip(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes())


def write_gzip(path: Path, data: bytes) -> None:
    path.write_bytes(gzip.compress(data, mtime=0))


def flip_byte(data: bytes, offset: int) -> bytes:
    """The same bytes with every bit of one byte inverted."""
    return data[:offset] + bytes([data[offset] ^ 0xFF]) + data[offset + 1:]


# --- an independent reading of the format, written from mongo-tools' spec.md only -------

_M64 = (1 << 64) - 1


def crc64_ecma_bitwise(data: bytes, crc: int = 0) -> int:
    """CRC-64/ECMA bit by bit (Go's crc64.ECMA: reflected, init and xorout all ones)."""
    crc = ~crc & _M64
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0xC96C5795D7870F42 if crc & 1 else 0)
    return ~crc & _M64


_FIXED = {0x01: 8, 0x07: 12, 0x08: 1, 0x09: 8, 0x10: 4, 0x11: 8, 0x12: 8, 0x13: 16}


def top_level_fields(doc: bytes) -> list[tuple[str, int, Any]]:
    """(name, BSON type byte, value for strings/ints/bools) of a document's top level."""
    assert int.from_bytes(doc[:4], "little") == len(doc) and doc[-1] == 0
    pos, out = 4, []
    while doc[pos] != 0:
        kind = doc[pos]
        end = doc.index(b"\x00", pos + 1)
        name = doc[pos + 1:end].decode()
        pos = end + 1
        if kind == 0x02:
            size = int.from_bytes(doc[pos:pos + 4], "little")
            value: Any = doc[pos + 4:pos + 4 + size - 1].decode()
            pos += 4 + size
        elif kind in (0x10, 0x12):
            width = 4 if kind == 0x10 else 8
            value = int.from_bytes(doc[pos:pos + width], "little", signed=True)
            pos += width
        elif kind == 0x08:
            value = doc[pos] == 1
            pos += 1
        elif kind in _FIXED:
            value, pos = None, pos + _FIXED[kind]
        else:
            value, pos = None, pos + int.from_bytes(doc[pos:pos + 4], "little")
        out.append((name, kind, value))
    return out


def parse_spec(data: bytes) -> dict[str, Any]:
    """Walk an uncompressed archive as spec.md's grammar says; assert each rule on the way.

    Returns the layout (field names and types of each kind of document) and, per
    namespace, the document count and the CRC the EOF header carries.
    """
    assert data[:4] == (0x8199E26D).to_bytes(4, "little"), "magic number"
    pos = 4

    def document() -> bytes | None:
        nonlocal pos
        size = int.from_bytes(data[pos:pos + 4], "little", signed=True)
        if size == -1:
            pos += 4
            return None
        doc = data[pos:pos + size]
        pos += size
        return doc

    header = document()
    assert header is not None
    layout: dict[str, Any] = {"header": [(n, t) for n, t, _ in top_level_fields(header)]}
    values = {n: v for n, _, v in top_level_fields(header)}
    assert values["version"] == "0.1"
    prelude = {}
    while (meta := document()) is not None:
        fields = top_level_fields(meta)
        layout["metadata"] = [(n, t) for n, t, _ in fields]
        info = {n: v for n, _, v in fields}
        metadata = json.loads(info["metadata"])
        assert metadata["collectionName"] == info["collection"]
        assert isinstance(metadata["indexes"], list)
        prelude[f"{info['db']}.{info['collection']}"] = info["type"]
    namespaces: dict[str, dict[str, int]] = {}
    while pos < len(data):
        head = document()
        assert head is not None, "a block starts with a header"
        fields = top_level_fields(head)
        layout["namespace_header"] = [(n, t) for n, t, _ in fields]
        info = {n: v for n, _, v in fields}
        ns = namespaces.setdefault(f"{info['db']}.{info['collection']}",
                                   {"documents": 0, "crc": 0, "eof_crc": -1})
        if info["EOF"]:
            assert document() is None, "EOF header followed by a terminator"
            ns["eof_crc"] = info["CRC"] & _M64
            continue
        assert info["CRC"] == 0
        while (doc := document()) is not None:
            ns["documents"] += 1
            ns["crc"] = crc64_ecma_bitwise(doc, ns["crc"])
    for name, ns in namespaces.items():
        assert ns["crc"] == ns["eof_crc"], f"CRC of {name}"
    assert set(prelude) == set(namespaces), "every prelude namespace has its EOF"
    return {"header": values, "layout": layout, "prelude": prelude,
            "namespaces": {k: v["documents"] for k, v in namespaces.items()}}
