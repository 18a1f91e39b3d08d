"""Errors of the backup library; each message is one line that names the problem.

    Exception
     └── BackupError          a backup could not be made (base of all below)
          ├── ArchiveError     the archive stream is malformed (carries the byte offset)
          ├── VerifyError      a backup file failed verification
          ├── RestoreError     a restore was refused or failed
          └── NotFoundError    no such backup in the backup directory

Callers that only want "the backup feature failed" catch BackupError. Messages never
contain a secret of the MongoDB URI: scrub() below passes them through
ops.redaction.clean with the URI's secrets remembered, as every stored, logged or shown
text is.
"""

from __future__ import annotations

from ops import redaction


class BackupError(Exception):
    """A backup could not be made; the base of every error of ops.backup."""


class ArchiveError(BackupError):
    """The archive stream is malformed; `offset` is its byte in the uncompressed stream."""

    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message if offset is None else f"{message} at byte {offset}")
        self.offset = offset


class VerifyError(BackupError):
    """A backup file failed verification: sha256, gzip, structure, CRC, BSON or counts."""


class RestoreError(BackupError):
    """A restore was refused (target not empty, ambiguous database) or failed."""


class NotFoundError(BackupError):
    """No backup with the given id or file name exists in the backup directory."""


def redact_uri(uri: str) -> str:
    """The URI with its password and secret options replaced by ***, for messages."""
    return redaction.redact(uri)


def scrub(text: str, uri: str) -> str:
    """`text` on one line without the URI's secrets in any spelling (or any other known)."""
    redaction.remember_url(uri)
    return redaction.clean(text)


def one_line(text: str, limit: int = 300) -> str:
    """A driver message on one line and shortened: backup errors are stored and shown."""
    return redaction.one_line(text, limit)
