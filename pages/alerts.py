"""Alerts: what is firing, what fired before, the rules in force, and the channels."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ops import formatting
from ops.alerts.notify import channels, send_test
from ops.alerts.rules import RulesFileError, load_rules
from ops.clock import now_ms
from ops.storage import alerts as records
from ops.storage.outbox import recent
from pages.common import page_settings, plain, store

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
        "fired (UTC)": formatting.clock(a.firing_ts),
        "resolved (UTC)": formatting.clock(a.resolved_ts) if a.resolved_ts else "",
        "lasted": formatting.uptime(((a.resolved_ts or now) - (a.firing_ts or now)) / 1000),
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
    shown = {"webhook": f"webhook {settings.alert_webhook_url} "
                        f"({settings.alert_webhook_format})",
             "email": f"e-mail to {', '.join(settings.alert_email_to or [])} via "
                      f"{settings.smtp_host}:{settings.smtp_port}"}
    st.caption("Sent on firing and on resolved, retried with backoff while a channel is down: "
               + "; ".join(shown[c] for c in configured))
    if st.button("Send test notification", icon=":material/send:"):
        count = send_test(db, settings, now_ms())
        st.toast(f"{count} test message(s) queued; the collector sends them")
sent = recent(db, 20)
if sent:
    st.dataframe(pd.DataFrame([{
        "when (UTC)": formatting.clock(n.created_ts), "event": n.event, "channel": n.channel,
        "status": n.status, "attempts": n.attempts, "error": n.last_error or ""}
        for n in sent]), hide_index=True, width="stretch")
