"""SFTP copy benchmark: SftpTarget against OpenSSH's own sftp client, same file, same sshd.

    .venv/bin/python -m bench.bench_copy_sftp [SIZE_MB] [RUNS]

Starts Debian's sshd on a loopback port (tests.sftp_server.SftpServer), writes a file of
random bytes (a gzip archive does not compress further), then per run:

- our upload: SftpTarget.upload() + write() in PART_BYTES blocks + commit(), which
  closes the file, checks its size, reads it back and hashes it, then renames it; the
  read-back is timed on its own too, so the figure without it is shown beside;
- `sftp -b` with `put` of the same file (OpenSSH's client, its default cipher);
- our download (SftpTarget.download) and `sftp get`, for the way back.

Then the peak RSS of a fresh process doing one upload + commit, beside one that only
connects (so the difference is what the copy itself costs). Prints medians; the figures
go to BENCHMARKS.md by hand.
"""

from __future__ import annotations

import hashlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import machine
from ops.config import load_settings
from ops.copies.sftp import SftpTarget, SftpUpload
from ops.copies.targets import PART_BYTES, open_target
from tests.sftp_server import SftpServer

NAME = "mongo-20261127T030000Z.archive.gz"
MB = 1 << 20


def target_for(server: SftpServer, directory: Path) -> SftpTarget:
    url = server.url(str(directory))
    settings = load_settings({"OPS_DATA_DIR": str(directory.parent), "BACKUP_COPY_URLS": url,
                              "BACKUP_COPY_SSH_KEY_FILE": str(server.key_file),
                              "BACKUP_COPY_KNOWN_HOSTS_FILE": str(server.known_hosts)},
                             env_file=None)
    target = open_target(url, settings)
    assert isinstance(target, SftpTarget)
    return target


def random_file(path: Path, size_mb: int) -> str:
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        for _ in range(size_mb):
            block = os.urandom(MB)
            digest.update(block)
            out.write(block)
    return digest.hexdigest()


def our_upload(target: SftpTarget, source: Path, sha256_hex: str) -> tuple[float, float]:
    """Seconds for upload + commit in full, and of those the read-back hash."""
    started = time.perf_counter()
    upload = target.upload(NAME)
    assert isinstance(upload, SftpUpload)
    with open(source, "rb") as data:
        while block := data.read(PART_BYTES):
            upload.write(block)
    # commit() step by step, to time the read-back on its own.
    upload.finish_writing()
    checking = time.perf_counter()
    upload.check_content(sha256_hex)
    checked = time.perf_counter() - checking
    upload.publish()
    return time.perf_counter() - started, checked


def our_download(target: SftpTarget, sha256_hex: str) -> float:
    started = time.perf_counter()
    digest = hashlib.sha256()
    for chunk in target.download(NAME):
        digest.update(chunk)
    took = time.perf_counter() - started
    assert digest.hexdigest() == sha256_hex
    return took


def sftp_command(server: SftpServer, batch: str, workdir: Path,
                 verbose: bool = False) -> tuple[float, str]:
    batch_file = workdir / "batch"
    batch_file.write_text(batch)
    command = ["sftp", "-q", "-b", str(batch_file), "-i", str(server.key_file),
               "-o", f"UserKnownHostsFile={server.known_hosts}",
               "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
               "-o", "IdentitiesOnly=yes", "-P", str(server.port),
               f"{server.user}@127.0.0.1"]
    if verbose:
        command[1] = "-v"
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, done.stderr


_LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]])
_, status, usage = os.wait4(child.pid, 0)
sys.exit(os.waitstatus_to_exitcode(status) or print(usage.ru_maxrss))
"""


def child_peak_rss_mb(code: str) -> float:
    """Peak RSS (ru_maxrss) of a fresh Python process running `code`; a launcher forks
    it, so the parent's RSS at the fork (which Linux counts in ru_maxrss) is not ours."""
    out = subprocess.run([sys.executable, "-c", _LAUNCHER, code], capture_output=True,
                         text=True, check=True, cwd=Path(__file__).parents[1])
    return int(out.stdout.split()[-1]) / 1024


def rss_code(server: SftpServer, directory: Path, source: Path | None,
             sha256_hex: str) -> str:
    setup = (
        "from pathlib import Path; from bench.bench_copy_sftp import target_for, our_upload;"
        " from tests.sftp_server import SftpServer;"
        " server = SftpServer.__new__(SftpServer);"
        f" server.port = {server.port}; server.user = {server.user!r};"
        f" server.key_file = Path({str(server.key_file)!r});"
        f" server.known_hosts = Path({str(server.known_hosts)!r});"
        f" target = target_for(server, Path({str(directory)!r})); target.list();")
    if source is None:
        return setup + " target.close()"
    return setup + f" our_upload(target, Path({str(source)!r}), {sha256_hex!r}); target.close()"


def main() -> None:
    size_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        work = Path(tmp)
        server = SftpServer(work / "sshd")
        try:
            source = work / "source.bin"
            sha = random_file(source, size_mb)
            directory = work / "copies"
            target = target_for(server, directory)
            target.list()
            transport = target._client.get_transport() if target._client else None
            ours_cipher = transport.local_cipher if transport else "?"
            _, verbose = sftp_command(server, "pwd\n", work, verbose=True)
            cipher = re.search(r"client->server cipher: (\S+)", verbose)
            print(f"file: {size_mb} MiB of random bytes; sshd {server.port} on 127.0.0.1; "
                  f"ciphers: ours {ours_cipher}, sftp {cipher.group(1) if cipher else '?'}")

            full: list[float] = []
            without: list[float] = []
            put: list[float] = []
            down: list[float] = []
            get: list[float] = []
            for run in range(runs):
                took, checked = our_upload(target, source, sha)
                full.append(took)
                without.append(took - checked)
                down.append(our_download(target, sha))
                (directory / NAME).unlink()
                took, _ = sftp_command(server, f"put {source} {directory}/put.bin\n", work)
                put.append(took)
                took, _ = sftp_command(
                    server, f"get {directory}/put.bin {work}/got.bin\n", work)
                get.append(took)
                (directory / "put.bin").unlink()
                (work / "got.bin").unlink()
                print(f"  run {run + 1}: ours {size_mb / full[-1]:.1f} MiB/s "
                      f"({size_mb / without[-1]:.1f} without read-back), "
                      f"sftp put {size_mb / put[-1]:.1f} MiB/s; download ours "
                      f"{size_mb / down[-1]:.1f}, sftp get {size_mb / get[-1]:.1f} MiB/s")
            target.close()

            def rate(seconds: list[float]) -> str:
                median = statistics.median(seconds)
                return f"{size_mb / median:7.1f} MiB/s  (median {median:.2f} s of {runs})"

            print(f"upload, SftpTarget upload+commit (with read-back): {rate(full)}")
            print(f"upload, SftpTarget without the read-back:          {rate(without)}")
            print(f"upload, OpenSSH sftp put:                          {rate(put)}")
            print(f"download, SftpTarget.download (hashed):            {rate(down)}")
            print(f"download, OpenSSH sftp get:                        {rate(get)}")

            base = child_peak_rss_mb(rss_code(server, directory, None, sha))
            peak = child_peak_rss_mb(rss_code(server, directory, source, sha))
            print(f"peak RSS, fresh process: connect only {base:.1f} MiB, "
                  f"upload+commit of {size_mb} MiB {peak:.1f} MiB "
                  f"(+{peak - base:.1f} MiB)")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
