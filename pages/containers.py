"""Containers: every container of the stack as `docker stats` shows it, live, with each
compose service's CPU and memory history and the container events."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ops import formatting
from ops.clock import now_ms
from ops.views import containers
from ops.views.history import RANGES
from pages.common import page_settings, plain, store

settings = page_settings()
db = store(str(settings.database_path))

st.title("Containers")


def wall(ts: int) -> datetime:
    """A stored time as the display zone's wall clock (Plotly knows no zones)."""
    return formatting.local(ts).replace(tzinfo=None)


@st.fragment(run_every=timedelta(seconds=settings.sample_interval_seconds))
def live() -> None:
    now = now_ms()
    watched = containers.read(db)
    if watched.state == "not watched":
        st.info(watched.message, icon=":material/info:")  # our own words, no engine text
        return
    if watched.state == "unreachable":
        st.error(f"Containers are not watched: {plain(watched.error)}.",
                 icon=":material/error:")
        return
    st.caption(f"{plain(containers.summary(watched))} · as docker stats: CPU 100 % is one "
               "core; memory is usage minus inactive file cache")
    if not watched.found:
        st.info("The Docker engine has no containers.")
        return
    # st.dataframe shows each value as text: names, images and health output are never
    # read as Markdown or HTML.
    st.dataframe(pd.DataFrame(containers.table(watched.found, now)), hide_index=True)


def chart(title: str, column: str, unit: str, start_ts: int, end_ts: int) -> None:
    figure = go.Figure()
    for key in containers.services(db, start_ts, end_ts):
        rows = containers.service_history(db, key, start_ts, end_ts)
        figure.add_trace(go.Scatter(x=[wall(r["ts"]) for r in rows],
                                    y=[r[column] for r in rows], mode="lines", name=key))
    if not figure.data:
        st.caption(f"{title}: no container samples in this range yet.")
        return
    figure.update_layout(title=title, height=320, margin={"t": 40, "b": 20},
                         yaxis_title=unit, xaxis_title=formatting.zone_name())
    st.plotly_chart(figure, width="stretch", key=f"containers-{column}")


live()

st.subheader("History")
choice = st.segmented_control("Range", list(RANGES)[:4], default="1 h",
                              key="containers_range") or "1 h"
end = now_ms()
start = end - int(RANGES[choice].total_seconds() * 1000)
chart("CPU per service", "cpu_pct", "%", start, end)
chart("Memory per service", "mem_used_mb", "MB", start, end)
st.caption(f"Kept for {settings.metrics_raw_retention_hours} h "
           "(METRICS_RAW_RETENTION_HOURS), one point per sample; a re-created container "
           "goes on under its compose service.")

st.subheader("Events")
found = containers.events(db, end - 7 * 86_400_000, end)
if found:
    st.dataframe(pd.DataFrame([{"time": formatting.clock(e.ts), "event": e.kind,
                                "what": e.message or ""} for e in found]), hide_index=True)
else:
    st.caption("No container started, stopped, restarted, was OOM-killed or changed health "
               "in the last 7 days.")
