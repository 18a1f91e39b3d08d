"""The sftp:// copy target against a real OpenSSH sshd started by the test.

Round trips byte for byte, a wrong hash, an abort, foreign files, host keys unknown and
changed, a wrong client key, the server gone mid-upload, a full disk at the target (a
small tmpfs) and memory while fetching a large copy. Every failure is one CopyError line
that names the target and holds no key material.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ops.config import load_settings
from ops.copies.sftp import SftpTarget
from ops.copies.targets import PART_BYTES, CopyError, open_target, shown
from tests.conftest import mounted_tmpfs
from tests.sftp_server import SftpServer, keygen, public_key

NAME = "mongo-20261127T030000Z.archive.gz"
MANIFEST = f"{NAME}.json"
MB = 1 << 20


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SftpServer]:
    server = SftpServer(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[SftpServer]:
    """A server of the test's own, to stop or cut off."""
    server = SftpServer(tmp_path / "sshd")
    yield server
    server.stop()


def target_for(server: SftpServer, directory: Path, *, key: Path | None = None,
               known_hosts: Path | None = None) -> SftpTarget:
    """The target as the product opens it: settings loaded from the environment."""
    url = server.url(str(directory))
    settings = load_settings({
        "OPS_DATA_DIR": str(directory.parent),
        "BACKUP_COPY_URLS": url,
        "BACKUP_COPY_SSH_KEY_FILE": str(key or server.key_file),
        "BACKUP_COPY_KNOWN_HOSTS_FILE": str(known_hosts or server.known_hosts),
    }, env_file=None)
    assert settings.backup_copy_urls == [url]
    target = open_target(url, settings)
    assert isinstance(target, SftpTarget)
    return target


def upload(target: SftpTarget, name: str, data: bytes, *, piece: int = MB,
           sha256_hex: str | None = None) -> None:
    up = target.upload(name)
    for start in range(0, len(data), piece):
        assert up.write(data[start:start + piece]) == len(data[start:start + piece])
    up.commit(sha256_hex or hashlib.sha256(data).hexdigest())


def one_line(error: pytest.ExceptionInfo[CopyError], target: SftpTarget) -> str:
    text = str(error.value)
    assert "\n" not in text and "Traceback" not in text
    assert text.startswith(f"{target.shown}: "), text
    assert len(text) < 500, text
    return text


def without_key_material(text: str, *keys: Path) -> None:
    """No line of a private key file, nor the base64 of its public half."""
    for key in keys:
        for line in key.read_text().splitlines():
            if line and not line.startswith("-----"):
                assert line not in text
        assert public_key(key).split()[1] not in text


def names(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()} if directory.exists() else set()


def test_round_trip_byte_for_byte(shared_server: SftpServer, tmp_path: Path) -> None:
    directory = tmp_path / "copies" / "nested"  # neither exists: made 0700
    target = target_for(shared_server, directory)
    assert target.shown == shown(shared_server.url(str(directory)))
    data = os.urandom(5 * MB + 12345)
    before = datetime.now(UTC) - timedelta(seconds=5)
    # Odd write sizes: smaller and larger than one SFTP request, one byte, one MiB.
    up = target.upload(NAME)
    offset = 0
    for size in (1, 1000, 32768, 32769, 70000, MB, 3 * MB, len(data)):
        up.write(data[offset:offset + size])
        offset += size
        if offset >= len(data):
            break
    assert offset >= len(data)
    up.commit(hashlib.sha256(data).hexdigest())
    upload(target, MANIFEST, b'{"sha256": "..."}')

    listed = {f.name: f for f in target.list()}
    assert set(listed) == {NAME, MANIFEST}
    assert listed[NAME].size == len(data)
    assert before <= listed[NAME].modified <= datetime.now(UTC) + timedelta(seconds=5)
    chunks = list(target.download(NAME))
    assert all(0 < len(chunk) <= PART_BYTES for chunk in chunks)
    assert b"".join(chunks) == data
    assert b"".join(target.download(MANIFEST)) == b'{"sha256": "..."}'

    assert names(directory) == {NAME, MANIFEST}  # no temporary file left
    assert stat.S_IMODE((directory / NAME).stat().st_mode) == 0o600
    assert stat.S_IMODE((directory / MANIFEST).stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(directory.parent.stat().st_mode) == 0o700

    # A second copy under the same name replaces the first, whole.
    again = os.urandom(2 * MB)
    upload(target, NAME, again, piece=100_000)
    assert b"".join(target.download(NAME)) == again
    assert names(directory) == {NAME, MANIFEST}
    # An empty file is a file too.
    upload(target, "mongo-20261128T030000Z.archive.gz", b"")
    assert b"".join(target.download("mongo-20261128T030000Z.archive.gz")) == b""
    target.close()
    target.close()


def test_wrong_hash_leaves_nothing(shared_server: SftpServer, tmp_path: Path) -> None:
    directory = tmp_path / "copies"
    target = target_for(shared_server, directory)
    data = os.urandom(3 * MB)
    with pytest.raises(CopyError) as caught:
        upload(target, NAME, data, sha256_hex=hashlib.sha256(b"other").hexdigest())
    text = one_line(caught, target)
    assert "does not match" in text and hashlib.sha256(data).hexdigest() in text
    assert names(directory) == set()  # neither the final name nor the temporary one
    assert target.list() == []
    # The connection is still good for the next copy.
    upload(target, NAME, data)
    assert names(directory) == {NAME}
    target.close()


def test_abort_leaves_nothing(shared_server: SftpServer, tmp_path: Path) -> None:
    directory = tmp_path / "copies"
    target = target_for(shared_server, directory)
    up = target.upload(NAME)
    up.write(os.urandom(2 * MB))
    assert any(n.startswith(".partial-") for n in names(directory))
    up.abort()
    up.abort()
    assert names(directory) == set()
    with pytest.raises(CopyError):
        up.write(b"more")
    target.close()


def test_only_our_files_are_listed_fetched_or_deleted(shared_server: SftpServer,
                                                        tmp_path: Path) -> None:
    directory = tmp_path / "copies"
    target = target_for(shared_server, directory)
    upload(target, NAME, b"ours")
    upload(target, f"{NAME}.age", b"ours, encrypted")
    # Put there by hand: someone else's files, a temporary file of an upload cut off,
    # a directory named like ours.
    (directory / "notes.txt").write_text("not ours")
    (directory / f"{NAME}.bak").write_text("not ours")
    (directory / f".partial-{NAME}-0123456789ab").write_text("half a copy")
    (directory / "mongo-20261129T030000Z.archive.gz").mkdir()
    assert sorted(f.name for f in target.list()) == [NAME, f"{NAME}.age"]

    for foreign in ("notes.txt", f"{NAME}.bak"):
        with pytest.raises(CopyError) as caught:
            target.delete(foreign)
        assert "not a file this tool wrote" in one_line(caught, target)
        assert (directory / foreign).exists()
    for bad in (f"../{NAME}", f"sub/{NAME}", "", "..", f".partial-{NAME}-0123456789ab"):
        with pytest.raises(CopyError):
            target.delete(bad)
        with pytest.raises(CopyError):
            target.upload(bad)
    assert (directory / f".partial-{NAME}-0123456789ab").exists()

    target.delete(NAME)
    assert not (directory / NAME).exists()
    with pytest.raises(CopyError) as caught:
        target.delete(NAME)
    assert "No such file" in one_line(caught, target)
    with pytest.raises(CopyError) as caught:
        target.download(NAME)
    assert f"cannot open {directory / NAME}" in one_line(caught, target)
    target.close()


def test_target_path_that_is_a_file(shared_server: SftpServer, tmp_path: Path) -> None:
    occupied = tmp_path / "copies"
    occupied.write_text("a file where the directory should be")
    target = target_for(shared_server, occupied)
    for _ in range(2):  # the second call tries again, it does not skip the check
        with pytest.raises(CopyError) as caught:
            target.upload(NAME)
        assert f"cannot create the directory {occupied} (not a directory)" in one_line(
            caught, target)
    assert occupied.read_text() == "a file where the directory should be"
    occupied.unlink()
    upload(target, NAME, b"now there is room")
    assert (occupied / NAME).read_bytes() == b"now there is room"
    target.close()


def test_unknown_host_key_is_refused(shared_server: SftpServer, tmp_path: Path) -> None:
    directory = tmp_path / "copies"
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    for known in (empty, tmp_path / "missing_known_hosts"):
        target = target_for(shared_server, directory, known_hosts=known)
        with pytest.raises(CopyError) as caught:
            target.upload(NAME)
        text = one_line(caught, target)
        assert f"host key of [127.0.0.1]:{shared_server.port} is not in {known}" in text
        assert "refused" in text
        # The fingerprint the admin checks, as ssh-keygen -lf shows it.
        assert "ssh-ed25519 SHA256:" in text
        with pytest.raises(CopyError):
            target.list()
        assert not directory.exists()  # nothing written
        assert known.read_text() == "" if known.exists() else True  # nothing learned
    assert not (tmp_path / "missing_known_hosts").exists()


def test_changed_host_key_is_refused(shared_server: SftpServer, tmp_path: Path) -> None:
    directory = tmp_path / "copies"
    other = keygen(tmp_path / "old_host_key")
    known = tmp_path / "known_hosts"
    known.write_text(shared_server.known_hosts_line(other))
    target = target_for(shared_server, directory, known_hosts=known)
    with pytest.raises(CopyError) as caught:
        target.upload(NAME)
    text = one_line(caught, target)
    assert (f"host key of [127.0.0.1]:{shared_server.port} does not match the one in "
            f"{known}: refused") in text
    assert not directory.exists()
    assert known.read_text() == shared_server.known_hosts_line(other)


def test_wrong_client_key_is_refused(shared_server: SftpServer, tmp_path: Path) -> None:
    directory = tmp_path / "copies"
    stranger = keygen(tmp_path / "stranger_key")
    target = target_for(shared_server, directory, key=stranger)
    with pytest.raises(CopyError) as caught:
        target.list()
    text = one_line(caught, target)
    assert f"login as {shared_server.user} with the key {stranger} refused" in text
    without_key_material(text, stranger, shared_server.key_file)
    assert not directory.exists()

    rsa = keygen(tmp_path / "stranger_rsa", "rsa")
    target = target_for(shared_server, directory, key=rsa)
    with pytest.raises(CopyError) as caught:
        target.list()
    without_key_material(one_line(caught, target), rsa)

    # Not a key at all, a key that is not there, a key with a passphrase.
    garbage = tmp_path / "garbage_key"
    garbage.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0LWJ5dGVz\n"
                       "-----END OPENSSH PRIVATE KEY-----\n")
    with pytest.raises(CopyError) as caught:
        target_for(shared_server, directory, key=garbage).list()
    text = str(caught.value)
    assert f"cannot read the SSH key file {garbage} (not a private key)" in text
    assert "c2VjcmV0LWJ5dGVz" not in text
    with pytest.raises(CopyError) as caught:
        target_for(shared_server, directory, key=tmp_path / "absent").list()
    assert "(no such file)" in str(caught.value)
    locked = tmp_path / "locked_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "pass phrase", "-f",
                    str(locked)], check=True, capture_output=True)
    with pytest.raises(CopyError) as caught:
        target_for(shared_server, directory, key=locked).list()
    assert "passphrase" in str(caught.value)
    without_key_material(str(caught.value), locked)


@pytest.mark.parametrize("how", ["server stopped", "session killed"])
def test_server_gone_mid_upload(own_server: SftpServer, tmp_path: Path, how: str) -> None:
    directory = tmp_path / "copies"
    target = target_for(own_server, directory)
    data = os.urandom(8 * MB)
    up = target.upload(NAME)
    up.write(data[: 2 * MB])
    if how == "server stopped":
        own_server.stop()
    else:
        own_server.kill_sessions()
    with pytest.raises(CopyError) as caught:
        for start in range(2 * MB, len(data), MB):
            up.write(data[start:start + MB])
        up.commit(hashlib.sha256(data).hexdigest())
    text = one_line(caught, target)
    assert NAME in text
    assert not (directory / NAME).exists()

    # Once the server is back, the same target connects again; the cut-off copy is not
    # listed (its temporary name is never ours) and a new one goes through.
    if how == "server stopped":
        with pytest.raises(CopyError) as refused:
            target.list()
        assert f"cannot connect to 127.0.0.1:{own_server.port}" in one_line(refused, target)
        own_server.start()
    assert target.list() == []
    upload(target, NAME, data)
    assert (directory / NAME).read_bytes() == data
    target.close()


def test_full_disk_at_the_target(shared_server: SftpServer, tmp_path: Path) -> None:
    directory = tmp_path / "small"
    directory.mkdir()
    with mounted_tmpfs(directory, "size=2m,mode=0700"):
        target = target_for(shared_server, directory)
        upload(target, MANIFEST, b"{}")
        with pytest.raises(CopyError) as caught:
            upload(target, NAME, os.urandom(6 * MB))
        text = one_line(caught, target)
        assert "the target's disk may be full" in text, text
        assert not (directory / NAME).exists()
        assert names(directory) == {MANIFEST}  # the temporary file is gone too
        # Room again: the same target copies what fits.
        upload(target, NAME, b"x" * 100_000)
        assert (directory / NAME).stat().st_size == 100_000
        target.close()


def test_large_download_in_constant_memory(shared_server: SftpServer,
                                           tmp_path: Path) -> None:
    directory = tmp_path / "copies"
    directory.mkdir(mode=0o700)
    size = 64 * MB
    digest = hashlib.sha256()
    with open(directory / NAME, "wb") as out:
        for _ in range(size // MB):
            block = os.urandom(MB)
            digest.update(block)
            out.write(block)
    target = target_for(shared_server, directory)
    target.list()  # connected before measuring
    got = hashlib.sha256()
    total = 0
    tracemalloc.start()
    try:
        for chunk in target.download(NAME):
            got.update(chunk)
            total += len(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total == size and got.hexdigest() == digest.hexdigest()
    # A sanity bound far above what streaming needs (~5 MiB) and far below the file.
    assert peak < 16 * MB, f"download of 64 MiB peaked at {peak / MB:.1f} MiB"

    # The upload side (with its read-back) streams too: two 8 MiB blocks of the test
    # itself (~16 MiB) and little more.
    tracemalloc.start()
    try:
        up = target.upload("mongo-20261128T030000Z.archive.gz")
        with open(directory / NAME, "rb") as source:
            while block := source.read(PART_BYTES):
                up.write(block)
                del block
        up.commit(digest.hexdigest())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * MB, f"upload of 64 MiB peaked at {peak / MB:.1f} MiB"
    target.close()
