"""What every page shares: settings and a store connection per session."""

from __future__ import annotations

import time

import streamlit as st

from ops.config import Settings, SettingsError, load_settings
from ops.store import Store


def settings_or_stop() -> Settings:
    """Settings read afresh on each run (cheap), or the one-line error on the page."""
    try:
        return load_settings()
    except SettingsError as error:
        st.error(f"Settings error: {error}")
        st.stop()
        raise


@st.cache_resource
def store(path: str) -> Store:
    """One connection for the server process; SQLite in WAL lets it read beside the writer."""
    from pathlib import Path

    return Store(Path(path))


def now_ms() -> int:
    return int(time.time() * 1000)
