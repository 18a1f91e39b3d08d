"""Alerts: what is firing, what fired before, the rules in force, the channels (each with
its state and its own Send test), maintenance windows, and the outbox."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ops import formatting
from ops.alerts import silences
from ops.alerts.notify import attempt_wait_s, await_outcome, channel_state, queue_test
from ops.alerts.rules import RulesFileError, load_rules
from ops.clock import now_ms
from ops.storage import alerts as records
from ops.storage.outbox import counts as outbox_counts
from ops.storage.outbox import recent
from pages.common import page_settings, plain, store

OUTBOX_ROWS = 20
REFRESH_S = 3  # while a message waits to be sent, the outbox view reads it again


def send_test(channel: str) -> None:
    """Queue a test message on one channel and wait until it was tried (by this
    process's notifier, or the collector's); its row then says `sent` or `failed`."""
    ids = queue_test(db, settings, now_ms(), channel)
    with st.spinner(f"Sending a test message on {channel}..."):
        rows = await_outcome(db, ids, attempt_wait_s(len(ids)))
    st.session_state[f"test:{channel}"] = [
        (row.status if row.status == "sent" or not row.attempts else "failed",
         row.last_error or "") for row in rows]


def test_result(channel: str) -> str:
    results = st.session_state.get(f"test:{channel}") or []
    if not results:
        return ""
    status, error = (str(part) for part in results[-1])
    if status == "pending":
        return "queued: not tried yet"
    return status + (f": {error}" if status == "failed" and error else "")


def draw_channels() -> None:
    """One row per channel: where it goes (scheme, host and port), from which setting,
    last success, last error, and its own Send test button."""
    state = channel_state(db, settings)
    if not state:
        st.info("No channel configured: set `ALERT_URLS` (Apprise URLs such as "
                "`ntfy://`, `tgram://`, `mailtos://`, `json://`), or `ALERT_WEBHOOK_URL` or "
                "`SMTP_HOST`, `ALERT_EMAIL_FROM` and `ALERT_EMAIL_TO`.", icon=":material/info:")
        return
    st.caption("Sent on firing, on resolved (several at once as one digest), retried with "
               "backoff for 24 h while a channel is down:")
    for row in state:
        name = str(row["name"])
        cells = st.columns([3, 3, 3, 1])
        cells[0].text(f"{name}\n{row['shown']} (from {row['origin']})")  # text, never a link
        success = row["last_success_ts"]
        cells[1].text("last success: " + (formatting.clock(int(success)) if success
                                          else "never"))
        error = row["last_error"]
        cells[2].text("last error: " + (f"{formatting.clock(int(row['last_error_ts']))} "
                                         f"{error}" if error else "none"))
        # A callback: it runs before the page is drawn again, so the row shows the outcome.
        cells[3].button("Send test", key=f"send-test-{name}", icon=":material/send:",
                        on_click=send_test, args=(name,))
        result = test_result(name)
        if result:
            (st.success if result == "sent" else st.error)(
                f"Test on {name}: {plain(result)}")


def draw_silences() -> None:
    """Maintenance windows: in force, with End; and a control to start one."""
    active = silences.active(db, now)
    for silence in active:
        cells = st.columns([6, 1])
        cells[0].text(f"Silenced: {silences.describe(silence, now)}")
        if cells[1].button("End", key=f"end-silence-{silence.id}"):
            silences.end(db, silence.id, now_ms())
            st.rerun()
    with st.form("silence"):
        left, right = st.columns(2)
        duration = left.selectbox("For", ["30m", "1h", "2h", "4h", "8h", "1d"], index=2)
        target = right.selectbox("What", ["all", *silences.targets(settings)])
        if st.form_submit_button("Silence", icon=":material/notifications_off:"):
            made = silences.silence(db, settings, duration, target, "Alerts page", now_ms())
            st.success(f"Silenced {plain(silences.describe(made, now_ms()))}: nothing is "
                       "sent meanwhile, everything is recorded.")


def outbox_rows() -> list[dict[str, object]]:
    return [{
        "queued": formatting.clock(n.created_ts), "event": n.event, "channel": n.channel,
        "status": n.status, "sent": formatting.clock(n.sent_ts) if n.sent_ts else "",
        "attempts": n.attempts,
        "next try": formatting.clock(n.next_attempt_ts)
        if n.status == "pending" and n.attempts else "",
        "error": n.last_error or n.note or ""} for n in recent(db, OUTBOX_ROWS)]


def draw_outbox() -> None:
    """The newest messages, read again every few seconds while one is pending, so a row
    turns `sent` when the notifier delivers it without reloading the page."""
    pending = outbox_counts(db)["pending"] > 0

    @st.fragment(run_every=REFRESH_S if pending else None)
    def table() -> None:
        rows = outbox_rows()
        if rows:
            st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")

    table()


settings = page_settings()
db = store(str(settings.database_path))
now = now_ms()

st.title("Alerts")

firing = records.firing(db)
st.subheader(f"Firing ({len(firing)})")
if not firing:
    st.success("Nothing is firing.", icon=":material/check_circle:")
for alert in firing:
    since = formatting.age(alert.firing_ts, now).replace(" ago", "")
    st.error(f"**{plain(alert.severity)}** · {plain(alert.message)} · for {since}",
             icon=":material/error:")

st.subheader("History")
past = records.history(db)
if past:
    st.dataframe(pd.DataFrame([{
        "rule": a.rule, "subject": a.subject, "severity": a.severity, "status": a.status,
        "fired": formatting.clock(a.firing_ts),
        "resolved": formatting.clock(a.resolved_ts) if a.resolved_ts else "",
        # from when the condition began, as the resolution's message and notifications
        "lasted": formatting.uptime(((a.resolved_ts or now) - a.pending_ts) / 1000),
        "message": a.message} for a in past]), hide_index=True, width="stretch")
else:
    st.caption("No alert has fired yet.")

st.subheader("Rules in force")
try:
    rules = load_rules(settings.alert_rules_file)
    source = str(settings.alert_rules_file) if settings.alert_rules_file else "the defaults"
except RulesFileError as error:
    st.error(str(error))
    rules = ()
    source = ""
if rules:
    st.caption(f"From {source}. Change them with `ALERT_RULES_FILE` (see the README). The "
               "collector being silent is judged here, by the dashboard, from its heartbeat.")
    st.dataframe(pd.DataFrame([{
        "rule": r.name, "what": r.title, "severity": r.severity,
        "threshold": "" if r.threshold is None else f"{r.threshold:g}",
        "fires after": " and ".join(p for p in (
            f"{r.for_samples} samples" if r.for_samples > 1 else "",
            f"{r.for_seconds // 60} min" if r.for_seconds else "") if p) or "1 sample",
        "resolves after": f"{r.clear_samples} clean samples",
        "on": r.enabled} for r in rules]), hide_index=True, width="stretch",
        height=(len(rules) + 1) * 35 + 3)  # every rule in view, no inner scrolling

st.subheader("Notifications")
draw_channels()
st.subheader("Maintenance windows")
st.caption("While one is in force, alert messages it covers are recorded but not sent "
           "(also `python -m ops silence 2h [rule|service]`).")
draw_silences()
draw_outbox()
