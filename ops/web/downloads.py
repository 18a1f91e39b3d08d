"""Backup downloads: short-lived signed links, served by a route streaming from disk.

The page makes the link after login; the route checks the signature and the expiry,
looks the id up in the catalogue (never a path from the request; regular files only) and
streams the file in chunks, so a backup of several gigabytes never sits in memory. The
file is opened without following a link and checked to be a regular file on the open
descriptor, which is what is streamed: a link swapped in after the listing is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import os
import re
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlencode

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from ops.backup.catalogue import list_backups
from ops.backup.files import open_regular
from ops.config import Settings, SettingsError, load_settings
from ops.permissions import PRIVATE_FILE, private_dir

LINK_SECONDS = 300
KEY_FILE = ".download-key"
BACKUP_ID = re.compile(r"mongo-\d{8}T\d{6}Z")
PATH = "/api/backups/{backup_id}/download"
CHUNK_BYTES = 1 << 20


def signing_key(data_dir: Path) -> bytes:
    """A random key kept beside the database, made once with owner-only permissions."""
    path = data_dir / KEY_FILE
    try:
        return _read_key(path)
    except FileNotFoundError:
        private_dir(data_dir)
        key = secrets.token_bytes(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        except FileExistsError:  # another process made it first
            return _read_key(path)
        with os.fdopen(fd, "wb") as out:
            out.write(key)
        return key


def _read_key(path: Path) -> bytes:
    """The key's bytes, never through a link planted under its name."""
    with open_regular(path) as f:
        return f.read()


def _signature(key: bytes, backup_id: str, expires: int) -> str:
    return hmac.new(key, f"{backup_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def signed_link(settings: Settings, backup_id: str, now: float | None = None,
                seconds: int = LINK_SECONDS) -> str:
    expires = int((now if now is not None else time.time()) + seconds)
    signature = _signature(signing_key(settings.ops_data_dir), backup_id, expires)
    query = urlencode({"expires": expires, "signature": signature})
    return PATH.format(backup_id=backup_id) + "?" + query


def check_link(settings: Settings, backup_id: str, expires: str, signature: str,
               now: float | None = None) -> str | None:
    """None when the link is valid, else why not (for the error body)."""
    if not BACKUP_ID.fullmatch(backup_id) or not expires.isdigit():
        return "not a backup link"
    expected = _signature(signing_key(settings.ops_data_dir), backup_id, int(expires))
    if not hmac.compare_digest(expected, signature):
        return "bad signature"
    if int(expires) < (now if now is not None else time.time()):
        return "link expired: make a new one on the Backups page"
    return None


# From /api/backups/<id>/download back to the Backups page, wherever the server is mounted.
BACKUPS_PAGE = "../../../backups"
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Backup download</title>
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;
line-height:1.5}}</style></head>
<body><h1>Backup download</h1><p>{reason}</p>
<p><a href="{back}">Back to the Backups page</a></p></body></html>
"""


# The one-line reasons a person reads, for the terse ones scripts get.
_FOR_PEOPLE = {
    "bad signature": "This link was not made by the Backups page (its signature does not "
                     "match): take a new one there.",
    "link expired: make a new one on the Backups page":
        f"This link has expired: download links work for {LINK_SECONDS // 60} minutes. "
        "Take a new one on the Backups page.",
    "not a backup link": "This is not a backup download link.",
}


def wants_html(request: Request) -> bool:
    """A browser opening the link (it asks for text/html) gets a page; scripts, curl and
    anything asking for JSON get JSON, as before."""
    accept = request.headers.get("accept", "").lower()
    return "text/html" in accept and "application/json" not in accept


def _refuse(request: Request, status: int, message: str) -> Response:
    """The reason, with the same status either way: a small page for a browser (the
    raw JSON read as an error of the dashboard), JSON for everything else."""
    if wants_html(request):
        reason = _FOR_PEOPLE.get(message) or message[:1].upper() + message[1:] + "."
        return HTMLResponse(_PAGE.format(reason=html.escape(reason), back=BACKUPS_PAGE),
                            status_code=status)
    return JSONResponse({"error": message}, status_code=status)


async def download(request: Request) -> Response:
    try:
        settings = load_settings()
    except SettingsError as error:
        return _refuse(request, 500, str(error))
    backup_id = request.path_params["backup_id"]
    problem = check_link(settings, backup_id, request.query_params.get("expires", ""),
                         request.query_params.get("signature", ""))
    if problem is not None:
        return _refuse(request, 403, problem)
    entry = next((e for e in list_backups(settings.backup_dir) if e.id == backup_id), None)
    if entry is None:
        return _refuse(request, 404, f"no backup {backup_id}")
    try:
        f = open_regular(entry.file)  # O_NOFOLLOW, then fstat: a regular file or nothing
    except OSError:  # gone, or swapped for a link since the listing
        return _refuse(request, 404, f"no backup {backup_id}")
    size = os.fstat(f.fileno()).st_size
    return StreamingResponse(_chunks(f), media_type="application/gzip", headers={
        "Content-Length": str(size),
        "Content-Disposition": f'attachment; filename="{entry.file.name}"'})


async def _chunks(f: BinaryIO) -> AsyncIterator[bytes]:
    """The open file in chunks, read on a worker thread; closed at the end or when the
    client goes away."""
    try:
        while chunk := await anyio.to_thread.run_sync(f.read, CHUNK_BYTES):
            yield chunk
    finally:
        f.close()


def routes() -> list[BaseRoute]:
    return [Route(PATH, download)]
