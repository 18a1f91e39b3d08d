"""SIGTERM (docker stop, systemd, `ops up` stopping) ends the real dashboard server after
its graceful shutdown with exit status 0, not "killed by SIGTERM" (143 in a container)."""

from __future__ import annotations

from pathlib import Path

from tests.dashboard_server import Dashboard


def test_sigterm_ends_the_dashboard_with_status_0(env: dict[str, str], tmp_path: Path) -> None:
    dashboard = Dashboard(env, tmp_path)
    assert dashboard.request("GET", "/_stcore/health").status == 200
    dashboard.proc.terminate()
    assert dashboard.proc.wait(60) == 0, (tmp_path / f"dashboard-{dashboard.port}.log"
                                          ).read_text()[-2000:]
    dashboard.log.close()
