"""Backup benchmark: dump and restore next to a bare read, memory, compression levels.

    .venv/bin/python -m bench.bench_backup

Starts its own nx-27017 (tests.servers.MongoStandIn) unless TEST_MONGO_URI is set.
Prints figures only; targets: dump within 1.25x of a bare raw find() over the same
collections, flat peak RSS under 150 MB from 1x to 5x the data.
"""

from __future__ import annotations

import gzip
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bson
from bson import Binary, Int64, ObjectId
from bson.raw_bson import RawBSONDocument
from pymongo import MongoClient
from pymongo.database import Database

from ops.backup.dump import BATCH_SIZE, dump
from ops.backup.manifest import Manifest
from ops.backup.restore import restore
from ops.backup.verify import verify
from tests.servers import ExternalMongo, MongoStandIn

COLLECTIONS = ("customers", "orders", "events", "audit")
DOCS_1X = 200_000
INSERT_CHUNK = 5_000
WORDS = ["alpha", "beta", "gamma", "delta", "طلب", "عميل", "شحن", "دفع", "express", "standard"]


@contextmanager
def server(workdir: Path) -> Iterator[str]:
    uri = os.environ.get("TEST_MONGO_URI")
    mongo = ExternalMongo(uri) if uri else MongoStandIn(workdir / "mongo")
    mongo.start()
    try:
        yield mongo.uri
    finally:
        mongo.stop()


def document(rng: random.Random, i: int) -> dict[str, Any]:
    """About 300 bytes of BSON, realistically compressible: names, dates, amounts, lines."""
    base = datetime(2026, 1, 1, tzinfo=UTC)
    return {
        "_id": ObjectId(), "seq": i, "total": Int64(rng.randrange(10**12)),
        "amount": round(rng.random() * 1000, 2), "when": base + timedelta(seconds=i * 7),
        "customer": f"{rng.choice(WORDS)} {rng.choice(WORDS)} {i % 5000}",
        "email": f"user{i % 50000}@example.com", "paid": i % 3 == 0, "note": None,
        "tag": Binary(rng.randbytes(8)),
        "lines": [{"sku": f"SKU-{rng.randrange(1000):04d}", "qty": rng.randrange(1, 9),
                   "price": round(rng.random() * 100, 2)} for _ in range(i % 4)],
        "address": {"city": rng.choice(["Riyadh", "Jeddah", "Cairo", "Amman"]),
                    "zip": f"{rng.randrange(10000, 99999)}"},
    }


def seed(uri: str, db_name: str, total: int) -> None:
    """Create the data set once; a rerun against the same server reuses it."""
    rng = random.Random(db_name)
    per_collection = total // len(COLLECTIONS)
    client: MongoClient[dict[str, Any]]
    with MongoClient(uri) as client:
        db: Database[dict[str, Any]] = client[db_name]
        for name in COLLECTIONS:
            have = db[name].estimated_document_count()
            if have == per_collection:
                continue
            db[name].drop()
            for start in range(0, per_collection, INSERT_CHUNK):
                count = min(INSERT_CHUNK, per_collection - start)
                db[name].insert_many([document(rng, start + k) for k in range(count)])


def bare_read(uri: str, db_name: str) -> tuple[float, int, int]:
    """Seconds, documents and bytes of a raw find() over every collection."""
    options: bson.CodecOptions[RawBSONDocument] = bson.CodecOptions(
        document_class=RawBSONDocument)
    docs = size = 0
    started = time.perf_counter()
    client: MongoClient[dict[str, Any]]
    with MongoClient(uri) as client:
        raw_db: Database[RawBSONDocument] = client.get_database(db_name,
                                                                codec_options=options)
        for name in COLLECTIONS:
            for doc in raw_db[name].find({}, batch_size=BATCH_SIZE):
                docs += 1
                size += len(doc.raw)
    return time.perf_counter() - started, docs, size


def bare_insert(uri: str, source: str, target: str) -> float:
    """Seconds to insert_many every raw document into an empty database (batches of
    1000, documents read beforehand), the floor a restore cannot go below."""
    options: bson.CodecOptions[RawBSONDocument] = bson.CodecOptions(
        document_class=RawBSONDocument)
    client: MongoClient[dict[str, Any]]
    with MongoClient(uri) as client:
        client.drop_database(target)
        seconds = 0.0
        for name in COLLECTIONS:
            docs: list[RawBSONDocument] = list(
                client.get_database(source, codec_options=options)[name].find())
            started = time.perf_counter()
            for start in range(0, len(docs), 1000):
                client[target][name].insert_many(docs[start:start + 1000])
            seconds += time.perf_counter() - started
        client.drop_database(target)
    return seconds


def raw_batches_read(uri: str, db_name: str) -> float:
    """Seconds of find_raw_batches() over every collection: the read the dump does."""
    started = time.perf_counter()
    client: MongoClient[dict[str, Any]]
    with MongoClient(uri) as client:
        for name in COLLECTIONS:
            for _ in client[db_name][name].find_raw_batches({}, batch_size=BATCH_SIZE):
                pass
    return time.perf_counter() - started


def timed_dump(uri: str, db_name: str, directory: Path, level: int) -> tuple[float, Manifest]:
    started = time.perf_counter()
    manifest = dump(uri, directory, [db_name], gzip_level=level)
    return time.perf_counter() - started, manifest


_LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]])
_, status, usage = os.wait4(child.pid, 0)
sys.exit(os.waitstatus_to_exitcode(status) or print(usage.ru_maxrss))
"""


def child_peak_rss_mb(code: str) -> float:
    """Peak RSS (ru_maxrss) of a fresh Python process running `code`.

    Linux keeps in ru_maxrss the RSS a child had before exec, i.e. its parent's at the
    fork; a small launcher process forks the measured child, so only the child counts.
    """
    out = subprocess.run([sys.executable, "-c", _LAUNCHER, code], capture_output=True,
                         text=True, check=True, cwd=Path(__file__).parents[1])
    return int(out.stdout.split()[-1]) / 1024


def dump_rss(uri: str, db_name: str, directory: Path) -> float:
    return child_peak_rss_mb(
        "from pathlib import Path; from ops.backup.dump import dump; "
        f"dump({uri!r}, Path({str(directory)!r}), [{db_name!r}])")


def read_rss(uri: str, db_name: str) -> float:
    return child_peak_rss_mb(
        "import bson; from bson.raw_bson import RawBSONDocument; "
        "from pymongo import MongoClient; "
        f"db = MongoClient({uri!r}).get_database({db_name!r}, "
        "codec_options=bson.CodecOptions(document_class=RawBSONDocument)); "
        f"[sum(1 for _ in db[c].find({{}}, batch_size=1000)) for c in {COLLECTIONS!r}]")


def baseline_rss(uri: str) -> float:
    return child_peak_rss_mb(
        "from pymongo import MongoClient; import ops.backup.dump; "
        f"MongoClient({uri!r}).list_database_names()")


def mb(n: float) -> float:
    return n / 1e6


def row(label: str, value: str) -> None:
    print(f"  {label:<44} {value}")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-backup-") as tmp:
        work = Path(tmp)
        with server(work) as uri:
            run(uri, work)


def run(uri: str, work: Path) -> None:
    print(f"backup benchmark: {DOCS_1X:,} documents in {len(COLLECTIONS)} collections, "
          f"batch size {BATCH_SIZE}")
    started = time.perf_counter()
    seed(uri, "bench_backup_1x", DOCS_1X)
    print(f"  (data set created in {time.perf_counter() - started:.1f} s)")

    read_s, docs, size = min(bare_read(uri, "bench_backup_1x") for _ in range(2))
    print("\nthroughput")
    row("bare raw find() (best of 2)",
        f"{read_s:6.2f} s  {docs / read_s:9,.0f} docs/s  {mb(size) / read_s:6.1f} MB/s")
    batches_s = min(raw_batches_read(uri, "bench_backup_1x") for _ in range(2))
    row("bare find_raw_batches() (best of 2)",
        f"{batches_s:6.2f} s  {docs / batches_s:9,.0f} docs/s  {mb(size) / batches_s:6.1f} MB/s")
    dump_s, manifest = min((timed_dump(uri, "bench_backup_1x", work / f"d{i}", 6)
                            for i in range(2)), key=lambda r: r[0])
    raw_bytes = sum(c.bytes for c in manifest.collections)
    archive = work / "d0" / manifest.file
    if not archive.exists():
        archive = work / "d1" / manifest.file
    verify_started = time.perf_counter()
    verify(archive, manifest)
    verify_s = time.perf_counter() - verify_started
    row("dump, gzip 6, verified (best of 2)",
        f"{dump_s:6.2f} s  {docs / dump_s:9,.0f} docs/s  {mb(raw_bytes) / dump_s:6.1f} MB/s")
    row("  of which verify (measured alone)", f"{verify_s:6.2f} s")
    row("dump / bare raw find()", f"{dump_s / read_s:6.2f}x  (target <= 1.25x)")
    row("dump / bare find_raw_batches()", f"{dump_s / batches_s:6.2f}x")
    insert_s = bare_insert(uri, "bench_backup_1x", "bench_backup_inserted")
    row("bare insert_many of the same raw documents",
        f"{insert_s:6.2f} s  {docs / insert_s:9,.0f} docs/s  {mb(size) / insert_s:6.1f} MB/s")
    restore_started = time.perf_counter()
    restore(archive, uri, "bench_backup_restored", drop=True)
    restore_s = time.perf_counter() - restore_started
    row("restore (verify + insert + indexes)",
        f"{restore_s:6.2f} s  {docs / restore_s:9,.0f} docs/s  "
        f"{mb(raw_bytes) / restore_s:6.1f} MB/s")

    print("\ncompression (same data, whole dump each time)")
    stream = gzip.decompress(archive.read_bytes())
    for level in (1, 6, 9):
        seconds, result = timed_dump(uri, "bench_backup_1x", work / f"level{level}", level)
        squeeze_started = time.perf_counter()
        gzip.compress(stream, level)
        squeeze_s = time.perf_counter() - squeeze_started
        row(f"gzip level {level}",
            f"{mb(result.size_bytes):6.1f} MB of {mb(len(stream)):.1f} MB "
            f"(ratio {len(stream) / result.size_bytes:4.1f}:1)  dump {seconds:5.2f} s, "
            f"gzip alone {squeeze_s:5.2f} s")

    print("\npeak RSS of a dump in a child process")
    row("baseline (python + pymongo + ops.backup)", f"{baseline_rss(uri):6.1f} MB")
    row("bare raw find() of 1x in a child", f"{read_rss(uri, 'bench_backup_1x'):6.1f} MB")
    row(f"dump of 1x ({DOCS_1X:,} docs)",
        f"{dump_rss(uri, 'bench_backup_1x', work / 'rss1'):6.1f} MB")
    started = time.perf_counter()
    seed(uri, "bench_backup_5x", DOCS_1X * 5)
    print(f"  (5x data set created in {time.perf_counter() - started:.1f} s)")
    row(f"dump of 5x ({DOCS_1X * 5:,} docs)",
        f"{dump_rss(uri, 'bench_backup_5x', work / 'rss5'):6.1f} MB  (target: flat, < 150 MB)")


if __name__ == "__main__":
    main()
