"""A real Docker engine for tests and benchmarks: Debian's dockerd, started as root in a
directory of its own (data, exec root, pid file, a unix socket), with vfs storage and no
network set-up, so it touches nothing of the machine's own Docker.

No registry is reachable, so the image is made here: Debian's busybox-static and its
applet links in an otherwise empty rootfs, `docker import`ed. Containers run with
`--network none`.

Stopping removes every container, stops the daemon, unmounts what it leaves under its
exec root (`netns/default`) and removes the directory.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.servers import wait_until

IMAGE = "ops-test-busybox:1"
# A shell that doubles a string until the memory limit stops it: the shell itself (the
# container's main process) grows, so the OOM killer ends the container.
HUNGRY = 'sleep 1; a=x; while :; do a="$a$a"; done'
BUSYBOX = Path(shutil.which("busybox") or "/bin/busybox")


class EngineUnavailableError(RuntimeError):
    """dockerd is missing or did not start here; the message is its own error."""


class DockerEngine:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "docker.sock"
        self.host = f"unix://{self.socket}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> DockerEngine:
        for tool in ("dockerd", "docker"):
            if shutil.which(tool) is None:
                raise EngineUnavailableError(f"{tool} is not installed (Debian package docker.io)")
        if os.geteuid() != 0:
            raise EngineUnavailableError("dockerd needs root here")
        for name in ("data", "exec"):
            (self.root / name).mkdir(parents=True, exist_ok=True)
        log = (self.root / "dockerd.log").open("wb")
        self.proc = subprocess.Popen(
            ["dockerd", "--data-root", str(self.root / "data"), "--exec-root",
             str(self.root / "exec"), "--pidfile", str(self.root / "dockerd.pid"),
             "-H", self.host, "--storage-driver", "vfs", "--iptables=false",
             "--ip-masq=false", "--bridge=none"], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise EngineUnavailableError(self._last_error())
            if self.socket.exists() and self.docker("version", check=False).returncode == 0:
                return self
            time.sleep(0.2)
        raise EngineUnavailableError(f"dockerd did not answer in 60 s: {self._last_error()}")

    def _last_error(self) -> str:
        lines = (self.root / "dockerd.log").read_text(errors="replace").splitlines()
        errors = [line for line in lines if "level=error" in line or "level=fatal" in line]
        return (errors or lines or ["no output"])[-1]

    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.host}

    def docker(self, *args: str, check: bool = True,
               stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(["docker", *args], env=self.env(), capture_output=True,
                                input=None if stdin is None else stdin.decode(), text=True,
                                timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)}: {result.stderr.strip()}")
        return result

    def busybox_image(self) -> str:
        """The tiny image, imported once per engine."""
        if self.docker("image", "inspect", IMAGE, check=False).returncode == 0:
            return IMAGE
        rootfs = self.root / "rootfs"
        (rootfs / "bin").mkdir(parents=True, exist_ok=True)
        (rootfs / "tmp").mkdir(exist_ok=True)
        shutil.copy2(BUSYBOX, rootfs / "bin" / "busybox")
        applets = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True,
                                 check=True).stdout.split()
        for applet in applets:
            link = rootfs / "bin" / applet
            if applet != "busybox" and not link.exists():
                link.symlink_to("busybox")
        tar = subprocess.run(["tar", "-C", str(rootfs), "-c", "."], capture_output=True,
                             check=True).stdout
        subprocess.run(["docker", "import", "-", IMAGE], input=tar, env=self.env(),
                       capture_output=True, check=True, timeout=120)
        return IMAGE

    def run(self, name: str, *args: str, command: str = "sleep 100000",
            labels: dict[str, str] | None = None) -> str:
        """A detached container of the busybox image, without a network; its id."""
        label_args = [part for key, value in (labels or {}).items()
                      for part in ("--label", f"{key}={value}")]
        return self.docker("run", "-d", "--network", "none", "--name", name, *label_args,
                           *args, self.busybox_image(), "sh", "-c", command).stdout.strip()

    def inspect(self, name: str) -> dict[str, Any]:
        found: list[dict[str, Any]] = json.loads(self.docker("inspect", name).stdout)
        return found[0]

    def stats(self, name: str) -> dict[str, str]:
        """`docker stats --no-stream` of one container, as the CLI formats it."""
        out = self.docker("stats", "--no-stream", "--format", "{{json .}}", name).stdout
        found: dict[str, str] = json.loads(out)
        return found

    def wait_for(self, name: str, what: str, test: Any, timeout: float = 60) -> dict[str, Any]:
        found: dict[str, Any] = wait_until(lambda: (lambda d: d if test(d) else None)(
            self.inspect(name)), f"{name}: {what}", timeout)
        return found

    def remove_all(self) -> None:
        ids = self.docker("ps", "-aq", check=False).stdout.split()
        if ids:
            self.docker("rm", "-f", *ids, check=False)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.remove_all()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        netns = self.root / "exec" / "netns" / "default"
        if os.path.ismount(netns) or netns.exists():
            subprocess.run(["umount", str(netns)], capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)
