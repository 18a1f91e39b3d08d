"""Restore drills: prove that a backup restores, not only that its file is intact.

A drill restores each database of a backup into a scratch database on the same server
(`ops_drill_<n>`: restored.SCRATCH_PREFIX), compares every collection with the backup,
then drops the scratch database whatever happened. Compared per collection:

- the document count the manifest recorded at dump time, against the restored count;
- a content digest of the documents read back from the server, against the same digest
  of the archive's documents. The restore checks the archive against the manifest first
  (sha256 of the file, CRC-64 of each collection as written at dump time), so equal
  digests tie what the server now holds to what was dumped.

The digest is order-free - the sum of each document's SHA-256 modulo 2^256 - because a
restore need not keep the dump's order. The result is written into the backup's manifest
(`drill`), beside the backup it proves; jobs.py records the job, its event, and a failed
drill raises the backup_drill_failed alert.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from ops.backup.archive import Document, open_archive
from ops.backup.catalogue import BackupEntry
from ops.backup.dump import client_for
from ops.backup.errors import BackupError, one_line, scrub
from ops.backup.manifest import Manifest, iso, load_manifest_for, manifest_path, write_manifest
from ops.backup.restore import RestoreProgress, restore
from ops.backup.restored import SCRATCH_PREFIX, is_scratch

log = logging.getLogger("ops.backup")

_DIGEST_MODULUS = 1 << 256
Namespace = tuple[str, str]


class DrillError(BackupError):
    """A drill could not run at all: no manifest to compare with."""


@dataclass
class Drill:
    """What one drill found; `problems` empty means restored and matched."""

    backup: str
    at: datetime
    databases: list[str] = field(default_factory=list)
    collections: int = 0
    documents: int = 0
    problems: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def summary(self) -> str:
        """One line for the job, the event, the page and the alert."""
        if self.ok:
            return (f"{self.backup} restored and matched: "
                    f"{_count(len(self.databases), 'database')}, "
                    f"{_count(self.collections, 'collection')}, "
                    f"{_count(self.documents, 'document')} ({self.duration_s:.1f} s)")
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        return f"{self.backup} failed its restore drill: {self.problems[0]}{more}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = iso(self.at)
        data["ok"] = self.ok
        data["summary"] = self.summary
        return data


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def add_document(digest: int, raw: bytes | memoryview) -> int:
    """The order-free content digest with one more document's BSON."""
    return (digest + int.from_bytes(hashlib.sha256(raw).digest(), "big")) % _DIGEST_MODULUS


def archive_contents(path: Path) -> dict[Namespace, tuple[int, int]]:
    """(documents, digest) per collection of the archive, in one streaming pass."""
    found: dict[Namespace, tuple[int, int]] = {}
    with open_archive(path) as reader:
        for meta in reader.prelude.collections:
            found[(meta.db, meta.collection)] = (0, 0)
        for event in reader:
            if isinstance(event, Document):
                count, digest = found.get((event.db, event.collection), (0, 0))
                found[(event.db, event.collection)] = (count + 1,
                                                      add_document(digest, event.raw))
    return found


def server_contents(client: MongoClient[Any], db: str, name: str) -> tuple[int, int]:
    """(documents, digest) of a collection as the server holds it."""
    count, digest = 0, 0
    for batch in client[db][name].find_raw_batches({}):
        view, offset = memoryview(batch), 0
        while offset < len(view):
            size = int.from_bytes(view[offset:offset + 4], "little")
            digest = add_document(digest, view[offset:offset + size])
            count, offset = count + 1, offset + size
    return count, digest


def compare(manifest: Manifest, archive: dict[Namespace, tuple[int, int]],
            client: MongoClient[Any], source: str, scratch: str) -> tuple[int, int, list[str]]:
    """Collections and documents checked, and every difference, between database `source`
    of the backup and its restored copy `scratch`."""
    expected = [c for c in manifest.collections if c.db == source]
    present = set(client[scratch].list_collection_names())
    problems: list[str] = []
    documents = 0
    for stats in expected:
        where = f"{source}.{stats.name}"
        if stats.name not in present:
            problems.append(f"{where} is missing after the restore")
            continue
        if stats.type == "view":
            continue
        count, digest = server_contents(client, scratch, stats.name)
        documents += count
        if count != stats.documents:
            problems.append(f"{where}: {count} documents restored, {stats.documents} at "
                            "dump time")
        elif digest != archive.get((source, stats.name), (0, 0))[1]:
            problems.append(f"{where}: the restored documents differ from the backup's "
                            "(content digest)")
    extra = sorted(present - {c.name for c in expected} - {n for n in present
                                                           if n.startswith("system.")})
    problems += [f"{source}.{name} appeared in the restore but is not in the backup"
                 for name in extra]
    return len(expected), documents, problems


def run_drill(entry: BackupEntry, uri: str, *, now: Callable[[], datetime],
              progress: Callable[[str], None] | None = None) -> Drill:
    """Restore every database of `entry` into scratch databases, compare, drop them.

    A failure of the restore (damaged file, server gone) is a failed drill, not an error:
    it is what a drill exists to find. Raises DrillError only when there is nothing to
    compare with (no readable manifest).
    """
    manifest = load_manifest_for(entry.file)
    if manifest is None:
        raise DrillError(f"{entry.id} has no manifest: a drill compares the restore with "
                         "what the manifest recorded at dump time")
    started = time.monotonic()
    result = Drill(backup=entry.id, at=now(),
                   databases=list(dict.fromkeys(c.db for c in manifest.collections)))
    tell = progress or (lambda _text: None)
    try:
        with client_for(uri, "drill") as client:
            drop_scratch(client)  # left by a drill that was killed
            tell(f"reading {entry.file.name}")
            archive = archive_contents(entry.file)
            for index, source in enumerate(result.databases):
                scratch = f"{SCRATCH_PREFIX}{index}"
                tell(f"restoring {source} into {scratch}")
                try:
                    restore(entry.file, uri, scratch, from_db=source,
                            progress=_restore_progress(tell, source))
                    collections, documents, problems = compare(manifest, archive, client,
                                                               source, scratch)
                finally:
                    client.drop_database(scratch)
                result.collections += collections
                result.documents += documents
                result.problems += problems
    except BackupError as exc:
        result.problems.append(str(exc))
    except PyMongoError as exc:
        result.problems.append(f"the server failed during the drill: "
                               f"{scrub(one_line(str(exc)), uri)}")
    result.duration_s = round(time.monotonic() - started, 3)
    log.log(logging.INFO if result.ok else logging.ERROR, "restore drill: %s", result.summary)
    return result


def record(entry: BackupEntry, result: Drill) -> None:
    """Write the drill's result into the backup's manifest (atomically). A backup removed
    meanwhile (retention) has nowhere to keep it: logged, the job still says it."""
    path = manifest_path(entry.file)
    try:
        manifest = load_manifest_for(entry.file)
        if manifest is None:
            return
        manifest.drill = result.to_dict()
        write_manifest(manifest, path)
    except (BackupError, OSError) as exc:
        log.warning("cannot record the drill of %s in %s: %s", entry.id, path.name, exc)


def drop_scratch(client: MongoClient[Any]) -> list[str]:
    """Drop every scratch database a drill left (a drill killed before its cleanup)."""
    left = [name for name in client.list_database_names() if is_scratch(name)]
    for name in left:
        client.drop_database(name)
        log.warning("dropped %s, left by an interrupted restore drill", name)
    return left


def _restore_progress(tell: Callable[[str], None],
                      source: str) -> Callable[[RestoreProgress], None]:
    def show(progress: RestoreProgress) -> None:
        tell(f"restoring {source}: {progress.collections_done}/{progress.collections_total} "
             f"collections, {progress.documents_done} documents")

    return show
