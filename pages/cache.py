"""Cache: Redis in detail - hit rate, traffic, memory, keys."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ops import formatting
from ops.clock import now_ms
from ops.views.detail import redis_detail
from pages.common import page_settings, plain, service_detail

settings = page_settings()
detail, choice = service_detail("Redis", "redis", settings.redis_url is not None,
                                "Totals over", redis_detail)
now = now_ms()
st.caption(f"{detail.state(now)} · version {plain(detail.fact('version'))} · uptime "
           f"{formatting.uptime(detail.values.get('uptime_s'))} · role "
           f"{plain(detail.fact('role'))} · {plain(settings.redis_url)}")

t = detail.totals
st.subheader("Hit rate")
cols = st.columns(4)
cols[0].metric("Since Redis started", formatting.percent(detail.values.get("hit_rate_total_pct")))
cols[1].metric(f"Over {choice}", formatting.percent(t["hit_rate_pct"]))
cols[2].metric(f"Hits ({choice})", f"{t['keyspace_hits'] or 0:,.0f}")
cols[3].metric(f"Misses ({choice})", f"{t['keyspace_misses'] or 0:,.0f}")

st.subheader("Traffic")
cols = st.columns(4)
cols[0].metric("Clients connected", detail.value("connected_clients"))
cols[0].caption(f"{detail.value('blocked_clients')} blocked")
cols[1].metric("Operations now", detail.value("ops_per_sec", unit="/s"))
cols[2].metric(f"Commands/s ({choice})", f"{t['commands_per_s'] or 0:,.1f}")
cols[2].caption(f"{t['commands'] or 0:,.0f} commands")
cols[3].metric(f"Connections opened ({choice})", f"{t['connections_received'] or 0:,.0f}")

st.subheader("Memory")
cols = st.columns(4)
cols[0].metric("Used", detail.megabytes("used_memory_mb"))
cols[0].caption(f"peak {detail.megabytes('used_memory_peak_mb')}")
maxmemory = detail.values.get("maxmemory_mb") or 0
cols[1].metric("Used of limit" if maxmemory else "Used of host memory",
               formatting.percent(detail.values.get("memory_used_pct")))
cols[1].caption(f"maxmemory {formatting.megabytes(maxmemory)}" if maxmemory else
                "no maxmemory set: % of the host's memory")
cols[2].metric("Fragmentation", detail.value("fragmentation_ratio", 2))
cols[2].caption("resident / used; above 1.5 wastes memory")
cols[3].metric(f"Evicted / expired ({choice})",
               f"{t['evicted_keys'] or 0:,.0f} / {t['expired_keys'] or 0:,.0f}")

st.subheader("Keys")
keys, seen_ts = detail.known("keys_per_db")
st.metric("Keys in all databases", detail.value("keys_total"))
if keys and seen_ts is not None:
    st.caption(f"Keys per database as last seen, {formatting.clock(seen_ts)}:")
if keys:
    st.dataframe(pd.DataFrame([{"database": name, **counts} for name, counts in keys.items()]),
                 hide_index=True)
