"""What every entry point does first: read settings or stop with one line, set up logs."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping

from ops.config import Settings, SettingsError, load_settings

EXIT_BAD_SETTINGS = 2


def settings_or_exit(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings, or exit status 2 after one line on stderr naming the bad setting."""
    try:
        return load_settings(environ)
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_SETTINGS) from None


def setup_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Driver chatter (server selection, reconnects) would drown the collector's own lines.
    for noisy in ("pymongo", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
