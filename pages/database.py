"""Database: MongoDB in detail - connections, operations, memory, each database's size."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ops import formatting
from ops.clock import now_ms
from ops.i18n import N_, _, ltr
from ops.views.detail import MONGO_COUNTERS, mongo_detail
from pages.common import data_table, page_settings, plain, range_name, service_detail

# MongoDB's operation counters (opcounters) as the page names them.
OPERATIONS = {"insert": N_("insert"), "query": N_("query"), "update": N_("update"),
              "delete": N_("delete"), "getmore": N_("getmore"), "command": N_("command")}
# The columns of the databases table (dbStats, as ops.sources.mongo keeps it).
COLUMNS = {"database": N_("database"), "objects": N_("objects"),
           "data_size_mb": N_("data_size_mb"), "storage_size_mb": N_("storage_size_mb"),
           "index_size_mb": N_("index_size_mb"), "indexes": N_("indexes"),
           "collections": N_("collections")}

settings = page_settings()
detail, choice = service_detail("MongoDB", "mongo", settings.mongo_uri is not None,
                                _("Rates over"), mongo_detail)
now = now_ms()
st.caption(_("{state} · version {version} · uptime {uptime} · {host}").format(
    state=detail.state(now), version=detail.fact("version", plain),
    uptime=formatting.uptime(detail.values.get("uptime_s")), host=detail.fact("host", plain)))

cols = st.columns(4)
cols[0].metric(_("Connections"), detail.value("connections_current"))
cols[0].caption(_("{count} available").format(count=detail.value("connections_available")))
cols[1].metric(_("Ping"), detail.value("ping_ms", 1, " ms"))
cols[2].metric(_("Resident memory"), detail.megabytes("resident_mb"))
cols[3].metric(_("Documents"), detail.value("objects_total"))
cols[3].caption(_("{data} data, {disk} on disk").format(
    data=detail.megabytes("data_size_mb_total"), disk=detail.megabytes("storage_size_mb_total")))

st.subheader(_("Operations per second over {range}").format(range=range_name(choice)))
rates = {name.removeprefix("op_"): detail.totals.get(f"{name}_per_s") for name in MONGO_COUNTERS}
if all(rate is None for rate in rates.values()):
    st.caption(_("No operation counters in this range (the server reports none, or no two "
                 "samples in a row)."))
else:
    rate_cols = st.columns(len(rates))
    for col, (name, rate) in zip(rate_cols, rates.items(), strict=True):
        col.metric(_(OPERATIONS[name]) if name in OPERATIONS else ltr(name),
                   formatting.figure(f"{rate or 0:,.1f}"))

st.subheader(_("Databases"))
databases, seen_ts = detail.known("databases")
if databases and seen_ts is not None:
    st.caption(_("As last seen, {time}:").format(time=formatting.clock(seen_ts)))
if databases:
    # Database names are islands; the headers in the page's language.
    frame = pd.DataFrame([{"database": ltr(name), **stats} for name, stats in databases.items()])
    data_table(frame.rename(columns={key: _(label) for key, label in COLUMNS.items()}),
                 hide_index=True, width="stretch")
else:
    st.caption(_("No database statistics in the latest sample."))
