"""A real SFTP server for tests and benchmarks: Debian's OpenSSH sshd, run by the test.

It listens on 127.0.0.1 and a free port with a host key, configuration, authorized key
and known_hosts file of its own, all in `workdir`; the client key it generates is the
only way in (no password, no PAM). Sessions are served by sshd's internal-sftp.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import subprocess
from pathlib import Path

import psutil

from tests.servers import free_port, terminate, wait_for_port

SSHD = Path("/usr/sbin/sshd")


def keygen(path: Path, kind: str = "ed25519") -> Path:
    """A new key pair without passphrase: `path` (private) and `path`.pub."""
    binary = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"
    subprocess.run([binary, "-q", "-t", kind, "-N", "", "-C", path.name, "-f", str(path)],
                   check=True, capture_output=True)
    return path


def public_key(path: Path) -> str:
    """The `type base64` part of a public key file."""
    return " ".join(Path(f"{path}.pub").read_text().split()[:2])


class SftpServer:
    """sshd on a loopback port; `stop()` ends it and every session it serves."""

    def __init__(self, workdir: Path) -> None:
        if not SSHD.exists():
            raise RuntimeError(f"{SSHD} is missing: install the Debian package "
                               f"openssh-server")
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.user = getpass.getuser()
        self.host_key = keygen(workdir / "host_key")
        self.key_file = keygen(workdir / "client_key")
        self.authorized_keys = workdir / "authorized_keys"
        self.authorized_keys.write_text(public_key(self.key_file) + "\n")
        self.known_hosts = workdir / "known_hosts"
        self.known_hosts.write_text(self.known_hosts_line())
        self.config = workdir / "sshd_config"
        self.config.write_text("\n".join([
            "ListenAddress 127.0.0.1",
            f"Port {self.port}",
            f"HostKey {self.host_key}",
            f"PidFile {workdir / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.authorized_keys}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "PermitRootLogin prohibit-password",
            "AllowTcpForwarding no",
            "X11Forwarding no",
            "Subsystem sftp internal-sftp",
            "LogLevel VERBOSE",
            "",
        ]))
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def known_hosts_line(self, key: Path | None = None) -> str:
        """A known_hosts line for this server's address with `key` (default its own)."""
        return f"[127.0.0.1]:{self.port} {public_key(key or self.host_key)}\n"

    def url(self, path: str) -> str:
        return f"sftp://{self.user}@127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        # The privilege separation directory sshd insists on (as a package install makes).
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        with open(self.workdir / "sshd.log", "ab") as log:
            self.proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(self.config)],
                                         stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        try:
            wait_for_port(self.port)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"sshd did not start: {self.log()[-2000:]}") from None

    def sessions(self) -> list[psutil.Process]:
        """The processes serving connections now (sshd forks one or two per session)."""
        if self.proc is None:
            return []
        try:
            return list(psutil.Process(self.proc.pid).children(recursive=True))
        except psutil.NoSuchProcess:
            return []

    def kill_sessions(self) -> None:
        """Every connected client loses its connection; new ones are still accepted."""
        for process in self.sessions():
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()

    def stop(self) -> None:
        """sshd and each session it serves (a session outlives the listener otherwise)."""
        if self.proc is None:
            return
        sessions = self.sessions()
        terminate(self.proc)
        for process in sessions:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        psutil.wait_procs(sessions, timeout=10)
        self.proc = None

    def log(self) -> str:
        path = self.workdir / "sshd.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __enter__(self) -> SftpServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def have_sshd() -> bool:
    return SSHD.exists() and os.access(SSHD, os.X_OK)
