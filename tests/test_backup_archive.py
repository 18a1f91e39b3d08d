"""The archive format on its own: real mongodump output, our writer, damage detection."""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path

import bson
import pytest

from ops.backup.archive import (
    ArchiveReader,
    ArchiveWriter,
    Document,
    Header,
    NamespaceEnd,
    Prelude,
    collection_metadata,
    crc64,
    crc64_reference,
    gunzip_chunks,
    gzip_writer,
    open_archive,
)
from ops.backup.errors import ArchiveError
from tests.backup_data import (
    crc64_ecma_bitwise,
    every_type_documents,
    flip_byte,
    gunzip,
    parse_spec,
)
from tests.conftest import FIXTURES

FIXTURE = FIXTURES / "mongodump-shop.archive.gz"


def read_all(data: bytes) -> tuple[Prelude, list[Document], list[NamespaceEnd]]:
    reader = ArchiveReader([data])
    docs: list[Document] = []
    ends: list[NamespaceEnd] = []
    for event in reader:
        if isinstance(event, Document):
            docs.append(event)
        else:
            ends.append(event)
    return reader.prelude, docs, ends


def sample_archive(gzipped: bool = False) -> bytes:
    """Two collections, an empty one and a view, written by our writer."""
    docs = [bson.encode(d) for d in every_type_documents(40)]
    index = {"v": 2, "key": {"email": 1}, "name": "email_unique", "unique": True}
    prelude = Prelude(Header(server_version="7.0.0", tool_version="test"), [
        collection_metadata("app", "people", "collection", {},
                            [{"v": 2, "key": {"_id": 1}, "name": "_id_"}, index]),
        collection_metadata("app", "empty", "collection", {"capped": True, "size": 4096}, []),
        collection_metadata("app", "adults", "view",
                            {"viewOn": "people", "pipeline": [{"$match": {"flag": True}}]}, []),
        collection_metadata("other", "things", "collection", {}, []),
    ])
    out = io.BytesIO()
    stream = gzip_writer(out, 6) if gzipped else out
    writer = ArchiveWriter(stream, prelude)
    writer.begin("app", "people")
    writer.write_documents(b"".join(docs[:25]))
    for doc in docs[25:]:
        writer.write_documents(doc)
    writer.end()
    for db, name in (("app", "empty"), ("app", "adults")):
        writer.begin(db, name)
        writer.end()
    writer.begin("other", "things")
    writer.write_documents(bson.encode({"_id": 1, "x": "y"}))
    writer.end()
    if gzipped:
        stream.close()
    return out.getvalue()


def test_fast_crc_matches_the_bitwise_definition() -> None:
    data = os.urandom(4096)
    assert crc64(data) == crc64_reference(data) == crc64_ecma_bitwise(data)
    assert crc64(data[1000:], crc64(data[:1000])) == crc64(data)
    assert crc64(b"") == 0


def test_reads_a_real_mongodump_archive() -> None:
    data = gunzip(FIXTURE)
    prelude, docs, ends = read_all(data)
    assert prelude.header.server_version == "7.0.0"
    assert prelude.header.format_version == "0.1"
    assert [c.namespace for c in prelude.collections] == ["shop.customers", "shop.orders"]
    customers = prelude.collections[0]
    assert [ix["key"] for ix in customers.indexes] == [{"_id": 1}, {"email": 1}]
    assert customers.indexes[1]["unique"] is True
    assert {e.namespace: e.documents for e in ends} == {"shop.customers": 250,
                                                        "shop.orders": 1200}
    # offsets point at the very bytes of each document in the uncompressed stream
    for doc in (docs[0], docs[300], docs[-1]):
        assert data[doc.offset:doc.offset + len(doc.raw)] == doc.raw
    assert bson.decode(docs[0].raw)["email"] == "c0@example.com"


def test_writer_output_reads_back_the_same_bytes() -> None:
    data = sample_archive()
    prelude, docs, ends = read_all(data)
    expected = [bson.encode(d) for d in every_type_documents(40)]
    assert [d.raw for d in docs if d.collection == "people"] == expected
    assert [(e.namespace, e.documents) for e in ends] == [
        ("app.people", 40), ("app.empty", 0), ("app.adults", 0), ("other.things", 1)]
    view = prelude.collections[2]
    assert view.is_view and view.options["viewOn"] == "people"
    assert prelude.collections[1].options == {"capped": True, "size": 4096}
    assert prelude.collections[0].indexes[1]["name"] == "email_unique"
    assert prelude.databases == ["app", "other"]


def test_writer_output_follows_the_spec_like_real_mongodump() -> None:
    """No mongorestore here: check our bytes with a parser written from the spec alone,
    and that they have the very layout (field names, order, BSON types) of the fixture."""
    ours = parse_spec(gunzip_bytes(sample_archive(gzipped=True)))
    theirs = parse_spec(gunzip(FIXTURE))
    assert ours["layout"] == theirs["layout"]
    assert ours["prelude"]["app.adults"] == "view"
    assert ours["namespaces"] == {"app.people": 40, "app.empty": 0, "app.adults": 0,
                                  "other.things": 1}


def gunzip_bytes(data: bytes) -> bytes:
    assert data[:3] == b"\x1f\x8b\x08"
    assert data[4:8] == b"\x00\x00\x00\x00", "mtime 0, as Go's gzip writer leaves it"
    return gzip.decompress(data)


def test_crc_mismatch_names_the_collection_and_offset() -> None:
    data = sample_archive()
    _, docs, _ = read_all(data)
    target = docs[3]
    inside = target.raw.index("مرحبا".encode()) + target.offset
    damaged = flip_byte(data, inside)
    with pytest.raises(ArchiveError, match=r"CRC mismatch in app\.people") as caught:
        read_all(damaged)
    assert caught.value.offset is not None and caught.value.offset > inside


def test_bad_document_length_is_located() -> None:
    data = sample_archive()
    _, docs, _ = read_all(data)
    damaged = data[:docs[5].offset] + (3).to_bytes(4, "little") + data[docs[5].offset + 4:]
    with pytest.raises(ArchiveError, match="neither a valid BSON length") as caught:
        read_all(damaged)
    assert caught.value.offset == docs[5].offset


@pytest.mark.parametrize("cut", [3, 40, -9])
def test_truncated_archive_is_refused(cut: int) -> None:
    data = sample_archive()
    with pytest.raises(ArchiveError):
        read_all(data[:cut])


def test_not_an_archive() -> None:
    with pytest.raises(ArchiveError, match="bad magic number"):
        read_all(bson.encode({"hello": "world"}))


def test_missing_end_of_a_prelude_collection_is_refused() -> None:
    data = sample_archive()
    _, _, ends = read_all(data)
    last_block = ends[-2].offset  # cut the archive right after app.adults' EOF block
    end_of_adults = last_block + len(bson.encode(
        {"db": "app", "collection": "adults", "EOF": True, "CRC": bson.Int64(0)})) + 4
    with pytest.raises(ArchiveError, match=r"before other\.things was seen"):
        read_all(data[:end_of_adults])


def test_gzip_damage_and_truncation_are_reported() -> None:
    packed = sample_archive(gzipped=True)
    with pytest.raises(ArchiveError, match="gzip stream truncated"):
        list(gunzip_chunks([packed[:-20]]))
    damaged = flip_byte(packed, len(packed) // 2)
    with pytest.raises(ArchiveError):
        list(ArchiveReader(gunzip_chunks([damaged])))


def test_open_archive_reads_plain_and_gzipped_files(tmp_path: Path) -> None:
    plain, packed = tmp_path / "plain.archive", tmp_path / "packed.archive.gz"
    plain.write_bytes(sample_archive())
    packed.write_bytes(sample_archive(gzipped=True))
    for path in (plain, packed):
        with open_archive(path) as reader:
            assert sum(isinstance(e, Document) for e in reader) == 41
