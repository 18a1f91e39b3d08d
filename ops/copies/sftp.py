"""sftp:// copy targets: `sftp://user@host:port/path` through paramiko.

The server must already be known: its key is checked against the known_hosts file
(BACKUP_COPY_KNOWN_HOSTS_FILE, default ~/.ssh/known_hosts) and an unknown or changed key
is refused, never learned. Login is by the key file alone (BACKUP_COPY_SSH_KEY_FILE): no
agent, no default keys, no password.

A file is written under a temporary name in the target directory (`.partial-<name>-<hex>`,
which no listing, fetch or prune takes for ours), then its size is checked, it is read
back and hashed, and only when the SHA-256 matches is it renamed over the final name. So
a file under its final name is always complete and checked. Files are 0600 and a
directory this target creates is 0700.

One target is used by one thread at a time (paramiko's SFTP client is not shared).
Every failure is CopyError with one line: `<url as shown>: <what failed> (<reason>)`.
"""

from __future__ import annotations

import errno
import hashlib
import posixpath
import secrets
import stat
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import unquote, urlsplit

import paramiko
from paramiko.pkey import UnknownKeyType
from paramiko.sftp import CMD_DATA, CMD_READ, CMD_STATUS, int64

from ops import redaction
from ops.config import Settings
from ops.copies.targets import PART_BYTES, CopyError, RemoteFile, is_ours, shown

CONNECT_SECONDS = 10.0  # TCP connect, SSH banner, key exchange, login, opening SFTP
IO_SECONDS = 60.0  # one SFTP request without an answer: the server is gone
TEMP_PREFIX = ".partial-"
_REQUEST = paramiko.SFTPFile.MAX_REQUEST_SIZE  # paramiko writes and reads in these
_READ_AHEAD = 64  # read requests in flight while fetching (64 x 32 KiB)
_YIELD_BYTES = min(PART_BYTES, 1 << 20)
_FAILED = (OSError, EOFError, paramiko.SSHException)


class _HostKeyUnknown(paramiko.SSHException):
    def __init__(self, host: str, key: paramiko.PKey) -> None:
        super().__init__(f"{host} offers {key.get_name()} {key.fingerprint}")
        self.host = host
        self.key = key


class _RefuseUnknown(paramiko.RejectPolicy):
    """paramiko's RejectPolicy, keeping the offered key so the refusal can show its
    fingerprint (what the admin compares before adding it to known_hosts)."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str,
                         key: paramiko.PKey) -> NoReturn:
        raise _HostKeyUnknown(hostname, key)


def _reason(error: BaseException) -> str:
    """The cause of a failure in a few words, fit to show: never key material."""
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, EOFError):
        return " ".join(str(error).split()) or "connection closed by the server"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    if type(error) is OSError and error.args:  # an SFTP status such as "Failure"
        return " ".join(str(error.args[0]).split())
    text = redaction.clean(error, 200)
    return text or type(error).__name__


def _disk_full(error: BaseException) -> bool:
    """OpenSSH's SFTP server answers a write on a full disk with the bare status
    "Failure" (SFTP v3 has no code for it); a local ENOSPC may be passed up too."""
    if not isinstance(error, OSError):
        return False
    return error.errno in (errno.ENOSPC, errno.EDQUOT) or (
        error.errno is None and str(error).strip() == "Failure")


class SftpTarget:
    """One sftp:// entry of BACKUP_COPY_URLS; connects on first use."""

    def __init__(self, url: str, settings: Settings) -> None:
        parts = urlsplit(url)
        self.shown = shown(url)
        self._host = parts.hostname or ""
        self._port = parts.port or 22
        self._user = unquote(parts.username or "")
        self.directory = unquote(parts.path).rstrip("/") or ("/" if parts.path else ".")
        self._key_file = settings.backup_copy_ssh_key_file
        self._known_hosts = (settings.backup_copy_known_hosts_file
                             or Path("~/.ssh/known_hosts").expanduser())
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None

    # --- the connection ---

    def _fail(self, what: str, reason: str) -> CopyError:
        return CopyError(redaction.one_line(f"{self.shown}: {what} ({reason})"))

    @contextmanager
    def _doing(self, what: str) -> Iterator[None]:
        """Turns every SSH, SFTP or socket failure inside into CopyError naming `what`;
        the connection is dropped, so the next call connects again (a killed session
        can fail a call before its transport notices it is gone)."""
        try:
            yield
        except CopyError:
            raise
        except _FAILED as error:
            self.close()
            raise self._fail(what, _reason(error)) from error

    def _key(self) -> paramiko.PKey:
        if self._key_file is None:
            raise self._fail("no SSH key to log in with",
                             "set BACKUP_COPY_SSH_KEY_FILE to a private key file")
        path = self._key_file
        try:
            return paramiko.PKey.from_path(path)
        except FileNotFoundError:
            reason = "no such file"
        except PermissionError:
            reason = "permission denied"
        except IsADirectoryError:
            reason = "is a directory"
        except TypeError as error:  # the cryptography package: encrypted, no password
            protected = any(w in str(error).lower() for w in ("encrypt", "password"))
            reason = ("it is protected by a passphrase; give a key without one"
                      if protected else "not a private key")
        except UnknownKeyType:
            reason = "a key type paramiko does not know"
        except (ValueError, paramiko.SSHException, OSError) as error:
            # Never the parser's words: some quote the bytes they could not read.
            reason = "not a private key" if not isinstance(error, OSError) else (
                error.strerror or type(error).__name__)
        # No cause chained: a parser's message may quote bytes of the key, and the cause
        # is logged with the traceback.
        raise self._fail(f"cannot read the SSH key file {path}", reason)

    def _connect(self) -> paramiko.SFTPClient:
        if self._sftp is not None:
            return self._sftp
        key = self._key()
        client = paramiko.SSHClient()
        known = self._known_hosts
        if known.is_file():
            try:
                client.load_system_host_keys(str(known))
            except (OSError, paramiko.SSHException, ValueError) as error:
                client.close()
                raise self._fail(f"cannot read the known_hosts file {known}",
                                 _reason(error)) from error
        client.set_missing_host_key_policy(_RefuseUnknown())
        hostname = (self._host if self._port == 22
                    else f"[{self._host}]:{self._port}")
        try:
            client.connect(self._host, self._port, username=self._user, pkey=key,
                           allow_agent=False, look_for_keys=False,
                           timeout=CONNECT_SECONDS, banner_timeout=CONNECT_SECONDS,
                           auth_timeout=CONNECT_SECONDS, channel_timeout=CONNECT_SECONDS)
            sftp = client.open_sftp()
            channel = sftp.get_channel()
            if channel is not None:
                channel.settimeout(IO_SECONDS)
        except _HostKeyUnknown as error:
            client.close()
            where = known if known.is_file() else f"{known}, which does not exist"
            raise self._fail(
                f"host key of {hostname} is not in {where}: refused",
                f"it offers {error.key.get_name()} {error.key.fingerprint}; after checking "
                f"that fingerprint: ssh-keyscan -p {self._port} {self._host} >> {known}",
            ) from error
        except paramiko.BadHostKeyException as error:
            client.close()
            raise self._fail(
                f"host key of {hostname} does not match the one in {known}: refused",
                f"it offers {error.key.get_name()} {error.key.fingerprint}; the host was "
                f"rebuilt, or someone is in between",
            ) from error
        except paramiko.AuthenticationException as error:
            client.close()
            raise self._fail(f"login as {self._user} with the key {self._key_file} refused",
                             _reason(error)) from error
        except _FAILED as error:
            client.close()
            raise self._fail(f"cannot connect to {self._host}:{self._port}",
                             _reason(error)) from error
        self._client = client
        with self._doing(f"cannot create the directory {self.directory}"):
            try:
                self._make_directory(sftp, self.directory)
            except BaseException:
                self.close()
                raise
        self._sftp = sftp
        return sftp

    def _make_directory(self, sftp: paramiko.SFTPClient, directory: str) -> None:
        """`directory` and any missing parent, each made 0700."""
        missing: list[str] = []
        path = directory
        while path not in ("", ".", "/"):
            try:
                if not stat.S_ISDIR(sftp.stat(path).st_mode or 0):
                    raise NotADirectoryError(errno.ENOTDIR, "not a directory")
                break
            except FileNotFoundError:
                missing.append(path)
                path = posixpath.dirname(path)
        for path in reversed(missing):
            sftp.mkdir(path, 0o700)

    def _path(self, name: str) -> str:
        if not name or "/" in name or name in (".", "..") or name.startswith(TEMP_PREFIX):
            raise self._fail(f"refused the file name {name!r}", "a plain file name is needed")
        return posixpath.join(self.directory, name)

    # --- Target ---

    def upload(self, name: str) -> SftpUpload:
        path = self._path(name)
        sftp = self._connect()
        temp = posixpath.join(self.directory,
                              f"{TEMP_PREFIX}{name}-{secrets.token_hex(6)}")
        with self._doing(f"cannot create {temp}"):
            handle = sftp.open(temp, "wxb")
            try:
                handle.chmod(0o600)
                handle.set_pipelined(True)
            except BaseException:
                handle.close()
                _remove_quietly(sftp, temp)
                raise
        return SftpUpload(self, sftp, handle, temp, path)

    def list(self) -> list[RemoteFile]:
        sftp = self._connect()
        with self._doing(f"cannot list {self.directory}"):
            entries = sftp.listdir_attr(self.directory)
        return [RemoteFile(entry.filename, entry.st_size or 0,
                           datetime.fromtimestamp(entry.st_mtime or 0, UTC))
                for entry in entries
                if is_ours(entry.filename) and stat.S_ISREG(entry.st_mode or 0)]

    def download(self, name: str) -> Iterator[bytes]:
        """Opens the file at once (CopyError here when it cannot be), then streams it."""
        path = self._path(name)
        sftp = self._connect()
        with self._doing(f"cannot open {path}"):
            handle = sftp.open(path, "rb")
            try:
                size = handle.stat().st_size or 0
            except BaseException:
                handle.close()
                raise

        return self._stream(sftp, path, handle, size)

    def _stream(self, sftp: paramiko.SFTPClient, path: str, handle: paramiko.SFTPFile,
                size: int) -> Iterator[bytes]:
        try:
            with self._doing(f"cannot read {path}"):
                yield from _chunks(sftp, handle, size)
        finally:
            with self._doing(f"cannot close {path}"):
                handle.close()

    def delete(self, name: str) -> None:
        path = self._path(name)
        if not is_ours(name):
            raise self._fail(f"refused to delete {path}", "not a file this tool wrote")
        sftp = self._connect()
        with self._doing(f"cannot delete {path}"):
            sftp.remove(path)

    def close(self) -> None:
        sftp, client = self._sftp, self._client
        self._sftp = self._client = None
        for closing in (sftp, client):
            if closing is not None:
                with suppress(*_FAILED):
                    closing.close()


class SftpUpload:
    """A file being written to a temporary name beside its final name.

    Writes are pipelined (paramiko does not wait for each answer); the last request is
    held back and sent unpipelined at commit, which makes paramiko collect the answer to
    every write before it, so a write the server refused (a full disk) is never missed.
    """

    def __init__(self, target: SftpTarget, sftp: paramiko.SFTPClient,
                 handle: paramiko.SFTPFile, temp: str, path: str) -> None:
        self._target = target
        self._sftp = sftp
        self._handle = handle
        self.temp = temp
        self.path = path
        self.name = posixpath.basename(path)
        self.written = 0
        self._tail = b""  # the newest bytes, written at commit
        self._done = False

    def write(self, data: bytes) -> int:
        if self._done:
            raise self._target._fail(f"cannot write {self.name}", "the upload is finished")
        view = memoryview(data)
        if len(self._tail) + len(view) <= _REQUEST:
            self._tail += bytes(view)
        else:
            keep = min(len(view), _REQUEST)
            self._send(self._tail)
            self._send(view[: len(view) - keep])
            self._tail = bytes(view[len(view) - keep:])
        self.written += len(view)
        return len(view)

    def _send(self, data: bytes | memoryview) -> None:
        if not data:
            return
        try:
            self._handle.write(data)
        except _FAILED as error:
            self._failed_writing(error)

    def _failed_writing(self, error: BaseException) -> None:
        self.abort()
        if _disk_full(error):
            raise self._target._fail(
                f"writing {self.name} failed: the target's disk may be full",
                f"the server answered: {_reason(error)}") from error
        reason = _reason(error)
        if not _connected(self._sftp):
            reason = f"the connection was lost: {reason}"
        self._target.close()  # the next call connects again, whatever state this one is in
        raise self._target._fail(f"writing {self.name} failed", reason) from error

    def commit(self, sha256_hex: str) -> None:
        if self._done:
            raise self._target._fail(f"cannot commit {self.name}", "the upload is finished")
        try:
            self.finish_writing()
            self.check_content(sha256_hex)
            self.publish()
        except BaseException:
            self.abort()
            raise

    def finish_writing(self) -> None:
        """Every byte sent and acknowledged, the file closed, its size as written."""
        try:
            self._handle.set_pipelined(False)
            self._send(self._tail)
            self._tail = b""
            self._handle.close()
        except _FAILED as error:
            self._failed_writing(error)
        with self._target._doing(f"cannot check the size of {self.name} (as {self.temp})"):
            size = self._sftp.stat(self.temp).st_size
        if size != self.written:
            raise self._target._fail(f"{self.name} is incomplete at the target",
                                     f"{size} bytes stored of {self.written} written")

    def check_content(self, sha256_hex: str) -> None:
        """The file read back from the server hashes to `sha256_hex`."""
        digest = hashlib.sha256()
        with (self._target._doing(f"cannot read back {self.name} (as {self.temp})"),
              self._sftp.open(self.temp, "rb") as handle):
            for chunk in _chunks(self._sftp, handle, self.written):
                digest.update(chunk)
        if digest.hexdigest() != sha256_hex.lower():
            raise self._target._fail(
                f"{self.name} read back does not match what was sent",
                f"sha256 {digest.hexdigest()}, expected {sha256_hex}")

    def publish(self) -> None:
        """The checked file under its final name (replacing one there)."""
        with self._target._doing(f"cannot rename {self.temp} to {self.path}"):
            self._sftp.posix_rename(self.temp, self.path)
        self._done = True

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        self._tail = b""
        with suppress(*_FAILED):
            self._handle.close()
        _remove_quietly(self._sftp, self.temp)


def _connected(sftp: paramiko.SFTPClient) -> bool:
    channel = sftp.get_channel()
    return (channel is not None and not channel.closed
            and channel.get_transport().is_active())


def _remove_quietly(sftp: paramiko.SFTPClient, path: str) -> None:
    """Best effort: a connection that is gone cannot remove anything; the name left
    behind is never taken for ours."""
    with suppress(*_FAILED):
        sftp.remove(path)


class _EarlyAnswers:
    """Where paramiko puts an answer that arrives before the one being waited for."""

    def __init__(self) -> None:
        self.answers: dict[int, tuple[int, Any]] = {}

    def _async_response(self, kind: int, message: Any, number: int) -> None:
        self.answers[number] = (kind, message)


def _chunks(sftp: paramiko.SFTPClient, handle: paramiko.SFTPFile,
            size: int) -> Iterator[bytes]:
    """The file's first `size` bytes in chunks of about 1 MiB, with _READ_AHEAD read
    requests in flight, so memory stays the same whatever the file's size.

    paramiko's own prefetch is not used: with a bound on requests in flight it can end
    early (when every answer so far was taken before its thread sent the next request),
    after which each answer still coming is kept in memory unread (the whole file)."""
    client: Any = sftp  # paramiko's request and answer calls (typed stubs lack them)
    early = _EarlyAnswers()
    in_flight: deque[tuple[int, int, int]] = deque()  # request number, offset, length
    asked = 0
    buffer = bytearray()
    while asked < size or in_flight:
        while asked < size and len(in_flight) < _READ_AHEAD:
            length = min(_REQUEST, size - asked)
            number = client._async_request(early, CMD_READ, handle.handle, int64(asked),
                                           length)
            in_flight.append((number, asked, length))
            asked += length
        number, offset, length = in_flight.popleft()
        if number in early.answers:
            kind, message = early.answers.pop(number)
            if kind == CMD_STATUS:
                client._convert_status(message)
        else:
            kind, message = client._read_response(number)
        if kind != CMD_DATA:
            raise paramiko.SFTPError(f"expected data at byte {offset}")
        data: bytes = message.get_string()
        if 0 < len(data) < length:  # a short read: ask for the rest in turn
            handle.seek(offset + len(data))
            data += handle.read(length - len(data))
        if len(data) != length:
            raise EOFError(f"the file ended at byte {offset + len(data)} of {size}")
        buffer += data
        if len(buffer) >= _YIELD_BYTES:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)
