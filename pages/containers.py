"""Containers: every container of the stack as `docker stats` shows it, live, with each
compose service's CPU and memory history and the container events."""

from __future__ import annotations

import html
from datetime import datetime, timedelta

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ops import formatting
from ops.clock import now_ms
from ops.i18n import N_, _, ltr, right_to_left
from ops.views import containers
from ops.views.history import RANGES
from pages.common import data_table, page_settings, plain, range_name, store

# The table's columns (ops.views.containers.table) as the page names them.
COLUMNS = {"service": N_("service"), "container": N_("container"), "image": N_("image"),
           "state": N_("state"), "health": N_("health"), "restarts": N_("restarts"),
           "CPU %": N_("CPU %"), "memory / limit": N_("memory / limit"),
           "memory %": N_("memory %"), "uptime": N_("uptime"), "pids": N_("pids"),
           "note": N_("note")}
EVENT_COLUMNS = {"time": N_("time"), "event": N_("event"), "what": N_("what")}

settings = page_settings()
db = store(str(settings.database_path))

st.title(_("Containers"))


def wall(ts: int) -> datetime:
    """A stored time as the display zone's wall clock (Plotly knows no zones)."""
    return formatting.local(ts).replace(tzinfo=None)


def headed(rows: list[dict[str, object]], names: dict[str, str]) -> pd.DataFrame:
    """A table with its headers in the page's language."""
    return pd.DataFrame(rows).rename(columns={key: _(name) for key, name in names.items()})


@st.fragment(run_every=timedelta(seconds=settings.sample_interval_seconds))
def live() -> None:
    now = now_ms()
    watched = containers.read(db)
    if watched.state == "not watched":
        st.info(watched.message, icon=":material/info:")  # our own words, no engine text
        return
    if watched.state == "unreachable":
        st.error(_("Containers are not watched: {error}.").format(
            error=plain(watched.error)), icon=":material/error:")
        return
    st.caption(_("{summary} · as {command}: CPU {full} is one core; memory is usage minus "
                 "inactive file cache").format(summary=containers.summary(watched),
                                               command=ltr("docker stats"),
                                               full=formatting.figure("100 %")))
    if not watched.found:
        st.info(_("The {docker} engine has no containers.").format(docker=ltr("Docker")))
        return
    # st.dataframe shows each value as text: names, images and health output are never
    # read as Markdown or HTML.
    data_table(headed(containers.table(watched.found, now), COLUMNS), hide_index=True)


def chart(title: str, column: str, unit: str, start_ts: int, end_ts: int) -> None:
    figure = go.Figure()
    for key in containers.services(db, start_ts, end_ts):
        rows = containers.service_history(db, key, start_ts, end_ts)
        figure.add_trace(go.Scatter(x=[wall(r["ts"]) for r in rows],
                                    y=[r[column] for r in rows], mode="lines",
                                    # Plotly draws tags in trace names (links, bold): the
                                    # compose labels the key comes from are the engine's text
                                    name=ltr(html.escape(key))))
    if not figure.data:
        st.caption(_("{chart}: no container samples in this range yet.").format(chart=title))
        return
    figure.update_layout(title=title, height=320, margin={"t": 40, "b": 20},
                         yaxis_title=ltr(unit), xaxis_title=ltr(formatting.zone_name()))
    if right_to_left():  # Plotly's month names are English: numeric dates
        figure.update_xaxes(tickformat="%d/%m %H:%M")
    st.plotly_chart(figure, width="stretch", key=f"containers-{column}")


live()

st.subheader(_("History"))
choice = st.segmented_control(_("Range"), list(RANGES)[:4], default="1 h",
                              format_func=range_name, key="containers_range") or "1 h"
end = now_ms()
start = end - int(RANGES[choice].total_seconds() * 1000)
chart(_("CPU per service"), "cpu_pct", "%", start, end)
chart(_("Memory per service"), "mem_used_mb", "MB", start, end)
st.caption(_("Kept for {hours} ({setting}), one point per sample; a re-created container "
             "goes on under its compose service.").format(
    hours=formatting.figure(f"{settings.metrics_raw_retention_hours} h"),
    setting=ltr("METRICS_RAW_RETENTION_HOURS")))

st.subheader(_("Events"))
found = containers.events(db, end - 7 * 86_400_000, end)
if found:
    # What happened, as the collector recorded it (stays English, as log lines do).
    data_table(headed([{"time": formatting.clock(e.ts),
                          "event": containers.named(containers.EVENT_KINDS, e.kind),
                          "what": ltr(e.message or "")} for e in found], EVENT_COLUMNS),
                 hide_index=True)
else:
    st.caption(_("No container started, stopped, restarted, was OOM-killed or changed health "
                 "in the last 7 days."))
