"""Overview: is everything up, and how the host is doing, refreshed every sample interval."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import streamlit as st

from ops import formatting
from ops.catalogue import service
from ops.clock import now_ms
from ops.heartbeat import collector_state
from ops.i18n import (
    LEFT_TO_RIGHT_ISOLATE,
    N_,
    POP_DIRECTIONAL_ISOLATE,
    _,
    ltr,
    ngettext,
    right_to_left,
)
from ops.views.backups import summary
from ops.views.overview import container_tile, host_figures, service_tiles, uptime_rows
from pages.common import page_settings, plain, store

settings = page_settings()
db = store(str(settings.database_path))

st.title(_("Overview"))

STATE_COLOURS = {"UP": "green", "DOWN": "red"}
# A tile's state (ops.views.overview) as the page says it.
STATES = {"UP": N_("UP"), "DOWN": N_("DOWN"), "not configured": N_("not configured"),
          "waiting": N_("waiting"), "not watched": N_("not watched")}
# The uptime table's windows (the keys of ops.uptime.WINDOWS) as its header names them.
WINDOWS = {"24 h": N_("24 h"), "7 d": N_("7 d"), "30 d": N_("30 d"), "1 y": N_("1 y")}


def inert(text: str) -> str:
    """A text already in the page's language, its own islands marked, that holds what a
    service wrote: made inert for Markdown as plain() does, but not one island as a whole."""
    return plain(text).removeprefix(LEFT_TO_RIGHT_ISOLATE).removesuffix(
        POP_DIRECTIONAL_ISOLATE)


def figures(*values: float | None, places: int = 2) -> str:
    """`0.52 / 0.40 / 0.31`: figures of the host, one island."""
    return formatting.figure(" / ".join(f"{value or 0:.{places}f}" for value in values))


# The gap between a tile's label and its badge: a no-break space (the entity on English
# pages, as ever; the character itself where the entity's letters would sit in Arabic).
GAP = "\u00a0" if right_to_left() else "&nbsp;"


@st.fragment(run_every=timedelta(seconds=settings.sample_interval_seconds))
def live() -> None:
    now = now_ms()
    collector = collector_state(db, settings, now)
    tiles = [*service_tiles(db, settings, now), container_tile(db, now)]
    for column, tile in zip(st.columns(len(tiles)), tiles, strict=True):
        with column.container(border=True):
            colour = STATE_COLOURS.get(tile.state, "gray")
            state = _(STATES.get(tile.state, tile.state))
            st.markdown(f"**{tile.label}** {GAP} :{colour}-badge[{state}]")
            if tile.state == "not configured":
                setting, example = service(tile.source).setting, service(tile.source).example
                st.markdown(_("Not watched. Set {setting}, e.g.  \n{example}").format(
                    setting=ltr(f"`{setting}`"), example=ltr(f"`{setting}={example}`")))
            else:
                st.markdown(inert(tile.figure))
            if tile.since:
                lasted = _("{state} for {duration}").format(state=state, duration=tile.since)
                st.caption(lasted + (f" · {inert(tile.detail)}" if tile.detail else ""))
    host = host_figures(db)
    st.subheader(_("Host"))
    if not host:
        st.info(_("No host sample yet."))
        return
    cols = st.columns(5)
    cols[0].metric(_("Memory used"), formatting.percent(host.get("mem_used_pct")),
                   help=_("share of the host's memory not available to new programs"))
    cols[0].caption(_("{free} free of {total}").format(
        free=formatting.megabytes(host.get("mem_free_mb")),
        total=formatting.megabytes(host.get("mem_total_mb"))))
    cols[1].metric(_("Load average"), figures(host.get("load_1")),
                   help=_("processes running or waiting, over 1 minute"))
    cols[1].caption(_("{minutes} min: {loads}").format(
        minutes=ltr("1 / 5 / 15"),
        loads=figures(*(host.get(k) for k in ("load_1", "load_5", "load_15")))))
    cols[2].metric(_("CPU"), formatting.percent(host.get("cpu_pct"), 1))
    cores = host.get("cores") or 0
    cols[2].caption(ngettext("{count} core", "{count} cores", round(cores)).format(
        count=formatting.figure(f"{cores:.0f}")))
    cols[3].metric(_("Data disk used"), formatting.percent(host.get("disk_used_pct"), 1))
    cols[3].caption(_("{free} free").format(free=formatting.megabytes(host.get("disk_free_mb"))))
    cols[4].metric(_("Collector memory"), formatting.megabytes(host.get("process_rss_mb")))
    backups(now)
    availability(now)
    st.caption(collector.shown)


def availability(now: int) -> None:
    rows = uptime_rows(db, settings, now)
    if not rows:
        return
    st.subheader(_("Uptime"))
    st.dataframe(pd.DataFrame([
        {_("service"): label,
         **{_(WINDOWS.get(window, window)): formatting.percent(pct, 3)
            for window, pct in spans.items()}}
        for label, spans in rows]), hide_index=True)
    st.caption(_("From the up/down events, exact whatever the age; time before a service was "
                 "first watched does not count."))
    trimmed = db.events(now - 7 * 86_400_000, now, sources=["store"], limit=1)
    if trimmed:
        st.info(_("History trimmed {ago}: {message}").format(
            ago=formatting.age(trimmed[0].ts, now), message=ltr(trimmed[0].message)),
            icon=":material/info:")


def backups(now: int) -> None:
    st.subheader(_("Backups"))
    if settings.mongo_uri is None:
        st.caption(_("No backups: {mongodb} is not watched (set {setting}).").format(
            mongodb=ltr("MongoDB"), setting=ltr("`MONGO_URI`")))
        return
    state = summary(settings, db)
    cols = st.columns(3)
    last = state.last
    if last is None:
        cols[0].metric(_("Last backup"), _("none yet"))
        cols[0].caption(_("none yet"))
    else:
        # the figures in their two largest units (`1d 5h ago`), which fit their boxes;
        # the caption has the whole age
        cols[0].metric(_("Last backup"), state.last_figure(now))
        cols[0].caption(_("{age}, {size}, {status}").format(
            age=formatting.age(int(last.created.timestamp() * 1000), now),
            size=formatting.size(last.size_bytes), status=ltr(last.status)))
    good = state.last_good
    cols[1].metric(_("Last good backup"), formatting.age(
        int(good.created.timestamp() * 1000), now, units=2) if good else _("none"))
    zone = settings.backup_timezone.key
    if not settings.enable_auto_backup:
        cols[2].metric(_("Next scheduled"), _("off"))
        cols[2].caption(_("automatic backups off ({setting})").format(
            setting=ltr("ENABLE_AUTO_BACKUP=false")))
    elif state.next_ts is None:
        daily = formatting.figure(f"{settings.backup_time:%H:%M} {zone}")
        cols[2].metric(_("Next scheduled"), _("at {time}").format(time=daily))
        cols[2].caption(_("daily at {time}").format(time=daily))
    else:
        when = datetime.fromtimestamp(state.next_ts / 1000, settings.backup_timezone)
        cols[2].metric(_("Next scheduled"), formatting.figure(f"{when:%H:%M} {zone}"))
        cols[2].caption(formatting.figure(f"{when:%Y-%m-%d %H:%M} {zone}"))

live()
