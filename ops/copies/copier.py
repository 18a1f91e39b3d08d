"""Copy a backup to a target, check a copy, list what a target holds, fetch a copy back,
prune a target - each streaming in constant memory.

At the target a backup is two files named as here: the archive (`.age` appended when
encrypted) and, written last, its manifest. A copy whose manifest is missing is incomplete
(a copy cut short) and is never listed as restorable. Before anything leaves the host the
archive's bytes are hashed as they are read and must match the manifest's sha256, so a
file damaged on this disk is never copied as good.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from ops.backup.catalogue import BackupEntry
from ops.backup.files import open_regular
from ops.backup.manifest import (
    ARCHIVE_SUFFIX,
    MANIFEST_SUFFIX,
    MAX_MANIFEST_BYTES,
    Manifest,
    backup_id,
    manifest_path,
    partial_path,
    time_of_id,
    write_manifest,
)
from ops.copies.encryption import SUFFIX as AGE_SUFFIX
from ops.copies.encryption import decrypt, encrypt, identities, recipients
from ops.copies.targets import PART_BYTES, CopyError, Target
from ops.permissions import PRIVATE_FILE, private_dir


@dataclass(frozen=True)
class Copied:
    name: str
    size: int
    sha256: str  # of the bytes stored
    encrypted: bool


@dataclass(frozen=True)
class RemoteBackup:
    """One backup as a target holds it."""

    id: str
    archive: str | None
    size: int
    encrypted: bool
    has_manifest: bool
    modified: datetime | None

    @property
    def complete(self) -> bool:
        return self.archive is not None and self.has_manifest


class _HashingReader(io.RawIOBase):
    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(min(len(buffer), PART_BYTES))
        self.sha256.update(data)
        buffer[:len(data)] = data
        return len(data)


class _HashingSink:
    def __init__(self, out: Any) -> None:
        self.out = out
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.out.write(data)
        self.sha256.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass


def copy_to(entry: BackupEntry, target: Target, encrypt_to: list[str] | None) -> Copied:
    """Copy `entry` and its manifest to `target`; the archive is verified by the target
    (read back) before the manifest, the copy's completion mark, is written."""
    manifest = entry.manifest
    if manifest is None or not entry.ok:
        raise CopyError(f"{entry.id} is not a good backup ({entry.status}): not copied")
    name = entry.file.name + (AGE_SUFFIX if encrypt_to else "")
    upload = target.upload(name)
    try:
        with open_regular(entry.file) as raw:
            plain = _HashingReader(raw)
            sink = _HashingSink(upload)
            if encrypt_to:
                encrypt(plain, sink, recipients(encrypt_to))
            else:
                while chunk := plain.read(PART_BYTES):
                    sink.write(chunk)
        if plain.sha256.hexdigest() != manifest.sha256:
            raise CopyError(f"{entry.file.name} no longer matches its manifest's sha256 "
                            "(damaged on this disk): not copied; verify it")
        upload.commit(sink.sha256.hexdigest())
    except BaseException:
        upload.abort()
        raise
    _put_small(target, manifest_path(entry.file).name, _read_manifest_bytes(entry.file))
    return Copied(name, sink.size, sink.sha256.hexdigest(), bool(encrypt_to))


def _read_manifest_bytes(archive: Path) -> bytes:
    try:
        with open_regular(manifest_path(archive)) as f:
            return f.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise CopyError(f"cannot read the manifest of {archive.name}: "
                        f"{exc.strerror or exc}") from exc


def _put_small(target: Target, name: str, data: bytes) -> None:
    upload = target.upload(name)
    try:
        upload.write(data)
        upload.commit(hashlib.sha256(data).hexdigest())
    except BaseException:
        upload.abort()
        raise


def stored_sha256(target: Target, name: str) -> str:
    """Read a copy back from the target and hash it."""
    digest = hashlib.sha256()
    for chunk in target.download(name):
        digest.update(chunk)
    return digest.hexdigest()


def remote_backups(target: Target) -> list[RemoteBackup]:
    """What `target` holds, newest first, grouped by backup id."""
    grouped: dict[str, dict[str, Any]] = {}
    for item in target.list():
        if item.name.endswith(MANIFEST_SUFFIX):
            ident = backup_id(item.name.removesuffix(MANIFEST_SUFFIX))
            grouped.setdefault(ident, {})["manifest"] = True
            continue
        ident = backup_id(item.name.removesuffix(AGE_SUFFIX))
        grouped.setdefault(ident, {}).update(archive=item.name, size=item.size,
                                             modified=item.modified)
    return sorted((RemoteBackup(ident, g.get("archive"), int(g.get("size", 0)),
                                str(g.get("archive", "")).endswith(AGE_SUFFIX),
                                bool(g.get("manifest")), g.get("modified"))
                   for ident, g in grouped.items()), key=lambda b: b.id, reverse=True)


def fetch(target: Target, ident: str, backup_dir: Path,
          identity_file: Path | None) -> Path:
    """Bring copy `ident` back into `backup_dir` as a local backup: written to a partial
    file (decrypted when it is encrypted), checked against its manifest's sha256, then given
    its final name beside its manifest. Returns the archive's path."""
    if time_of_id(ident) is None:  # a name of ours, never a path
        raise CopyError(f"{ident!r} is not a backup id (mongo-20261127T030000Z)")
    remote = next((b for b in remote_backups(target) if b.id == ident and b.complete), None)
    if remote is None or remote.archive is None:
        raise CopyError(f"{target.shown} holds no complete copy of {ident}")
    final = backup_dir / f"{ident}{ARCHIVE_SUFFIX}"
    if os.path.lexists(final):
        raise CopyError(f"{final.name} is already in {backup_dir}: nothing to fetch")
    try:
        manifest = Manifest.from_json(_download_small(target, final.name + MANIFEST_SUFFIX))
    except (ValueError, TypeError, KeyError) as exc:
        raise CopyError(f"{target.shown}: the manifest of {ident} is unreadable "
                        f"({type(exc).__name__})") from exc
    keys = identities(identity_file) if remote.encrypted else None
    private_dir(backup_dir)
    partial = partial_path(final)
    try:  # O_EXCL: a partial file of this name is another fetch's, never removed here
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                     PRIVATE_FILE)
    except OSError as exc:
        raise CopyError(f"cannot create {partial} to fetch {ident} into: "
                        f"{exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as out:
            sink = _HashingSink(out)
            chunks = target.download(remote.archive)
            if keys is not None:
                decrypt(chunks, sink, keys)
            else:
                _drain(chunks, sink)
            out.flush()
            os.fsync(out.fileno())
        if sink.sha256.hexdigest() != manifest.sha256:
            raise CopyError(f"the copy of {ident} at {target.shown} does not match its "
                            "manifest's sha256: it is damaged; not fetched")
        write_manifest(manifest, manifest_path(final))
        os.replace(partial, final)
    except OSError as exc:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise CopyError(f"cannot write {partial} while fetching {ident}: "
                        f"{exc.strerror or exc}") from exc
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    return final


def _drain(chunks: Iterable[bytes], sink: _HashingSink) -> None:
    for chunk in chunks:
        sink.write(chunk)


def _download_small(target: Target, name: str) -> str:
    data = bytearray()
    for chunk in target.download(name):
        data += chunk
        if len(data) > MAX_MANIFEST_BYTES:
            raise CopyError(f"{target.shown}: {name} is too large to be a manifest")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CopyError(f"{target.shown}: {name} is not a manifest (not UTF-8)") from exc


def prune(target: Target, retention_days: int, now: datetime,
          good: set[str]) -> list[str]:
    """Delete the copies older than `retention_days`, never the newest good one (by the
    records in `good`; without any, the newest complete copy). Only our files."""
    held = remote_backups(target)
    complete = [b.id for b in held if b.complete]
    keep = max((i for i in complete if i in good), default=max(complete, default=None))
    cutoff = now - timedelta(days=retention_days)
    removed = []
    for backup in held:
        taken = time_of_id(backup.id)
        if backup.id == keep or taken is None or taken >= cutoff:
            continue
        if backup.archive is not None:
            target.delete(backup.archive)
        if backup.has_manifest:
            target.delete(f"{backup.id}{ARCHIVE_SUFFIX}{MANIFEST_SUFFIX}")
        removed.append(backup.id)
    return removed
