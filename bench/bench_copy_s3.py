"""Copy throughput and memory to a local S3 API (moto's server): our copy of a backup
(streamed, hashed against the manifest, 8 MB parts with SHA-256, then read back and hashed)
plain and age-encrypted, beside boto3's upload_file - what `aws s3 cp` does, with its
parallel parts and no read-back. Each run is a fresh process, so its peak RSS is its own.

Run: .venv/bin/python -m bench.bench_copy_s3 [size_mb] [runs]   (default 256 MB, 3 runs)
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import machine
from tests.s3_server import CREDENTIALS, S3Server

BUCKET = "bench-copies"
NAME = "mongo-20261206T030000Z.archive.gz"


def make_backup(directory: Path, size_mb: int) -> Path:
    """A file of random bytes (like compressed data) with a manifest that matches it."""
    from ops.backup.manifest import Manifest, manifest_path, write_manifest

    path = directory / NAME
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        for _ in range(size_mb):
            block = os.urandom(1 << 20)
            digest.update(block)
            out.write(block)
    now = datetime.now(UTC)
    write_manifest(Manifest(id=NAME.removesuffix(".archive.gz"), file=NAME,
                            sha256=digest.hexdigest(), size_bytes=size_mb << 20, started=now,
                            finished=now, duration_s=0.0, server_version="7.0.0",
                            tool="bench", verified=True), manifest_path(path))
    return path


def one_run(kind: str, path: str, endpoint: str) -> None:
    """In a child process: copy once, print seconds and peak RSS as JSON."""
    from ops.backup.catalogue import entry_for
    from ops.config import load_settings
    from ops.copies.copier import copy_to
    from ops.copies.s3 import S3Target

    url = f"s3://{BUCKET}/{kind}?endpoint={endpoint}&addressing=path"
    settings = load_settings({"OPS_DATA_DIR": str(Path(path).parent)}, env_file=None)
    started = time.perf_counter()
    if kind == "upload_file":
        import boto3

        boto3.client("s3", endpoint_url=endpoint).upload_file(path, BUCKET,
                                                              f"{kind}/{NAME}")
    else:
        key = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
        copy_to(entry_for(Path(path)), S3Target(url, settings),
                [key] if kind == "ours_encrypted" else None)
    seconds = time.perf_counter() - started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "rss_mb": rss_mb}))


def main(size_mb: int = 256, runs: int = 3) -> None:
    print(machine())
    os.environ.update(CREDENTIALS)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        server = S3Server(work / "s3")
        server.start()
        try:
            server.bucket(BUCKET)
            path = make_backup(work, size_mb)
            print(f"{size_mb} MB of random bytes to moto_server on 127.0.0.1, {runs} runs each")
            for kind in ("upload_file", "ours_plain", "ours_encrypted"):
                results = []
                for _ in range(runs):
                    answer = subprocess.run(
                        [sys.executable, "-m", "bench.bench_copy_s3", "--one", kind, str(path),
                         server.endpoint], capture_output=True, text=True, check=True,
                        env={**os.environ})
                    results.append(json.loads(answer.stdout.strip().splitlines()[-1]))
                seconds = statistics.median(r["seconds"] for r in results)
                rss = statistics.median(r["rss_mb"] for r in results)
                print(f"{kind:<15} median {seconds:6.2f} s = {size_mb / seconds:6.1f} MB/s, "
                      f"peak RSS {rss:6.1f} MB")
        finally:
            server.stop()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        one_run(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        main(*(int(a) for a in sys.argv[1:3]))
