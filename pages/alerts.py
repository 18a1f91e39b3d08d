"""Alerts: what is firing, what fired before, the rules in force, and the channels."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ops import formatting
from ops.alerts.notify import attempt_wait_s, await_outcome, channel_lines, channels, queue_test
from ops.alerts.rules import RulesFileError, load_rules
from ops.clock import now_ms
from ops.heartbeat import collector_state
from ops.storage import alerts as records
from ops.storage.outbox import counts as outbox_counts
from ops.storage.outbox import recent
from pages.common import page_settings, plain, store

OUTBOX_ROWS = 20
REFRESH_S = 3  # while a message waits to be sent, the outbox view reads it again


def send_test_and_follow() -> None:
    """Queue a test message per channel and, when a collector runs to send them, wait
    until each was tried: the outbox below then shows what the notifier did."""
    ids = queue_test(db, settings, now_ms())
    collector = collector_state(db, settings, now_ms())
    if not collector.running:
        st.warning(f"{len(ids)} test message(s) queued; no collector is running to send "
                   f"them ({plain(collector.message)}).", icon=":material/warning:")
        return
    with st.spinner("The collector is sending the test message(s)..."):
        rows = await_outcome(db, ids, attempt_wait_s(len(ids)))
    for row in rows:
        if row.status == "sent":
            st.success(f"Test message sent by {row.channel} at {formatting.clock(row.sent_ts)}"
                       f" (attempt {row.attempts}).", icon=":material/check_circle:")
        elif row.attempts:
            st.error(f"Test message by {row.channel} not delivered (attempt {row.attempts}, "
                     f"{row.status}): {plain(row.last_error or 'no error recorded')}",
                     icon=":material/error:")
        else:
            st.warning(f"Test message by {row.channel} still queued: the collector has not "
                       "tried it yet.", icon=":material/schedule:")


def outbox_rows() -> list[dict[str, object]]:
    return [{
        "queued": formatting.clock(n.created_ts), "event": n.event, "channel": n.channel,
        "status": n.status, "sent": formatting.clock(n.sent_ts) if n.sent_ts else "",
        "attempts": n.attempts,
        "next try": formatting.clock(n.next_attempt_ts)
        if n.status == "pending" and n.attempts else "",
        "error": n.last_error or ""} for n in recent(db, OUTBOX_ROWS)]


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
configured = channels(settings)
if not configured:
    st.info("No channel configured: set `ALERT_WEBHOOK_URL` (with `ALERT_WEBHOOK_FORMAT` json, "
            "slack or discord) or `SMTP_HOST`, `ALERT_EMAIL_FROM` and `ALERT_EMAIL_TO`.",
            icon=":material/info:")
else:
    st.caption("Sent on firing and on resolved, retried with backoff while a channel is down:")
    st.text("\n".join(channel_lines(settings)))  # text, never a link
    if st.button("Send test notification", icon=":material/send:"):
        send_test_and_follow()
draw_outbox()
