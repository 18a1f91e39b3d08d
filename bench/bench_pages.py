"""Dashboard pages over 30 days of 5 s samples: the History page script run (AppTest)
for the 30 d range, and the one bucketed query behind its charts.

Run: .venv/bin/python -m bench.bench_pages [runs]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from bench.common import machine, summary
from bench.synthetic import fill, finish_with_latest
from ops.history import history_frame
from ops.store import Store

ROOT = Path(__file__).resolve().parents[1]
DAY_MS = 86_400_000


def history_run_ms(data_dir: Path) -> float:
    from streamlit.testing.v1 import AppTest

    os.environ["OPS_DATA_DIR"] = str(data_dir)
    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    app.run()
    app.switch_page("pages/history.py")
    app.run()
    control = app.segmented_control(key="history_range").set_value("30 d")
    started = time.perf_counter()
    control.run()
    took = (time.perf_counter() - started) * 1000
    assert not app.exception, app.exception
    return took


def main(runs: int = 5) -> None:
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        store = Store(data / "ops.sqlite3")
        now = int(time.time() * 1000)
        count = fill(store, now - 30 * DAY_MS, now)
        finish_with_latest(store, now)
        print(f"{count} samples over 30 days")
        query = []
        for _ in range(runs):
            started = time.perf_counter()
            frame = history_frame(store, now - 30 * DAY_MS, now)
            query.append((time.perf_counter() - started) * 1000)
        print(f"History query, 30 d, {len(frame)} points x {len(frame.columns)} columns, "
              f"ms: {summary(query)}")
        os.chdir(ROOT)
        page = [history_run_ms(data) for _ in range(runs)]
        print(f"History page script run (AppTest), 30 d range, ms: {summary(page)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
