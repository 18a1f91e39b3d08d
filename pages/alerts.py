"""Alerts: what is firing, what fired before, the rules in force, the channels (each with
its state and its own Send test), maintenance windows, and the outbox."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from ops import formatting
from ops.alerts import shown, silences
from ops.alerts.notify import attempt_wait_s, await_outcome, channel_state, queue_test
from ops.alerts.rules import Rule, RulesFileError, load_rules
from ops.clock import now_ms
from ops.i18n import N_, _, as_told, ltr, ngettext
from ops.storage import alerts as records
from ops.storage.outbox import counts as outbox_counts
from ops.storage.outbox import recent
from ops.storage.silences import Silence
from pages.common import data_table, page_settings, plain, store

OUTBOX_ROWS = 20
REFRESH_S = 3  # while a message waits to be sent, the outbox view reads it again
# A message's status in the outbox, and the events it tells.
STATUSES = {"pending": N_("pending"), "sent": N_("sent"), "failed": N_("failed"),
            "silenced": N_("silenced")}
EVENTS = {"firing": N_("firing"), "resolved": N_("resolved"), "test": N_("test")}
DURATIONS = ["30m", "1h", "2h", "4h", "8h", "1d"]


def send_test(channel: str) -> None:
    """Queue a test message on one channel and wait until it was tried (by this
    process's notifier, or the collector's); its row then says `sent` or `failed`."""
    ids = queue_test(db, settings, now_ms(), channel)
    with st.spinner(_("Sending a test message on {channel}...").format(channel=ltr(channel))):
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
        return _("queued: not tried yet")
    if status == "failed" and error:
        return _("failed: {error}").format(error=plain(error))
    return _(STATUSES[status]) if status in STATUSES else plain(status)


def draw_channels() -> None:
    """One row per channel: where it goes (scheme, host and port), from which setting,
    last success, last error, and its own Send test button."""
    state = channel_state(db, settings)
    if not state:
        st.info(_("No channel configured: set {alert_urls} (Apprise URLs such as {examples}), "
                  "or {webhook} or {smtp_host}, {email_from} and {email_to}.").format(
                    alert_urls=ltr("`ALERT_URLS`"),
                    examples=", ".join(ltr(f"`{scheme}`") for scheme in
                                       ("ntfy://", "tgram://", "mailtos://", "json://")),
                    webhook=ltr("`ALERT_WEBHOOK_URL`"), smtp_host=ltr("`SMTP_HOST`"),
                    email_from=ltr("`ALERT_EMAIL_FROM`"), email_to=ltr("`ALERT_EMAIL_TO`")),
                icon=":material/info:")
        return
    st.caption(_("Sent on firing, on resolved (several at once as one digest), retried with "
                 "backoff for {hours} while a channel is down:").format(
                     hours=formatting.figure("24 h")))
    for row in state:
        name = str(row["name"])
        cells = st.columns([3, 3, 3, 1])
        cells[0].text(ltr(name) + "\n" + _("{where} (from {setting})").format(
            where=ltr(row["shown"]), setting=ltr(row["origin"])))  # text, never a link
        success = row["last_success_ts"]
        cells[1].text(_("last success: {when}").format(
            when=formatting.clock(int(success)) if success else _("never")))
        error = row["last_error"]
        cells[2].text(_("last error: {error}").format(
            error=f"{formatting.clock(int(row['last_error_ts']))} {ltr(error)}" if error
            else _("none")))
        # A callback: it runs before the page is drawn again, so the row shows the outcome.
        cells[3].button(_("Send test"), key=f"send-test-{name}", icon=":material/send:",
                        on_click=send_test, args=(name,))
        result = test_result(name)
        if result:
            sent = (st.session_state.get(f"test:{name}") or [("",)])[-1][0] == "sent"
            (st.success if sent else st.error)(
                _("Test on {channel}: {result}").format(channel=ltr(name),
                                                        result=result))


def target_name(target: str) -> str:
    """A silence's target as the form lists it: every alert, a rule, or a subject."""
    if target == "all":
        return _("all")
    if target in shown.RULE_NAMES:
        return ltr(target)
    return shown.subject(target)


def described(silence: Silence, at_ts: int, island: Callable[[str], str] = ltr) -> str:
    """A maintenance window as the page tells it (silences.describe in English); who set
    it made an island by `island` (plain for Markdown)."""
    return _("{id}: {what} until {until} ({left} left), set by {who}").format(
        id=formatting.figure(str(silence.id)),
        what=_("all alerts") if silence.target is None else target_name(silence.target),
        until=formatting.clock(silence.until_ts),
        left=formatting.uptime((silence.until_ts - at_ts) / 1000),
        who=_("Alerts page") if silence.created_by == "Alerts page"
        else island(silence.created_by))


def draw_silences() -> None:
    """Maintenance windows: in force, with End; and a control to start one."""
    active = silences.active(db, now)
    for silence in active:
        cells = st.columns([6, 1])
        cells[0].text(_("Silenced: {window}").format(window=described(silence, now)))
        if cells[1].button(_("End"), key=f"end-silence-{silence.id}"):
            silences.end(db, silence.id, now_ms())
            st.rerun()
    with st.form("silence"):
        left, right = st.columns(2)
        duration = left.selectbox(_("For"), DURATIONS, index=2,
                                  format_func=as_told(formatting.figure))
        target = right.selectbox(_("What"), ["all", *silences.targets(settings)],
                                 format_func=as_told(target_name))
        if st.form_submit_button(_("Silence"), icon=":material/notifications_off:"):
            made = silences.silence(db, settings, duration, target, "Alerts page", now_ms())
            st.success(_("Silenced {window}: nothing is sent meanwhile, everything is "
                         "recorded.").format(window=described(made, now_ms(), plain)))


def outbox_rows() -> list[dict[str, object]]:
    return [{
        _("queued"): formatting.clock(n.created_ts), _("event"): event_name(n.event),
        _("channel"): ltr(n.channel), _("status"): shown_status(n.status),
        _("sent"): formatting.clock(n.sent_ts) if n.sent_ts else "",
        _("attempts"): n.attempts,
        _("next try"): formatting.clock(n.next_attempt_ts)
        if n.status == "pending" and n.attempts else "",
        _("error"): ltr(n.last_error or n.note or "")} for n in recent(db, OUTBOX_ROWS)]


def event_name(event: str) -> str:
    """An outbox event: firing, resolved, test, or the Nth repeat."""
    if event.startswith("repeat-") and event[len("repeat-"):].isdigit():
        return _("repeat {number}").format(number=formatting.figure(event[len("repeat-"):]))
    return _(EVENTS[event]) if event in EVENTS else ltr(event)


def shown_status(status: str) -> str:
    return _(STATUSES[status]) if status in STATUSES else ltr(status)


def draw_outbox() -> None:
    """The newest messages, read again every few seconds while one is pending, so a row
    turns `sent` when the notifier delivers it without reloading the page."""
    pending = outbox_counts(db)["pending"] > 0

    @st.fragment(run_every=REFRESH_S if pending else None)
    def table() -> None:
        rows = outbox_rows()
        if rows:
            data_table(pd.DataFrame(rows), hide_index=True, width="stretch")

    table()


settings = page_settings()
db = store(str(settings.database_path))
now = now_ms()

def fires_after(rule: Rule) -> str:
    """How long a rule's condition must hold: `3 samples`, `5 min`, both, or one sample."""
    parts = [part for part in (
        ngettext("{count} samples", "{count} samples", rule.for_samples).format(
            count=formatting.figure(str(rule.for_samples))) if rule.for_samples > 1 else "",
        _("{minutes} min").format(minutes=formatting.figure(str(rule.for_seconds // 60)))
        if rule.for_seconds else "") if part]
    if len(parts) == 2:
        return _("{samples} and {minutes}").format(samples=parts[0], minutes=parts[1])
    return parts[0] if parts else _("1 sample")


st.title(_("Alerts"))

firing = records.firing(db)
st.subheader(_("Firing ({count})").format(count=formatting.figure(str(len(firing)))))
if not firing:
    st.success(_("Nothing is firing."), icon=":material/check_circle:")
for alert in firing:
    since = formatting.uptime(max(0, now - (alert.firing_ts or now)) / 1000)
    st.error(_("**{severity}** · {message} · for {since}").format(
        severity=shown.severity(alert.severity),
        message=shown.shown_message(alert, plain), since=since), icon=":material/error:")

st.subheader(_("History"))
past = records.history(db)
if past:
    data_table(pd.DataFrame([{
        _("rule"): ltr(a.rule), _("subject"): shown.subject(a.subject),
        _("severity"): shown.severity(a.severity), _("status"): shown.state(a.status),
        _("fired"): formatting.clock(a.firing_ts),
        _("resolved"): formatting.clock(a.resolved_ts) if a.resolved_ts else "",
        # from when the condition began, as the resolution's message and notifications
        _("lasted"): formatting.uptime(((a.resolved_ts or now) - a.pending_ts) / 1000),
        _("message"): shown.shown_message(a)} for a in past]), hide_index=True,
        width="stretch")
else:
    st.caption(_("No alert has fired yet."))

st.subheader(_("Rules in force"))
try:
    rules = load_rules(settings.alert_rules_file)
    source = ltr(str(settings.alert_rules_file)) if settings.alert_rules_file \
        else _("the defaults")
except RulesFileError as error:
    st.error(ltr(str(error)))
    rules = ()
    source = ""
if rules:
    st.caption(_("From {source}. Change them with {setting} (see the README). The "
                 "collector being silent is judged here, by the dashboard, from its "
                 "heartbeat.").format(source=source, setting=ltr("`ALERT_RULES_FILE`")))
    data_table(pd.DataFrame([{
        _("rule"): ltr(r.name), _("what"): shown.rule_title(r.name, r.title),
        _("severity"): shown.severity(r.severity),
        _("threshold"): "" if r.threshold is None else formatting.figure(f"{r.threshold:g}"),
        _("fires after"): fires_after(r),
        _("resolves after"): ngettext("{count} clean samples", "{count} clean samples",
                                      r.clear_samples).format(
                                          count=formatting.figure(str(r.clear_samples))),
        _("on"): r.enabled} for r in rules]), hide_index=True, width="stretch",
        height=(len(rules) + 1) * 35 + 3)  # every rule in view, no inner scrolling

st.subheader(_("Notifications"))
draw_channels()
st.subheader(_("Maintenance windows"))
st.caption(_("While one is in force, alert messages it covers are recorded but not sent "
             "(also {command}).").format(
                 command=ltr("`python -m ops silence 2h [rule|service]`")))
draw_silences()
draw_outbox()
