"""requirements.lock (exact versions with hashes, compiled by pip-tools from
requirements.txt) is what the image and ./run install: it must not drift from
requirements.txt. Regenerate it after changing requirements.txt:

    env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null .venv/bin/pip-compile --generate-hashes \\
        --allow-unsafe --strip-extras --no-emit-index-url -o requirements.lock requirements.txt

(the pip configuration is left out so the lock holds the package index's files only).
"""

from __future__ import annotations

import re
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
FIX = ("; regenerate requirements.lock (the command is in tests/test_lock.py's docstring)")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\$")


def requirements() -> list[Requirement]:
    lines = (line.split("#", 1)[0].strip()
             for line in (ROOT / "requirements.txt").read_text().splitlines())
    return [Requirement(line) for line in lines if line]


def pins() -> dict[str, tuple[Version, int]]:
    """Each locked package: its version and how many hashes it carries."""
    found: dict[str, tuple[Version, int]] = {}
    current = None
    for line in LOCK.read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match[1])
            found[current] = (Version(match[2]), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = found[current]
            found[current] = (version, hashes + 1)
    return found


def test_every_requirement_is_locked_at_a_version_it_allows() -> None:
    locked = pins()
    for requirement in requirements():
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement} is not in requirements.lock{FIX}"
        version = locked[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements.lock pins {name}=={version}, which {requirement} excludes{FIX}")


def test_every_pin_is_exact_and_hashed() -> None:
    locked = pins()
    assert locked, "requirements.lock pins nothing"
    assert [name for name, (_, hashes) in locked.items() if hashes == 0] == []
    entries = [line for line in LOCK.read_text().splitlines()
               if line and not line.startswith((" ", "#"))]
    assert all(PIN.match(line) for line in entries), [e for e in entries if not PIN.match(e)]


def test_the_image_and_run_install_from_the_lock() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"pip install [^\n]*--require-hashes \\\n\s+-r requirements\.lock",
                     dockerfile)
    assert re.search(r"COPY requirements\.txt requirements\.lock ", dockerfile)
    run = (ROOT / "run").read_text()
    assert "--require-hashes -r requirements.lock" in run
    assert "python_env requirements.lock" in run
