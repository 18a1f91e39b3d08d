"""The manifest beside each backup, and the file naming both follow.

    <BACKUP_DIR>/mongo-20261127T030000Z.archive.gz        the archive (mongodump --gzip --archive)
    <BACKUP_DIR>/mongo-20261127T030000Z.archive.gz.json   its manifest
    <BACKUP_DIR>/mongo-20261127T030000Z.archive.gz.partial while being written

The manifest records what the archive should contain so that verify can tell a damaged
or swapped file, and so that listings need not open the archive. It never holds the
MongoDB URI, only the server version.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ops
from ops.backup.archive import FORMAT_VERSION
from ops.backup.errors import VerifyError, one_line
from ops.backup.files import open_regular

PREFIX = "mongo-"
ARCHIVE_SUFFIX = ".archive.gz"
MANIFEST_SUFFIX = ".json"
PARTIAL_SUFFIX = ".partial"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
TOOL_NAME = "ops-dashboard"
_ID_PATTERN = re.compile(r"^mongo-(\d{8}T\d{6}Z)$")
MAX_MANIFEST_BYTES = 16 << 20  # a manifest lists collections: kilobytes, not gigabytes


def tool_version() -> str:
    """`ops-dashboard <version>`, written into the archive header and the manifest."""
    return f"{TOOL_NAME} {getattr(ops, '__version__', '0.1.0')}"


def archive_name(when: datetime) -> str:
    """File name of a backup taken at `when` (converted to UTC)."""
    return f"{PREFIX}{to_utc(when).strftime(TIMESTAMP_FORMAT)}{ARCHIVE_SUFFIX}"


def backup_id(archive: Path | str) -> str:
    """The id of a backup: its file name without `.archive.gz`."""
    name = Path(archive).name
    return name.removesuffix(ARCHIVE_SUFFIX)


def manifest_path(archive: Path) -> Path:
    """Where the manifest of `archive` lives: the same name plus `.json`."""
    return archive.with_name(archive.name + MANIFEST_SUFFIX)


def partial_path(archive: Path) -> Path:
    return archive.with_name(archive.name + PARTIAL_SUFFIX)


def time_of_id(backup: str) -> datetime | None:
    """The UTC time encoded in an id like `mongo-20261127T030000Z`, None if it has none."""
    match = _ID_PATTERN.match(backup)
    if not match:
        return None
    return datetime.strptime(match.group(1), TIMESTAMP_FORMAT).replace(tzinfo=UTC)


def to_utc(when: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def iso(when: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, to the millisecond."""
    if when is None:
        return None
    return to_utc(when).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    return to_utc(datetime.fromisoformat(text))


@dataclass
class CollectionStats:
    """One collection or view of the backup: what the archive holds for it."""

    db: str
    name: str
    type: str
    documents: int
    bytes: int
    crc64: int = 0


@dataclass
class Manifest:
    id: str
    file: str
    sha256: str
    size_bytes: int
    started: datetime
    finished: datetime
    duration_s: float
    server_version: str
    tool: str
    archive_format: str = FORMAT_VERSION
    databases: list[str] = field(default_factory=list)
    collections: list[CollectionStats] = field(default_factory=list)
    documents_total: int = 0
    status: str = "ok"
    verified: bool = False
    verified_at: datetime | None = None
    gzip_level: int = 6
    # Why this backup was taken when not by the schedule or a request: a safety backup
    # says "before restore of <id> into <db>" (jobs.py). Older manifests have none.
    reason: str | None = None
    # The newest restore drill of this backup (drill.py: when, matched or what differed).
    drill: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("started", "finished", "verified_at"):
            data[key] = iso(data[key])
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        values["collections"] = [CollectionStats(**c) for c in data.get("collections", [])]
        for key in ("started", "finished", "verified_at"):
            values[key] = parse_iso(data.get(key))
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        return cls.from_dict(json.loads(text))

    def collection(self, db: str, name: str) -> CollectionStats | None:
        return next((c for c in self.collections if c.db == db and c.name == name), None)


def write_manifest(manifest: Manifest, path: Path) -> None:
    """Write atomically: a temporary file in the same directory, fsynced, then renamed."""
    fd, tmp = tempfile.mkstemp(prefix=".manifest-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(manifest.to_json())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):  # the write's own error is the one to report
            Path(tmp).unlink(missing_ok=True)
        raise


def read_manifest(path: Path) -> Manifest:
    """Raises OSError (also when `path` is a link or not a regular file: never followed),
    ValueError (bad JSON, too large) or TypeError/KeyError (wrong shape)."""
    with open_regular(path) as f:
        data = f.read(MAX_MANIFEST_BYTES + 1)
    if len(data) > MAX_MANIFEST_BYTES:
        raise ValueError(f"larger than {MAX_MANIFEST_BYTES >> 20} MB: not a manifest")
    return Manifest.from_json(data.decode("utf-8"))


def load_manifest_for(archive: Path) -> Manifest | None:
    """The manifest beside `archive`, or None when there is none.

    Raises VerifyError (one line, chained to the cause) when it cannot be read or parsed.
    """
    path = manifest_path(archive)
    if not os.path.lexists(path):
        return None
    try:
        return read_manifest(path)
    except OSError as exc:
        raise VerifyError(f"{path.name}: cannot read the manifest "
                          f"({exc.strerror or exc})") from exc
    except (ValueError, TypeError, KeyError) as exc:
        raise VerifyError(f"{path.name}: unreadable manifest "
                          f"({type(exc).__name__}: {one_line(str(exc))})") from exc
