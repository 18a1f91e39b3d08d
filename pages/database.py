"""Database: MongoDB in detail - connections, operations, memory, each database's size."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ops import formatting
from ops.clock import now_ms
from ops.views.detail import MONGO_COUNTERS, mongo_detail
from pages.common import page_settings, plain, service_detail

settings = page_settings()
detail, choice = service_detail("MongoDB", "mongo", settings.mongo_uri is not None,
                                "Rates over", mongo_detail)
now = now_ms()
st.caption(f"{detail.state(now)} · version {plain(detail.fact('version'))} · uptime "
           f"{formatting.uptime(detail.values.get('uptime_s'))} · "
           f"{plain(detail.fact('host'))}")

cols = st.columns(4)
cols[0].metric("Connections", detail.value("connections_current"))
cols[0].caption(f"{detail.value('connections_available')} available")
cols[1].metric("Ping", detail.value("ping_ms", 1, " ms"))
cols[2].metric("Resident memory", detail.megabytes("resident_mb"))
cols[3].metric("Documents", detail.value("objects_total"))
cols[3].caption(f"{detail.megabytes('data_size_mb_total')} data, "
                f"{detail.megabytes('storage_size_mb_total')} on disk")

st.subheader(f"Operations per second over {choice}")
rates = {name.removeprefix("op_"): detail.totals.get(f"{name}_per_s") for name in MONGO_COUNTERS}
if all(rate is None for rate in rates.values()):
    st.caption("No operation counters in this range (the server reports none, or no two "
               "samples in a row).")
else:
    rate_cols = st.columns(len(rates))
    for col, (name, rate) in zip(rate_cols, rates.items(), strict=True):
        col.metric(name, f"{rate or 0:,.1f}")

st.subheader("Databases")
databases, seen_ts = detail.known("databases")
if databases and seen_ts is not None:
    st.caption(f"As last seen, {formatting.clock(seen_ts)}:")
if databases:
    st.dataframe(pd.DataFrame([{"database": name, **stats}
                               for name, stats in databases.items()]), hide_index=True,
                 width="stretch")
else:
    st.caption("No database statistics in the latest sample.")
