"""The code gates that run with the tests: ruff (style, bugs) and mypy --strict (types),
both configured in pyproject.toml, so `./run test` fails on either."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def test_ruff_finds_nothing() -> None:
    result = _run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_passes_on_the_product() -> None:
    result = _run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


def test_mypy_strict_catches_a_type_error(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text("def half(n: int) -> int:\n    return n / 2\n")
    result = _run("mypy", "--strict", "--no-incremental", str(planted))
    assert result.returncode == 1 and "planted.py:2: error" in result.stdout, result.stdout
