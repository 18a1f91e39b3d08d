"""Backups: the catalogue, downloads, Backup now with live progress, verify, restore.

Text that came from a service, a manifest or an error (a job's error, a collection's
name, a backup's status) is shown as text: in a dataframe, or made inert by `plain`
where it stands in an alert or a caption - never as Markdown, where `[x](http://evil)`
would be a link and `![](http://evil/pixel)` an image fetched by the browser.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pandas as pd
import streamlit as st

from ops import formatting
from ops.backup.catalogue import databases_in, list_backups
from ops.backup.errors import RestoreError
from ops.backup.requests import RECENT_SECONDS, request_backup_job
from ops.backup.restore import check_target
from ops.backup.restored import SCRATCH_PREFIX, forget, left_out, restored_copies
from ops.clock import now_ms
from ops.copies.fetching import listings
from ops.heartbeat import collector_state
from ops.i18n import _, as_told, ltr, ngettext
from ops.sources.configured import how_to_watch
from ops.storage import Job
from ops.views.backups import (
    KINDS,
    copies_text,
    copy_notice,
    databases_text,
    describe_job,
    drill_text,
    event_label,
    fraction_done,
    kind_label,
    last_drill,
    listed,
    option_label,
    status_label,
    summary,
)
from ops.web.downloads import signed_link
from pages.common import data_table, page_settings, plain, store


def inert(job: Job) -> Job:
    """`job` with every text in it that a service, a manifest or an error wrote (its
    error, file and collection names, the result's strings) made inert by `plain`, so
    `describe_job` words it as before and Markdown in those texts does nothing."""
    def clean(values: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if values is None else {
            key: plain(value) if isinstance(value, str) else value
            for key, value in values.items()}

    return replace(job, kind=job.kind if job.kind in KINDS else plain(job.kind),
                   error=plain(job.error) if job.error else None,
                   progress=clean(job.progress), result=clean(job.result))


settings = page_settings()
db = store(str(settings.database_path))

st.title(_("Backups"))

if settings.mongo_uri is None:
    st.info(_("{service} is {state}. Backups need it.").format(
        service=ltr("MongoDB"), state=how_to_watch("mongo")), icon=":material/info:")

state = summary(settings, db)
now = now_ms()
cols = st.columns(4)
cols[0].metric(_("Last backup"), state.last_figure(now))
cols[0].caption(state.last_text(now, inert=plain))  # the status comes from the manifest
cols[1].metric(_("Next scheduled"), state.next_figure(settings))
cols[1].caption(state.next_text(settings))
days = settings.backup_retention_days
cols[2].metric(_("Retention"), ngettext("{days} days", "{days} days", days).format(
    days=formatting.figure(str(days))))
cols[2].caption(_("the newest good backup is always kept"))
cols[3].metric(_("Backups on disk"), state.count)
cols[3].caption(ltr(settings.backup_dir))


def already(job: Job) -> str:
    """The toast of a request that joined a job already queued or running."""
    text = (_("A {kind} is already queued: following it") if job.status == "queued" else
            _("A {kind} is already running: following it") if job.status == "running" else
            _("A {kind} is already {status}: following it"))
    return text.format(kind=kind_label(job.kind, plain), status=ltr(job.status))


def request(kind: str, params: dict[str, object] | None = None, join: bool = True) -> None:
    job, created = db.request_job(kind, "dashboard", now_ms(), params, join=join)
    st.session_state["followed_job"] = job.id
    if not created:
        st.toast(already(job))


def request_backup(again: bool = False) -> None:
    """Backup now: the backup running, or the one that just finished (the page then asks
    whether to take another), or a new one; requests.py decides, as for the command."""
    asked = request_backup_job(db, "dashboard", now_ms(), again=again)
    st.session_state["followed_job"] = asked.job.id
    st.session_state["confirm_backup"] = asked.job.id if asked.recent else None
    if not asked.created and not asked.recent:
        st.toast(already(asked.job))


def refusal(target: str) -> str | None:
    """Why `target` may not be restored into (admin, local, config in any spelling, or
    not a database name), before anything is queued; None when it may."""
    try:
        check_target(target)
    except RestoreError as error:
        return str(error)
    return None


def confirm_another_backup() -> None:
    """After Backup now found a backup finished less than RECENT_SECONDS ago."""
    job = db.job(st.session_state.get("confirm_backup") or 0)
    if job is None or job.finished_ts is None:
        return
    age = max(0, round((now_ms() - job.finished_ts) / 1000))
    st.warning(_("A backup finished {age} ago - take another?").format(
        age=formatting.figure(f"{age} s")), icon=":material/help:")
    yes, no = st.columns(2)
    if yes.button(_("Take another backup"), key="backup_again", icon=":material/backup:"):
        request_backup(again=True)
        st.rerun()
    if no.button(_("No, keep that one"), key="backup_keep"):
        st.session_state["confirm_backup"] = None
        st.rerun()


@st.fragment(run_every=timedelta(seconds=1))
def follow_job() -> None:
    job_id = st.session_state.get("followed_job")
    job: Job | None = db.job(job_id) if job_id else None
    if job is None:
        return
    collector = collector_state(db, settings, now_ms())
    job = inert(job)
    if job.active and not collector.running:
        st.error(_("{collector}. The {kind} is queued and starts when the collector runs "
                   "({command}).").format(collector=collector.shown,
                                          kind=kind_label(job.kind),
                                          command=ltr("`python -m collector`")),
                 icon=":material/error:")
        return
    text = describe_job(job)
    if job.active:
        st.progress(fraction_done(job) or 0.0, text=text)
        return
    if st.session_state.get("shown_job_end") != job.id:
        st.session_state["shown_job_end"] = job.id
        st.rerun(scope="app")  # once: the catalogue and figures now include the result
    if job.status == "ok":
        st.success(text, icon=":material/check_circle:")
    else:
        st.error(text, icon=":material/error:")


left, right = st.columns([1, 3])
if left.button(_("Backup now"), type="primary", disabled=settings.mongo_uri is None,
               icon=":material/backup:"):
    request_backup()
right.caption(_("The collector runs the backup; this page follows it. A request while a "
                "backup runs joins that backup; one less than {seconds} after a backup "
                "finished asks first.").format(seconds=formatting.figure(f"{RECENT_SECONDS} s")))
if st.session_state.get("confirm_backup"):
    confirm_another_backup()
follow_job()

entries = list_backups(settings.backup_dir)
by_id = {e.id: e for e in entries}
SELECTORS = ("download_backup", "verify_backup", "drill_backup", "restore_backup")


def on_newest() -> None:
    """Every selector starts on the newest backup, and moves to a newer one as soon as it
    appears (after Backup now too): Streamlit keeps a keyed choice while it is still an
    option, which left Verify and Restore on the backup before."""
    newest = entries[0].id
    if st.session_state.get("catalogue_newest") != newest:
        st.session_state["catalogue_newest"] = newest
        for key in SELECTORS:
            st.session_state[key] = newest


@as_told
def label(backup: str) -> str:
    """An option as the catalogue reads (selectbox options are plain text, not Markdown)."""
    return option_label(by_id[backup])


def restore_form(ids: list[str]) -> None:
    chosen = st.selectbox(_("Backup"), ids, key="restore_backup", format_func=label)
    choices = databases_in(by_id[chosen])
    from_db: str | None = None
    if choices:
        from_db = st.selectbox(_("Database in the backup"), choices, key="restore_from_db",
                               format_func=as_told(ltr),
                               help=_("A backup holds every database it took; one is "
                                      "restored at a time"))
    else:
        st.warning(_("No database could be read from this backup: Verify it to see why."),
                   icon=":material/warning:")
    target = st.text_input(_("Into database"), key="restore_target",
                           help=_("Restoring into a new name leaves the original alone"))
    drop = st.checkbox(_("Replace what is in that database (drop its collections first)"),
                       key="restore_drop")
    typed = st.text_input(_("Type the database name again to confirm"), key="restore_confirm")
    refused = refusal(target) if target else None
    if refused:
        st.error(plain(refused), icon=":material/block:")
    elif target:
        st.caption(copy_notice(settings, left_out(db, settings.backup_databases), target,
                               inert=plain))
    ready = bool(target) and typed == target and settings.mongo_uri is not None \
        and from_db is not None
    # The refusal is said as soon as the name is typed, and the click is refused too:
    # whatever reaches the server, nothing is queued for such a target.
    if st.button(_("Restore"), type="primary", disabled=not ready, key="restore_button") \
            and ready and refused is None:
        request("restore", {"backup": chosen, "from_db": from_db, "to_db": target,
                            "drop": drop}, join=False)
        st.rerun()


def left_out_copies() -> None:
    """The restored copies the daily backups leave out, each with a way back in."""
    copies = restored_copies(db) if settings.backup_databases is None else []
    if not copies:
        return
    st.caption(_("Left out of the daily backups as restored copies (set {setting} to choose "
                 "the databases yourself): {copies}").format(
        setting=ltr("BACKUP_DATABASES"), copies=listed([
            _("{name} (from {database}, {backup})").format(
                name=plain(c.name), database=plain(c.from_db), backup=plain(c.backup))
            for c in copies])))
    for copy in copies:
        if st.button(_("Back up {name} again").format(name=plain(copy.name)),
                     key=f"include_{copy.name}"):
            forget(db, copy.name, now_ms())
            st.rerun()


st.subheader(_("Catalogue"))
if not entries:
    st.caption(_("No backups in {directory} yet.").format(directory=ltr(settings.backup_dir)))
else:
    on_newest()
    ids = [e.id for e in entries]
    # Above the table, outside it: on a phone its last column (download) is off-screen.
    pick = st.selectbox(_("Download a backup"), ids, key="download_backup", format_func=label)
    st.link_button(_("Download"), signed_link(settings, pick), icon=":material/download:")
    zone = formatting.zone_name()
    created = f"created ({zone})"
    table = pd.DataFrame([{
        created: formatting.clock(e.created_ms),
        "size": formatting.size(e.size_bytes), "databases": databases_text(e),
        "duration": formatting.figure(f"{e.duration_s:.1f} s")
        if e.duration_s is not None else "",
        "collections": e.collections, "documents": e.documents,
        "status": status_label(e.status), "verified": e.verified, "drill": drill_text(e),
        **({"copies": copies_text(settings, db, e.id)} if settings.backup_copy_urls else {}),
        "download": signed_link(settings, e.id),
    } for e in entries])
    # The headers in the page's language (display only: the keys above stay English).
    headers = {created: _("created ({zone})").format(zone=ltr(zone)), "size": _("size"),
               "databases": _("databases"), "duration": _("duration"),
               "collections": _("collections"), "documents": _("documents"),
               "status": _("status"), "verified": _("verified"), "drill": _("drill"),
               "copies": _("copies"), "download": _("download")}
    data_table(table.rename(columns=headers), hide_index=True, width="stretch",
                 column_config={
                     headers["download"]: st.column_config.LinkColumn(
                         headers["download"], display_text=_("download")),
                     headers["verified"]: st.column_config.CheckboxColumn(headers["verified"]),
                 })
    st.caption(_("Download links are signed and work for 5 minutes; reload the page for new "
                 "ones. Restore a download anywhere with {command}.").format(
        command=ltr("`mongorestore --gzip --archive=FILE`")))
    drilled = last_drill(entries)
    if drilled:
        said = _("Last restore drill: {summary}").format(
            summary=plain(str(drilled.get("summary"))))
        if drilled.get("ok"):
            st.caption(said)
        else:
            st.error(said, icon=":material/error:")

    with st.expander(_("Verify a backup"), icon=":material/verified:"):
        chosen = st.selectbox(_("Backup"), ids, key="verify_backup", format_func=label)
        st.caption(_("Checks the {sha256} against the manifest, the {gzip} stream, the archive "
                     "structure, each collection's {crc} and every document.").format(
            sha256=ltr("sha256"), gzip=ltr("gzip"), crc=ltr("CRC")))
        if st.button(_("Verify"), key="verify_button"):
            request("verify", {"backup": chosen}, join=False)
            st.rerun()

    with st.expander(_("Restore drill"), icon=":material/fact_check:"):
        chosen = st.selectbox(_("Backup"), ids, key="drill_backup", format_func=label)
        schedule = (_("Scheduled: {schedule}.").format(schedule=ltr(settings.backup_drill))
                    if settings.backup_drill != "off" else
                    _("Set {setting} to run one on a schedule.").format(
                        setting=ltr("BACKUP_DRILL=weekly")))
        st.caption(_("Restores every database of the backup into scratch databases ({names}) "
                     "on the same server, compares each collection's document count and "
                     "content with the backup, then drops them. {schedule}").format(
            names=ltr(f"{SCRATCH_PREFIX}0, ..."), schedule=schedule))
        if st.button(_("Run drill"), key="drill_button", disabled=settings.mongo_uri is None):
            request("drill", {"backup": chosen}, join=False)
            st.rerun()

    with st.expander(_("Restore a backup"), icon=":material/settings_backup_restore:"):
        restore_form(ids)
left_out_copies()


@st.cache_data(ttl=60, show_spinner=_("Asking the copy targets what they hold..."))
def copies_held(urls: tuple[str, ...]) -> list[dict[str, Any]]:
    """Each target's listing, for a minute: listing a bucket is a request per page run."""
    return [{"target": t.target, "error": t.error,
             "backups": [(b.id, b.size, b.encrypted, b.complete) for b in t.backups]}
            for t in listings(settings)]


def copies_off_this_host() -> None:
    """What every BACKUP_COPY_URLS target holds, and a way to bring a copy back when the
    local file is gone (a rebuilt host): fetched, checked against its manifest, then it is
    a backup here like any other - restorable, downloadable."""
    st.subheader(_("Copies off this host"))
    if not st.session_state.get("list_copies"):
        st.caption(_("Copies are made after each backup, read back and checked before they "
                     "count; the copies column above says which targets hold a good one."))
        if st.button(_("List what the targets hold"), key="list_copies_button",
                     icon=":material/cloud:"):
            st.session_state["list_copies"] = True  # a target down can take seconds
            st.rerun()
        return
    here = set(by_id)
    missing: list[str] = []
    for held in copies_held(tuple(settings.backup_copy_urls or [])):
        st.caption(plain(f"{held['target']}"))
        if held["error"]:
            st.error(plain(held["error"]), icon=":material/cloud_off:")
            continue
        rows = [{"backup": ident, "size": formatting.size(size),
                 "encrypted": encrypted, "complete": complete, "here": ident in here}
                for ident, size, encrypted, complete in held["backups"]]
        if rows:
            data_table(pd.DataFrame([{
                _("backup"): ltr(row["backup"]), _("size"): row["size"],
                _("encrypted"): row["encrypted"], _("complete"): row["complete"],
                _("here"): row["here"]} for row in rows]), hide_index=True, width="stretch")
        missing += [r["backup"] for r in rows if r["complete"] and not r["here"]]
    if missing:
        chosen = st.selectbox(_("Fetch a copy back to this host"), sorted(set(missing),
                              reverse=True), key="fetch_backup", format_func=as_told(ltr))
        if st.button(_("Fetch"), key="fetch_button", icon=":material/cloud_download:"):
            request("fetch", {"backup": chosen}, join=False)
            st.rerun()


if settings.backup_copy_urls:
    copies_off_this_host()

events = db.events(0, now_ms(), sources=["backup"], limit=15)
if events:
    st.subheader(_("Recent backup events"))
    data_table(pd.DataFrame([{
        _("when ({zone})").format(zone=ltr(formatting.zone_name())): formatting.clock(e.ts),
        _("event"): event_label(e.kind), _("detail"): ltr(e.message or "")} for e in events]),
        hide_index=True, width="stretch")
