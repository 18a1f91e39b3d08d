"""A requested stop is a clean end: the dashboard exits 0 on SIGTERM (`docker stop`,
systemd, `ops up`), after the server's graceful shutdown.

Uvicorn, which Streamlit runs, shuts down gracefully on SIGTERM and then raises the signal
again with the default handler, so the process would end "killed by SIGTERM" (exit
status 143 in a container): indistinguishable, for a supervisor, from a server that had
to be killed. Wrapped here: the server's own handler still runs (graceful shutdown), and
the signal is not raised again.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType


def exit_zero_on_sigterm() -> bool:
    """Wrap the running server's SIGTERM handler; False when there is none to wrap (not
    the main thread, or not served by uvicorn)."""
    if threading.current_thread() is not threading.main_thread():
        return False
    serving = signal.getsignal(signal.SIGTERM)
    captured = getattr(getattr(serving, "__self__", None), "_captured_signals", None)
    if not callable(serving) or not isinstance(captured, list):
        return False

    def stop(signum: int, frame: FrameType | None) -> None:
        serving(signum, frame)
        while signum in captured:
            captured.remove(signum)  # shut down, but do not die of the signal after

    signal.signal(signal.SIGTERM, stop)
    return True
