"""History: how memory, load, the cache and the database moved over a chosen range."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ops import formatting
from ops.catalogue import service
from ops.clock import now_ms
from ops.i18n import _, ltr, right_to_left
from ops.sources.configured import how_to_watch, is_configured
from ops.views.history import (
    CHARTS,
    RANGES,
    Chart,
    csv_text,
    down_periods,
    history_frame,
    line_name,
    range_name,
    title,
    unit,
)
from pages.common import page_settings, store

settings = page_settings()
db = store(str(settings.database_path))

st.title(_("History"))

choice = st.segmented_control(_("Range"), [*RANGES, "custom"], default="1 h",
                              format_func=range_name, key="history_range") or "1 h"
end_ts = now_ms()
if choice == "custom":
    zone = formatting.display_zone()
    today = datetime.now(zone).date()
    picked = st.date_input(_("Days ({zone})").format(zone=ltr(formatting.zone_name())),
                           (today - timedelta(days=1), today), max_value=today)
    first, last = (picked if isinstance(picked, tuple) and len(picked) == 2
                   else (today, today))
    start_ts = int(datetime.combine(first, time.min, zone).timestamp() * 1000)
    end_ts = min(end_ts, int(datetime.combine(last, time.max, zone).timestamp() * 1000))
else:
    start_ts = end_ts - int(RANGES[choice].total_seconds() * 1000)


# Short ranges follow new samples as the Overview does; longer ones change too slowly
# for a redraw every few seconds to be worth its cost.
LIVE_RANGES = ("15 min", "1 h", "6 h")
# Below this many points a line gets markers, so a single sample or a few are visible.
MARKERS_BELOW = 60


def empty_reason(chart: Chart) -> str:
    """What is true when a chart has nothing to draw."""
    if chart.source != "host" and not is_configured(settings, chart.source):
        return _("{service} is {how_to_watch}.").format(
            service=_(service(chart.source).label), how_to_watch=how_to_watch(chart.source))
    if chart.source == "mongo" and chart.title == "MongoDB operations":
        return _("{mongodb} reported no operation counters in this range.").format(
            mongodb=ltr("MongoDB"))
    return _("No samples in this range yet.")


def wall(ts: int) -> datetime:
    """A stored time as the display zone's wall clock: Plotly draws times as given and
    knows no zones, so the axis is labelled with the zone instead."""
    return formatting.local(ts).replace(tzinfo=None)


def figure(chart: Chart, frame: pd.DataFrame, start_ts: int, end_ts: int) -> go.Figure | None:
    drawn = [line for line in chart.lines
             if not frame.empty and line.column in frame and frame[line.column].notna().any()]
    if not drawn:
        return None
    fig = go.Figure()
    times = frame["time"].dt.tz_convert(formatting.display_zone()).dt.tz_localize(None)
    for line in drawn:
        points = int(frame[line.column].notna().sum())
        style = {"width": 1, "dash": "dot"} if line.peak else {"width": 2}
        fig.add_scatter(x=times, y=frame[line.column], name=line_name(line),
                        mode="lines+markers" if points < MARKERS_BELOW else "lines",
                        line=style, marker={"size": 5}, connectgaps=False)
    # All shading in one layout update: add_vrect per period grows quadratically and
    # took minutes for a year with a hundred outages.
    shading = [{"type": "rect", "xref": "x", "yref": "paper", "y0": 0, "y1": 1,
                "x0": wall(down_from), "x1": wall(down_to),
                "fillcolor": "red", "opacity": 0.15, "line_width": 0}
               for down_from, down_to in down_periods(db, chart.source, start_ts, end_ts)]
    # The axis starts where the data does when the range asks for more than is stored,
    # so a new install shows its first hour as a line, not as a hair at the right edge.
    first_ts = int(frame["ts"].min())
    axis_from = max(start_ts, first_ts - (end_ts - first_ts) // 20)
    # Legend above the plot: below it, it covered the dates under the axis.
    fig.update_layout(shapes=shading, height=280, margin={"l": 10, "r": 10, "t": 60, "b": 10},
                      legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02,
                              "yanchor": "bottom"},
                      title={"text": title(chart), "y": 0.97, "yanchor": "top"},
                      yaxis_title=unit(chart), showlegend=len(drawn) > 1,
                      xaxis_title=ltr(formatting.zone_name()),
                      xaxis_range=[wall(axis_from), wall(end_ts)])
    if right_to_left():
        # Plotly names months in English: numeric dates instead. Time still runs left to
        # right, as on every chart.
        fig.update_xaxes(tickformat="%d/%m %H:%M", hoverformat="%d/%m/%Y %H:%M:%S")
    return fig


@st.fragment(run_every=timedelta(seconds=settings.sample_interval_seconds)
             if choice in LIVE_RANGES else None)
def charts(start_ts: int, end_ts: int) -> None:
    if choice in LIVE_RANGES:  # the range ends now, at every redraw
        end_ts = now_ms()
        start_ts = end_ts - int(RANGES[choice].total_seconds() * 1000)
    frame = history_frame(db, start_ts, end_ts)
    if not frame.empty and frame["ts"].min() > start_ts + (end_ts - start_ts) // 10:
        st.caption(_("History starts at {time}: the charts begin there.").format(
            time=formatting.clock(int(frame["ts"].min()))))
    drawn = 0
    for index, chart in enumerate(CHARTS):
        if index % 2 == 0:  # a row per pair: a phone stacks them in the desktop's order
            row = st.columns(2)
        fig = figure(chart, frame, start_ts, end_ts)
        with row[index % 2]:
            if fig is None:
                st.markdown(f"**{title(chart)}**")
                st.caption(empty_reason(chart))
            else:
                drawn += 1
                # Plotly's toolbar only on hover, so it never covers the title.
                st.plotly_chart(fig, width="stretch", key=f"chart-{index}",
                                config={"displayModeBar": "hover"})
    st.caption(_("Shaded: the service was down. Lines are averages per point; dotted lines "
                 "the peak within each point."))
    if drawn:
        # The file keeps English headers and the English range name: scripts read it.
        st.download_button(_("Download this range as {csv}").format(csv=ltr("CSV")),
                           csv_text(frame),
                           file_name=f"ops-history-{choice.replace(' ', '')}.csv",
                           mime="text/csv")


charts(start_ts, end_ts)
