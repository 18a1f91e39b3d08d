"""The s3:// target: AWS S3 and every S3-compatible store (MinIO, Backblaze B2, Wasabi,
Cloudflare R2, DigitalOcean Spaces) through the AWS SDK.

    s3://bucket/prefix?endpoint=https://s3.example.com&region=eu-west-1&addressing=path

Credentials come only from the SDK's own sources (AWS_ACCESS_KEY_ID and friends, shared
files, instance or task roles); they never appear in a URL, a message or a log line. The
endpoint can also come from AWS_ENDPOINT_URL_S3, which the SDK reads itself.

Uploads hold a few parts (PART_BYTES each) in memory. A file smaller than one part is one
PutObject whose SHA-256 checksum the store verifies against the whole object; a larger one
is a multipart upload whose every part carries its SHA-256, verified by the store, and is
visible only once completed. Then the object is read back and hashed, because not every
S3-compatible store verifies the checksums it is sent; a mismatch removes it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from ops.config import Settings
from ops.copies.targets import PART_BYTES, CopyError, RemoteFile, is_ours, parameters, shown
from ops.redaction import one_line

CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 120
DOWNLOAD_CHUNK = 1 << 20
PARALLEL_PARTS = 4  # parts in flight: memory is this many parts, 32 MB


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


class S3Target:
    def __init__(self, url: str, settings: Settings) -> None:
        parts = urlsplit(url)
        options = parameters(url)
        self.shown = shown(url)
        self.bucket = parts.hostname or ""
        self.prefix = parts.path.strip("/")
        config = Config(connect_timeout=CONNECT_TIMEOUT_S, read_timeout=READ_TIMEOUT_S,
                        retries={"max_attempts": 3, "mode": "standard"},
                        s3={"addressing_style": options.get("addressing", "auto")})
        self.client: Any = boto3.session.Session().client(
            "s3", endpoint_url=options.get("endpoint"), region_name=options.get("region"),
            config=config)

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def fail(self, doing: str, exc: Exception) -> CopyError:
        """One line naming the target and what failed; the SDK's messages name no secret."""
        if isinstance(exc, NoCredentialsError):
            reason = ("no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a "
                      "shared credentials file or an instance role")
        elif isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            reason = f"{error.get('Code', 'error')}: {error.get('Message', '') or exc}"
        else:
            reason = str(exc)
        return CopyError(f"{self.shown}: {doing} failed ({one_line(reason)})")

    def upload(self, name: str) -> S3Upload:
        return S3Upload(self, name)

    def list(self) -> list[RemoteFile]:
        found = []
        start = f"{self.prefix}/" if self.prefix else ""
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=start)
            for page in pages:
                for item in page.get("Contents", []):
                    name = str(item["Key"])[len(start):]
                    if "/" not in name and is_ours(name):
                        found.append(RemoteFile(name, int(item["Size"]),
                                                item["LastModified"]))
        except (BotoCoreError, ClientError) as exc:
            raise self.fail("listing", exc) from exc
        return found

    def download(self, name: str) -> Iterator[bytes]:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.key(name))["Body"]
            yield from body.iter_chunks(DOWNLOAD_CHUNK)
        except (BotoCoreError, ClientError) as exc:
            raise self.fail(f"reading {name}", exc) from exc

    def delete(self, name: str) -> None:
        if not is_ours(name):
            raise CopyError(f"{self.shown}: {name} was not written by this tool; not deleted")
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key(name))
        except (BotoCoreError, ClientError) as exc:
            raise self.fail(f"deleting {name}", exc) from exc

    def close(self) -> None:
        self.client.close()


class S3Upload:
    """Buffers one part; the first full part starts a multipart upload, whose parts go up
    PARALLEL_PARTS at a time (as `aws s3 cp` does), so memory stays a few parts."""

    def __init__(self, target: S3Target, name: str) -> None:
        self.target = target
        self.name = name
        self.key = target.key(name)
        self.buffer = bytearray()
        self.sha256 = hashlib.sha256()
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []
        self.sent = 0
        self.pool: ThreadPoolExecutor | None = None
        self.pending: list[Future[dict[str, Any]]] = []

    def write(self, data: bytes) -> int:
        self.buffer += data
        self.sha256.update(data)
        while len(self.buffer) >= PART_BYTES:
            part = bytes(self.buffer[:PART_BYTES])
            del self.buffer[:PART_BYTES]
            self._part(part)
        return len(data)

    def _part(self, data: bytes) -> None:
        if self.upload_id is None:
            try:
                self.upload_id = str(self.target.client.create_multipart_upload(
                    Bucket=self.target.bucket, Key=self.key, ChecksumAlgorithm="SHA256")[
                    "UploadId"])
            except (BotoCoreError, ClientError) as exc:
                raise self.target.fail(f"uploading {self.name}", exc) from exc
            self.pool = ThreadPoolExecutor(PARALLEL_PARTS, thread_name_prefix="s3-part")
        assert self.pool is not None
        self.sent += 1
        self.pending.append(self.pool.submit(self._send, self.sent, data))
        if len(self.pending) >= PARALLEL_PARTS:
            self.parts.append(self.pending.pop(0).result())

    def _send(self, number: int, data: bytes) -> dict[str, Any]:
        checksum = _b64(hashlib.sha256(data).digest())
        try:
            answer = self.target.client.upload_part(
                Bucket=self.target.bucket, Key=self.key, UploadId=self.upload_id,
                PartNumber=number, Body=data, ChecksumAlgorithm="SHA256",
                ChecksumSHA256=checksum)
        except (BotoCoreError, ClientError) as exc:
            raise self.target.fail(f"uploading {self.name}", exc) from exc
        return {"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": checksum}

    def _all_sent(self) -> None:
        while self.pending:
            self.parts.append(self.pending.pop(0).result())
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None

    def commit(self, sha256_hex: str) -> None:
        if self.sha256.hexdigest() != sha256_hex:
            raise CopyError(f"{self.target.shown}: {self.name} changed while it was copied "
                            "(sha256 differs); not kept")
        client, bucket = self.target.client, self.target.bucket
        try:
            if self.upload_id is None:  # smaller than one part: the store checks it whole
                client.put_object(Bucket=bucket, Key=self.key, Body=bytes(self.buffer),
                                  ChecksumAlgorithm="SHA256",
                                  ChecksumSHA256=_b64(bytes.fromhex(sha256_hex)))
            else:
                if self.buffer:
                    self._part(bytes(self.buffer))
                    self.buffer.clear()
                self._all_sent()
                client.complete_multipart_upload(
                    Bucket=bucket, Key=self.key, UploadId=self.upload_id,
                    MultipartUpload={"Parts": self.parts})
        except (BotoCoreError, ClientError) as exc:
            self.abort()
            raise self.target.fail(f"completing {self.name}", exc) from exc
        self._read_back(sha256_hex)

    def _read_back(self, sha256_hex: str) -> None:
        """Hash what the store now holds: not every S3-compatible store checks the
        checksums it is sent. A mismatch removes the object."""
        stored = hashlib.sha256()
        for chunk in self.target.download(self.name):
            stored.update(chunk)
        if stored.hexdigest() != sha256_hex:
            self.target.delete(self.name)
            raise CopyError(f"{self.target.shown}: {self.name} as stored does not match what "
                            "was sent (sha256); removed")

    def abort(self) -> None:
        for future in self.pending:
            future.cancel()
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
        self.pending.clear()
        if self.upload_id is None:
            return
        # An unfinished upload is invisible either way; a store's lifecycle rule expires it.
        with contextlib.suppress(BotoCoreError, ClientError):
            self.target.client.abort_multipart_upload(
                Bucket=self.target.bucket, Key=self.key, UploadId=self.upload_id)
        self.upload_id = None
