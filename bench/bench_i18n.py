"""What Arabic costs: every page's script run (AppTest) in English and in Arabic over 30
days of 5 s samples kept as the collector keeps them, and one translated text.

Run: .venv/bin/python -m bench.bench_i18n [runs]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import timeit
from pathlib import Path

from bench.common import machine, summary
from bench.synthetic import fill, finish_with_latest
from ops.housekeeping import Retention, prune_and_cap, roll_up_due
from ops.i18n import _, build, speaking
from ops.storage import Store

DAY_MS = 86_400_000
ROOT = Path(__file__).resolve().parents[1]
PAGES = ("overview", "history", "backups", "cache", "database", "containers", "alerts")
CONFIGURED = {"MONGO_URI": "mongodb://ops:pw@127.0.0.1:1/",
              "REDIS_URL": "redis://127.0.0.1:1/0", "API_HEALTH_URL": "http://127.0.0.1:1/"}


def page_run_ms(page: str, language: str) -> float:
    """One script run of `page` (after a first run that warms it), in ms."""
    from streamlit.testing.v1 import AppTest

    os.environ["OPS_LANGUAGE"] = language
    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    app.run()
    app.switch_page(f"pages/{page}.py")
    app.run()
    started = time.perf_counter()
    app.run()
    took = (time.perf_counter() - started) * 1000
    assert not app.exception, app.exception
    return took


def main(runs: int = 5) -> None:
    print(machine())
    build.compile_catalogs()
    with speaking("ar"):
        _("Overview")
        per_call = min(timeit.repeat(lambda: _("Overview"), number=100_000, repeat=5))
    print(f"one translated text (_() on an Arabic page): {per_call * 10:.2f} us")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        store = Store(data / "ops.sqlite3")
        now = int(time.time() * 1000)
        fill(store, now - 30 * DAY_MS, now)
        roll_up_due(store, now)
        prune_and_cap(store, Retention(48, 30, 400, 500), now)
        finish_with_latest(store, now)
        store.close()
        os.environ.update({"OPS_DATA_DIR": str(data), **CONFIGURED})
        os.chdir(ROOT)
        print("| page | English, median ms | Arabic, median ms |")
        print("| --- | --- | --- |")
        for page in PAGES:
            english = [page_run_ms(page, "en") for _ in range(runs)]
            arabic = [page_run_ms(page, "ar") for _ in range(runs)]
            print(f"| {page} | {summary(english)} | {summary(arabic)} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
