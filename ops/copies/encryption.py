"""age encryption of copies (BACKUP_COPY_ENCRYPT_TO), streaming, in constant memory.

The format is age v1 (age-encryption.org): `age -d -i key.txt copy.archive.gz.age` turns a
copy back into the archive without this tool. The local archive stays plain; only what
leaves the host is encrypted.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyrage
from pyrage import x25519

from ops.copies.targets import CopyError

SUFFIX = ".age"


def recipients(keys: list[str]) -> list[Any]:
    try:
        return [x25519.Recipient.from_str(key) for key in keys]
    except pyrage.RecipientError as exc:
        raise CopyError(f"BACKUP_COPY_ENCRYPT_TO: not an age public key ({exc})") from exc


def identities(path: Path | None) -> list[Any]:
    """The X25519 identities of an age identity file (age-keygen's output)."""
    if path is None:
        raise CopyError("this copy is encrypted: set BACKUP_COPY_IDENTITY_FILE to the age "
                        "identity file that decrypts it")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CopyError(f"cannot read BACKUP_COPY_IDENTITY_FILE {path}: "
                        f"{getattr(exc, 'strerror', None) or exc}") from exc
    keys = [line.strip() for line in lines if line.strip().startswith("AGE-SECRET-KEY-")]
    try:
        found = [x25519.Identity.from_str(key) for key in keys]
    except pyrage.IdentityError:
        found = []
    if not found:
        raise CopyError(f"BACKUP_COPY_IDENTITY_FILE {path} holds no age identity "
                        "(AGE-SECRET-KEY-1... lines, as age-keygen writes them)")
    return found


def encrypt(source: io.RawIOBase | io.BufferedIOBase, sink: Any, to: list[Any]) -> None:
    """Read `source` to its end and write it encrypted to `sink` (anything with write)."""
    try:
        pyrage.encrypt_io(source, sink, to)
    except pyrage.EncryptError as exc:
        raise CopyError(f"encrypting the copy failed: {exc}") from exc


def decrypt(chunks: Iterable[bytes], sink: Any, keys: list[Any]) -> None:
    try:
        pyrage.decrypt_io(ChunkReader(chunks), sink, keys)
    except pyrage.DecryptError as exc:
        raise CopyError(f"cannot decrypt the copy with BACKUP_COPY_IDENTITY_FILE: the "
                        f"identity does not match or the copy is damaged ({exc})") from exc


class ChunkReader(io.RawIOBase):
    """A readable file over an iterator of byte chunks (a download), without holding more
    than one chunk."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            self._pending = next(self._chunks, b"")
            if not self._pending:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size
