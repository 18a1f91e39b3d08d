"""What every entry point does first: read settings or stop with one line, set up logs."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from ops import redaction
from ops.config import Settings, SettingsError, load_settings

EXIT_BAD_SETTINGS = 2


def settings_or_exit(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings, or exit status 2 after one line on stderr naming the bad setting.

    Loading them registers their secrets (ops.config.remember_secrets), so every text
    cleaned from then on is free of them."""
    try:
        return load_settings(environ)
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_SETTINGS) from None


def _unwritable(name: str, path: Path) -> str | None:
    """Why `path` cannot hold our files, or None when it can."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
        return None
    except OSError as error:
        owner = path.stat().st_uid if path.exists() else "missing"
        return (f"{name}={path} is not writable by uid {os.getuid()} (owner uid {owner}): "
                f"{error.strerror or error}")


def writable_dirs_or_exit(settings: Settings) -> None:
    """Stop with one line, exit 2, when a data or backup directory cannot be written
    (a volume owned by another user), instead of a traceback and a restart loop."""
    for name, path in (("OPS_DATA_DIR", settings.ops_data_dir),
                       ("BACKUP_DIR", settings.backup_dir)):
        problem = _unwritable(name, path)
        if problem is not None:
            print(f"error: {problem}", file=sys.stderr)
            raise SystemExit(EXIT_BAD_SETTINGS)


def setup_logging(level: int = logging.INFO) -> None:
    """Log lines on stderr, each cleaned of secrets (redaction.SecretFilter on every
    handler configured so far, a web server's too), driver warnings included. Calling it
    again adds nothing."""
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Driver chatter (server selection, reconnects) would drown the collector's own lines.
    for noisy in ("pymongo", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.captureWarnings(True)  # a driver's warning may quote a URI option
    redaction.filter_logs()
