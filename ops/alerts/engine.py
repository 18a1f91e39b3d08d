"""Alert states from findings: pending -> firing -> resolved, with flapping damped.

A condition must hold for `for_samples` consecutive samples and `for_seconds` before its
alert fires; a firing alert resolves only after `clear_samples` consecutive samples
without it. A pending alert whose condition goes away is cleared quietly. Each firing
and each resolution is announced exactly once (the outbox refuses a second message for
the same alert and event).
"""

from __future__ import annotations

from collections.abc import Callable

from ops.alerts.rules import Context, Finding, Rule
from ops.alerts.wording import resolved_text
from ops.storage import Store
from ops.storage import alerts as records
from ops.storage.alerts import Alert

Announce = Callable[[Alert, str], None]


class AlertEngine:
    def __init__(self, store: Store, rules: tuple[Rule, ...], announce: Announce) -> None:
        self.store = store
        self.rules = [rule for rule in rules if rule.enabled]
        self.announce = announce

    def evaluate(self, ctx: Context) -> list[tuple[Alert, str]]:
        """Judge every rule on this tick; returns the (alert, 'firing'|'resolved') changes."""
        changes: list[tuple[Alert, str]] = []
        with self.store.transaction():
            open_now = records.open_alerts(self.store)
            for rule in self.rules:
                findings = {f.subject: f for f in rule.check(rule, ctx)}
                for name, subject in open_now:
                    if name == rule.name and subject not in findings:
                        # the rule no longer applies (limit removed, figure gone): not true
                        findings[subject] = Finding(subject, False, None, "")
                for finding in findings.values():
                    key = (rule.name, finding.subject)
                    change = self._step(rule, finding, open_now.get(key), ctx.now_ts)
                    if change is not None:
                        changes.append(change)
        for alert, event in changes:
            self.announce(alert, event)
        return changes

    def _step(self, rule: Rule, finding: Finding, alert: Alert | None,
              now_ts: int) -> tuple[Alert, str] | None:
        if finding.active:
            if alert is None:
                alert = records.create(self.store, rule.name, finding.subject, rule.severity,
                                       now_ts, finding.value, finding.message)
            else:
                alert.true_count += 1
                alert.false_count = 0
                alert.last_true_ts = now_ts
                alert.value, alert.message = finding.value, finding.message
            return self._maybe_fire(rule, alert, now_ts)
        if alert is None:
            return None
        alert.false_count += 1
        alert.last_false_ts = now_ts
        return self._maybe_clear(rule, alert, now_ts, finding.message or None)

    def _maybe_fire(self, rule: Rule, alert: Alert, now_ts: int) -> tuple[Alert, str] | None:
        due = (alert.true_count >= rule.for_samples
               and now_ts - alert.pending_ts >= rule.for_seconds * 1000)
        if alert.status == "pending" and due:
            alert.status, alert.firing_ts = "firing", now_ts
            records.save(self.store, alert)
            return alert, "firing"
        records.save(self.store, alert)
        return None

    def _maybe_clear(self, rule: Rule, alert: Alert, now_ts: int,
                     recovered: str | None) -> tuple[Alert, str] | None:
        """Clear a pending alert at once; resolve a firing one after `clear_samples`
        clean samples, its message then saying what recovered (ops.alerts.wording)."""
        if alert.status == "pending":
            alert.status, alert.resolved_ts = "cleared", now_ts
            records.save(self.store, alert)
            return None
        if alert.false_count >= rule.clear_samples:
            alert.status, alert.resolved_ts = "resolved", now_ts
            alert.message = resolved_text(rule.name, recovered,
                                          (now_ts - alert.pending_ts) / 1000, alert.message)
            records.save(self.store, alert)
            return alert, "resolved"
        records.save(self.store, alert)
        return None
