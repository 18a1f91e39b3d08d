"""Errors of the backup library; each message is one line that names the problem.

    Exception
     └── BackupError          a backup could not be made (base of all below)
          ├── ArchiveError     the archive stream is malformed (carries the byte offset)
          ├── VerifyError      a backup file failed verification
          ├── RestoreError     a restore was refused or failed
          └── NotFoundError    no such backup in the backup directory

Callers that only want "the backup feature failed" catch BackupError. Messages never
contain a MongoDB password: redact_uri() and scrub() below remove it first.
"""

from __future__ import annotations

import re
from urllib.parse import unquote


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


_USERINFO = re.compile(r"^(mongodb(?:\+srv)?://)([^/?#]*)@", re.IGNORECASE)


def redact_uri(uri: str) -> str:
    """The URI with its password replaced by ***, for messages and logs."""
    def hide(match: re.Match[str]) -> str:
        user = match.group(2).split(":", 1)[0]
        return f"{match.group(1)}{user}:***@" if ":" in match.group(2) else match.group(0)
    return _USERINFO.sub(hide, uri)


def scrub(text: str, uri: str) -> str:
    """`text` with the URI's password removed in every spelling (raw or %-decoded)."""
    match = _USERINFO.match(uri)
    if match and ":" in match.group(2):
        password = match.group(2).split(":", 1)[1]
        for secret in {password, unquote(password)}:
            if secret:
                text = text.replace(secret, "***")
    return text


def one_line(text: str, limit: int = 300) -> str:
    """The first line of a driver message, shortened: errors must stay one line."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"
