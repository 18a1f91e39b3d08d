"""Where copies go: one Target per entry of BACKUP_COPY_URLS, behind one small interface.

A target stores files under its own prefix or directory, named as the backups are
(`mongo-<UTC>.archive.gz[.age]` and the manifest `mongo-<UTC>.archive.gz.json`). Every
upload is verified by the target before it counts: S3 checks the SHA-256 sent with each
part (a single-part upload: with the whole object); SFTP writes a temporary name, reads
it back and hashes it, then renames. So a file under its final name is always complete.

Errors are CopyError with one line that names the target as `shown` (no credentials).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qsl, urlsplit

from ops.backup.errors import BackupError
from ops.config import Settings

# Only files named like this are ours: listed, fetched and pruned; anything else is left.
OUR_FILE = re.compile(r"^mongo-\d{8}T\d{6}Z\.archive\.gz(\.age)?(\.json)?$")
PART_BYTES = 8 << 20  # S3 multipart part size; also the chunk of every stream


class CopyError(BackupError):
    """A copy, a listing, a fetch or a prune at a target failed; one line, no secret."""


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int
    modified: datetime


class Upload(Protocol):
    """One file being written to a target: bytes go in with write(); commit() makes it
    visible under its final name only once the target has checked it; abort() leaves
    nothing behind."""

    def write(self, data: bytes) -> int: ...

    def commit(self, sha256_hex: str) -> None:
        """`sha256_hex` is the SHA-256 of every byte written; raises CopyError when the
        stored bytes do not hash to it."""

    def abort(self) -> None: ...


class Target(Protocol):
    shown: str  # the URL as people may see it: scheme, user, host, port, path; no secret

    def upload(self, name: str) -> Upload: ...

    def list(self) -> list[RemoteFile]:
        """Our files (OUR_FILE) under the target's prefix, any order."""

    def download(self, name: str) -> Iterator[bytes]:
        """The file's bytes in chunks; CopyError when it cannot be read."""

    def delete(self, name: str) -> None: ...

    def close(self) -> None: ...


def shown(url: str) -> str:
    """The URL without a query (an endpoint may carry a token) or password."""
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{user}{parts.hostname or ''}{port}{parts.path}"


def parameters(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def open_target(url: str, settings: Settings) -> Target:
    """The Target for one BACKUP_COPY_URLS entry (validated by ops.config)."""
    scheme = urlsplit(url).scheme
    if scheme == "s3":
        from ops.copies.s3 import S3Target

        return S3Target(url, settings)
    if scheme == "sftp":
        from ops.copies.sftp import SftpTarget

        return SftpTarget(url, settings)
    raise CopyError(f"{shown(url)}: no such kind of copy target")


def is_ours(name: str) -> bool:
    return OUR_FILE.match(Path(name).name) is not None
