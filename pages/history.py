"""History: how memory, load, the cache and the database moved over a chosen range."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import plotly.graph_objects as go
import streamlit as st

from ops.clock import now_ms
from ops.views.history import CHARTS, RANGES, Chart, csv_text, down_periods, history_frame
from pages.common import page_settings, store

settings = page_settings()
db = store(str(settings.database_path))

st.title("History")

choice = st.segmented_control("Range", [*RANGES, "custom"], default="1 h",
                              key="history_range") or "1 h"
end_ts = now_ms()
if choice == "custom":
    today = datetime.now(UTC).date()
    picked = st.date_input("Days (UTC)", (today - timedelta(days=1), today), max_value=today)
    first, last = (picked if isinstance(picked, tuple) and len(picked) == 2
                   else (today, today))
    start_ts = int(datetime.combine(first, time.min, UTC).timestamp() * 1000)
    end_ts = min(end_ts, int(datetime.combine(last, time.max, UTC).timestamp() * 1000))
else:
    start_ts = end_ts - int(RANGES[choice].total_seconds() * 1000)


frame = history_frame(db, start_ts, end_ts)


def figure(chart: Chart) -> go.Figure | None:
    drawn = [line for line in chart.lines
             if not frame.empty and line.column in frame and frame[line.column].notna().any()]
    if not drawn:
        return None
    fig = go.Figure()
    for line in drawn:
        style = {"width": 1, "dash": "dot"} if line.peak else {"width": 2}
        fig.add_scatter(x=frame["time"], y=frame[line.column], name=line.label, mode="lines",
                        line=style, connectgaps=False)
    # All shading in one layout update: add_vrect per period grows quadratically and
    # took minutes for a year with a hundred outages.
    shading = [{"type": "rect", "xref": "x", "yref": "paper", "y0": 0, "y1": 1,
                "x0": datetime.fromtimestamp(down_from / 1000, UTC),
                "x1": datetime.fromtimestamp(down_to / 1000, UTC),
                "fillcolor": "red", "opacity": 0.15, "line_width": 0}
               for down_from, down_to in down_periods(db, chart.source, start_ts, end_ts)]
    fig.update_layout(shapes=shading, height=260, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      legend={"orientation": "h", "y": -0.25}, title=chart.title,
                      yaxis_title=chart.unit, showlegend=len(drawn) > 1,
                      xaxis_range=[datetime.fromtimestamp(start_ts / 1000, UTC),
                                   datetime.fromtimestamp(end_ts / 1000, UTC)])
    return fig


columns = st.columns(2)
drawn = 0
for index, chart in enumerate(CHARTS):
    fig = figure(chart)
    with columns[index % 2]:
        if fig is None:
            st.markdown(f"**{chart.title}**")
            st.caption("No data in this range" + (
                "" if chart.source == "host" else f" - is {chart.source} watched? "
                "See the Overview page."))
        else:
            drawn += 1
            st.plotly_chart(fig, width="stretch", key=f"chart-{index}")

st.caption("Shaded: the service was down. Lines are averages per point; dotted lines the "
           "peak within each point.")
if drawn:
    st.download_button("Download this range as CSV", csv_text(frame),
                       file_name=f"ops-history-{choice.replace(' ', '')}.csv",
                       mime="text/csv")
