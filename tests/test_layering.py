"""Imports follow the layers declared in pyproject.toml ([tool.importlinter]).

`lint-imports` (import-linter) checks the real tree; the same contracts, run against a
copy of the tree with one bad import planted, must report that import as a break.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("ops", "collector", "pages")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the checker from `cwd` with the pyproject.toml found there; no cache left behind."""
    assert LINT_IMPORTS.exists(), "lint-imports is missing: pip install -r requirements-dev.txt"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--no-logo", "pyproject.toml"],
                          cwd=cwd, env={**env, "NO_COLOR": "1", "COLUMNS": "200"},
                          capture_output=True, text=True, timeout=120, check=False)


def test_imports_follow_the_layers() -> None:
    done = lint_imports(ROOT)
    assert done.returncode == 0, f"an import breaks the layers:\n{done.stdout}{done.stderr}"
    assert "0 broken" in done.stdout


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packages and the configuration as they are now, without caches."""
    copy = tmp_path_factory.mktemp("layering") / "tree"
    copy.mkdir()
    for package in PACKAGES:
        shutil.copytree(ROOT / package, copy / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "streamlit_app.py"):
        shutil.copy2(ROOT / name, copy / name)
    return copy


# (module planted in the copy, its import, the contract that must break)
BREAKS = [
    pytest.param("ops/storage/planted.py", "import ops.web.routes",
                 "ops is layered", id="storage-imports-web"),
    pytest.param("ops/config_planted.py", "",
                 "ops is layered", id="module-outside-every-layer"),
    pytest.param("ops/clock_helpers/__init__.py", "", "ops is layered",
                 id="package-outside-every-layer"),
    pytest.param("ops/backup/planted.py", "from ops.views import backups",
                 "ops is layered", id="domain-imports-views"),
    pytest.param("ops/web/planted.py", "import ops.cli.commands",
                 "ops is layered", id="web-imports-cli"),
    pytest.param("ops/sources/planted.py", "import collector.worker",
                 "ops never imports the programs built on it", id="ops-imports-collector"),
    pytest.param("ops/views/planted.py", "import streamlit_app",
                 "ops never imports the programs built on it", id="ops-imports-streamlit-app"),
    pytest.param("pages/planted.py", "from collector import loop",
                 "the dashboard pages never import the collector", id="pages-import-collector"),
    pytest.param("collector/planted.py", "import pages.common",
                 "the collector never imports the dashboard", id="collector-imports-pages"),
]


@pytest.mark.parametrize(("path", "statement", "contract"), BREAKS)
def test_a_planted_bad_import_is_reported(tree_copy: Path, path: str, statement: str,
                                          contract: str) -> None:
    planted = tree_copy / path
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_text(f'"""Planted by the layering test."""\n{statement}\n')
    try:
        done = lint_imports(tree_copy)
    finally:
        planted.unlink()
        if planted.name == "__init__.py":
            planted.parent.rmdir()
    report = done.stdout + done.stderr
    assert done.returncode == 1, report
    assert contract in report and "BROKEN" in report, report
    assert "1 broken" in report, report
    module = ".".join(Path(path).with_suffix("").parts).removesuffix(".__init__")
    assert module in report, report
