"""Cache: Redis in detail - hit rate, traffic, memory, keys."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ops import formatting
from ops.clock import now_ms
from ops.i18n import _, ltr
from ops.views.detail import redis_detail
from pages.common import data_table, page_settings, plain, range_name, service_detail

settings = page_settings()
detail, choice = service_detail("Redis", "redis", settings.redis_url is not None,
                                _("Totals over"), redis_detail)
now = now_ms()
over = range_name(choice)
st.caption(_("{state} · version {version} · uptime {uptime} · role {role} · {url}").format(
    state=detail.state(now), version=detail.fact("version", plain),
    uptime=formatting.uptime(detail.values.get("uptime_s")), role=detail.fact("role", plain),
    url=plain(settings.redis_url)))


def count(number: float | None, places: int = 0) -> str:
    """A counter summed over the range, as the page shows it: `1,234`."""
    return formatting.figure(f"{number or 0:,.{places}f}")


t = detail.totals
st.subheader(_("Hit rate"))
cols = st.columns(4)
cols[0].metric(_("Since {service} started").format(service=ltr("Redis")),
               formatting.percent(detail.values.get("hit_rate_total_pct")))
cols[1].metric(_("Over {range}").format(range=over), formatting.percent(t["hit_rate_pct"]))
cols[2].metric(_("Hits ({range})").format(range=over), count(t["keyspace_hits"]))
cols[3].metric(_("Misses ({range})").format(range=over), count(t["keyspace_misses"]))

st.subheader(_("Traffic"))
cols = st.columns(4)
cols[0].metric(_("Clients connected"), detail.value("connected_clients"))
cols[0].caption(_("{count} blocked").format(count=detail.value("blocked_clients")))
cols[1].metric(_("Operations now"), detail.value("ops_per_sec", unit="/s"))
cols[2].metric(_("Commands/s ({range})").format(range=over), count(t["commands_per_s"], 1))
cols[2].caption(_("{count} commands").format(count=count(t["commands"])))
cols[3].metric(_("Connections opened ({range})").format(range=over),
               count(t["connections_received"]))

st.subheader(_("Memory"))
cols = st.columns(4)
cols[0].metric(_("Used"), detail.megabytes("used_memory_mb"))
cols[0].caption(_("peak {size}").format(size=detail.megabytes("used_memory_peak_mb")))
maxmemory = detail.values.get("maxmemory_mb") or 0
cols[1].metric(_("Used of limit") if maxmemory else _("Used of host memory"),
               formatting.percent(detail.values.get("memory_used_pct")))
cols[1].caption(_("{maxmemory} {size}").format(maxmemory=ltr("maxmemory"),
                                               size=formatting.megabytes(maxmemory))
                if maxmemory else
                _("no {maxmemory} set: {percent} of the host's memory").format(
                    maxmemory=ltr("maxmemory"), percent=ltr("%")))
cols[2].metric(_("Fragmentation"), detail.value("fragmentation_ratio", 2))
cols[2].caption(_("resident / used; above {ratio} wastes memory").format(
    ratio=formatting.figure("1.5")))
# Two counts in one figure would not fit its box: evicted above, expired below.
cols[3].metric(_("Evicted ({range})").format(range=over), count(t["evicted_keys"]))
cols[3].caption(_("{count} expired").format(count=count(t["expired_keys"])))

st.subheader(_("Keys"))
keys, seen_ts = detail.known("keys_per_db")
st.metric(_("Keys in all databases"), detail.value("keys_total"))
if keys and seen_ts is not None:
    st.caption(_("Keys per database as last seen, {time}:").format(
        time=formatting.clock(seen_ts)))
if keys:
    # Redis's database names (db0) are islands; the headers in the page's language.
    headers = {"database": _("database"), "keys": _("keys"), "expires": _("expires")}
    data_table(pd.DataFrame([{"database": ltr(name), **counts}
                               for name, counts in keys.items()]).rename(columns=headers),
                 hide_index=True)
