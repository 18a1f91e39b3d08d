"""Overview: is everything up, and how the host is doing, refreshed every sample interval."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from ops import formatting
from ops.catalogue import service
from ops.clock import now_ms
from ops.heartbeat import collector_state
from ops.views.backups import summary
from ops.views.overview import container_tile, host_figures, service_tiles, uptime_rows
from pages.common import page_settings, plain, store

settings = page_settings()
db = store(str(settings.database_path))

st.title("Overview")

STATE_COLOURS = {"UP": "green", "DOWN": "red"}


@st.fragment(run_every=timedelta(seconds=settings.sample_interval_seconds))
def live() -> None:
    now = now_ms()
    collector = collector_state(db, settings, now)
    tiles = [*service_tiles(db, settings, now), container_tile(db, now)]
    for column, tile in zip(st.columns(len(tiles)), tiles, strict=True):
        with column.container(border=True):
            colour = STATE_COLOURS.get(tile.state, "gray")
            st.markdown(f"**{tile.label}** &nbsp; :{colour}-badge[{tile.state}]")
            if tile.state == "not configured":
                setting, example = service(tile.source).setting, service(tile.source).example
                st.markdown(f"Not watched. Set `{setting}`, e.g.  \n`{setting}={example}`")
            else:
                st.markdown(plain(tile.figure))
            if tile.since:
                st.caption(f"{tile.state} for {tile.since}" + (f" · {plain(tile.detail)}"
                                                                if tile.detail else ""))
    host = host_figures(db)
    st.subheader("Host")
    if not host:
        st.info("No host sample yet.")
        return
    cols = st.columns(5)
    cols[0].metric("Memory used", formatting.percent(host.get("mem_used_pct")),
                   help="share of the host's memory not available to new programs")
    cols[0].caption(f"{formatting.megabytes(host.get('mem_free_mb'))} free of "
                    f"{formatting.megabytes(host.get('mem_total_mb'))}")
    cols[1].metric("Load average", f"{host.get('load_1') or 0:.2f}",
                   help="processes running or waiting, over 1 minute")
    cols[1].caption("1 / 5 / 15 min: " + " / ".join(
        f"{host.get(k) or 0:.2f}" for k in ("load_1", "load_5", "load_15")))
    cols[2].metric("CPU", formatting.percent(host.get("cpu_pct"), 1))
    cols[2].caption(f"{host.get('cores') or 0:.0f} cores")
    cols[3].metric("Data disk used", formatting.percent(host.get("disk_used_pct"), 1))
    cols[3].caption(f"{formatting.megabytes(host.get('disk_free_mb'))} free")
    cols[4].metric("Collector memory", formatting.megabytes(host.get("process_rss_mb")))
    backups(now)
    availability(now)
    st.caption(collector.message)


def availability(now: int) -> None:
    rows = uptime_rows(db, settings, now)
    if not rows:
        return
    st.subheader("Uptime")
    st.dataframe(pd.DataFrame([
        {"service": label,
         **{window: formatting.percent(pct, 3) for window, pct in windows.items()}}
        for label, windows in rows]), hide_index=True)
    st.caption("From the up/down events, exact whatever the age; time before a service was "
               "first watched does not count.")
    trimmed = db.events(now - 7 * 86_400_000, now, sources=["store"], limit=1)
    if trimmed:
        st.info(f"History trimmed {formatting.age(trimmed[0].ts, now)}: {trimmed[0].message}",
                icon=":material/info:")


def backups(now: int) -> None:
    st.subheader("Backups")
    if settings.mongo_uri is None:
        st.caption("No backups: MongoDB is not watched (set `MONGO_URI`).")
        return
    state = summary(settings, db)
    cols = st.columns(3)
    cols[0].metric("Last backup", state.last_text(now).split(",")[0])
    cols[0].caption(state.last_text(now))
    good = state.last_good
    cols[1].metric("Last good backup", formatting.age(
        int(good.created.timestamp() * 1000), now) if good else "none")
    cols[2].metric("Next scheduled", state.next_text(settings).split(" ", 1)[-1]
                   if settings.enable_auto_backup else "off")
    cols[2].caption(state.next_text(settings))


live()
