"""The alert rules: what is judged on every sample, with defaults for a small production
stack, and how an ALERT_RULES_FILE (TOML or YAML) changes them.

A rule looks at one tick's context and returns findings, one per subject (a service, a
directory): is the condition true now, the value, a one-line message. How long it must
hold before it fires, and how long it must stop before it resolves, is the engine's
business (ops/alerts/engine.py), from each rule's `for_samples`, `for_seconds` and
`clear_samples`.
"""

from __future__ import annotations

import functools
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from ops.alerts import container_checks
from ops.catalogue import WATCHED, check_name_problem
from ops.sources.containers import Container
from ops.sources.redis import hit_rate

MINUTE_S = 60


MAX_RULES_FILE_BYTES = 256 * 1024


class RulesFileError(ValueError):
    """The rules file cannot be used; the message is one line naming file and key."""


@dataclass(frozen=True)
class Finding:
    subject: str
    active: bool
    value: float | None
    message: str


@dataclass(frozen=True)
class Context:
    """What rules read: the newest sample's values by column, the newest readings, and
    figures that need a look back (hit rate over 15 min, backups)."""

    now_ts: int
    row: Mapping[str, Any]
    errors: Mapping[str, str | None]
    configured: Mapping[str, bool]
    redis_window: Mapping[str, float | None] = field(default_factory=dict)
    backup_disk_pct: float | None = None
    last_good_backup_ts: int | None = None
    watched_since_ts: int | None = None
    auto_backup: bool = False
    last_backup_failure: str | None = None
    # The latest docker reading's containers, and what each did lately (restarted,
    # oom_killed) by its key, from the container events.
    containers: tuple[Container, ...] = ()
    container_events: Mapping[str, frozenset[str]] = field(default_factory=dict)
    last_drill_failure: str | None = None
    # Per off-host copy target: the error of its newest copy attempt, None when it was good.
    copy_failures: Mapping[str, str | None] = field(default_factory=dict)


Check = Callable[["Rule", Context], list[Finding]]


@dataclass(frozen=True)
class Rule:
    name: str
    title: str
    severity: str
    check: Check
    threshold: float | None = None
    for_samples: int = 1
    for_seconds: int = 0
    clear_samples: int = 3
    min_lookups: int = 0
    enabled: bool = True

    def describe(self) -> str:
        parts = [self.title]
        if self.threshold is not None:
            parts.append(f"threshold {self.threshold:g}")
        if self.for_samples > 1:
            parts.append(f"for {self.for_samples} samples")
        if self.for_seconds:
            parts.append(f"for {self.for_seconds // MINUTE_S} min")
        return ", ".join(parts)


def _value(ctx: Context, column: str) -> float | None:
    value = ctx.row.get(column)
    return float(value) if value is not None else None


def named_checks(ctx: Context) -> list[str]:
    """The named HTTP checks (HTTP_CHECKS) in this sample: the sources of its `<name>_up`
    columns that can only be checks (the catalogue's own names are reserved). The
    collector's row holds only what it probes, so these are the checks it watches; a
    stored row's column of a check no longer probed is None and judged by nobody."""
    return [column.removesuffix("_up") for column, value in ctx.row.items()
            if column.endswith("_up") and value is not None
            and check_name_problem(column.removesuffix("_up")) is None]


def service_down(rule: Rule, ctx: Context) -> list[Finding]:
    """Each configured service, and each named check under its own name."""
    found = []
    watched = [(service.name, service.noun) for service in WATCHED
               if ctx.configured.get(service.name)]
    for source, label in watched + [(name, name) for name in named_checks(ctx)]:
        up = ctx.row.get(f"{source}_up")
        active = up is not None and not up
        found.append(Finding(label, active, None if up is None else float(up),
                             f"{label} is down: {ctx.errors.get(source) or 'no answer'}"
                             if active else f"{label} is up"))
    return found


def _above(column: str, subject: str, text: str) -> Check:
    def check(rule: Rule, ctx: Context) -> list[Finding]:
        value = _value(ctx, column)
        if value is None or rule.threshold is None:
            return []
        active = value > rule.threshold
        return [Finding(subject, active, value, text.format(value=value, limit=rule.threshold))]

    return check


def http_latency(rule: Rule, ctx: Context) -> list[Finding]:
    """The API's latency (subject "API", as ever) and each named check's, under its name."""
    api = _above("api_latency_ms", "API", "API answered in {value:.0f} ms (limit {limit:g} ms)")
    return api(rule, ctx) + [
        finding for name in named_checks(ctx) for finding in _above(
            f"{name}_latency_ms", name,
            f"{name} answered in {{value:.0f}} ms (limit {{limit:g}} ms)")(rule, ctx)]


def load_per_core(rule: Rule, ctx: Context) -> list[Finding]:
    load, cores = _value(ctx, "host_load_5"), _value(ctx, "host_cores")
    if load is None or not cores or rule.threshold is None:
        return []
    per_core = load / cores
    return [Finding("host", per_core > rule.threshold, per_core,
                    f"load average {load:.2f} on {cores:.0f} cores = {per_core:.2f} per core "
                    f"(limit {rule.threshold:g})")]


def disks(rule: Rule, ctx: Context) -> list[Finding]:
    found = []
    for subject, value in (("data dir", _value(ctx, "host_disk_used_pct")),
                           ("backup dir", ctx.backup_disk_pct)):
        if value is not None and rule.threshold is not None:
            found.append(Finding(subject, value > rule.threshold, value,
                                 f"{subject} disk {value:.1f}% full (limit {rule.threshold:g}%)"))
    return found


def redis_hit_rate(rule: Rule, ctx: Context) -> list[Finding]:
    hits = ctx.redis_window.get("hits")
    misses = ctx.redis_window.get("misses")
    if not ctx.configured.get("redis") or hits is None or misses is None:
        return []
    lookups = hits + misses
    rate = hit_rate(hits, misses)
    if lookups < rule.min_lookups or rate is None or rule.threshold is None:
        return [Finding("cache", False, None,
                        f"too little traffic over 15 min to judge the hit rate ({lookups:.0f} "
                        f"lookups, at least {rule.min_lookups} needed)")]
    return [Finding("cache", rate < rule.threshold, rate,
                    f"cache hit rate {rate:.1f}% over 15 min ({lookups:.0f} lookups; "
                    f"limit {rule.threshold:g}%)")]


def redis_memory(rule: Rule, ctx: Context) -> list[Finding]:
    if not _value(ctx, "redis_maxmemory_mb"):
        return []  # no limit: nothing to be near
    return _above("redis_memory_used_pct", "cache",
                  "cache memory {value:.1f}% of maxmemory (limit {limit:g}%)")(rule, ctx)


def redis_evictions(rule: Rule, ctx: Context) -> list[Finding]:
    evicted = ctx.redis_window.get("evicted")
    if evicted is None or rule.threshold is None:
        return []
    active = evicted > rule.threshold
    return [Finding("cache", active, evicted, f"cache evicted {evicted:.0f} keys in 15 min"
                    + (" (maxmemory reached)" if active else ""))]


def mongo_connections(rule: Rule, ctx: Context) -> list[Finding]:
    current = _value(ctx, "mongo_connections_current")
    available = _value(ctx, "mongo_connections_available")
    if current is None or available is None or rule.threshold is None:
        return []
    used = 100 * current / max(1.0, current + available)
    return [Finding("database", used > rule.threshold, used,
                    f"database connections {current:.0f} of {current + available:.0f} "
                    f"({used:.1f}%, limit {rule.threshold:g}%)")]


def backup_missing(rule: Rule, ctx: Context) -> list[Finding]:
    if not (ctx.configured.get("mongo") and ctx.auto_backup) or rule.threshold is None:
        return []
    since = ctx.last_good_backup_ts or ctx.watched_since_ts
    if since is None:
        return []
    hours = (ctx.now_ts - since) / 3_600_000
    what = "last good backup" if ctx.last_good_backup_ts else "no backup since watching began"
    return [Finding("backups", hours > rule.threshold, hours,
                    f"{what} {hours:.1f} h ago (limit {rule.threshold:g} h)")]


def backup_failed(rule: Rule, ctx: Context) -> list[Finding]:
    if not ctx.configured.get("mongo"):
        return []
    failure = ctx.last_backup_failure
    return [Finding("backups", failure is not None, None,
                    f"the last backup failed: {failure}" if failure else "last backup ok")]


def backup_drill_failed(rule: Rule, ctx: Context) -> list[Finding]:
    """The newest restore drill (BACKUP_DRILL or on demand) could not restore the backup,
    or what it restored differs from what was dumped."""
    if not ctx.configured.get("mongo"):
        return []
    failure = ctx.last_drill_failure
    return [Finding("backups", failure is not None, None,
                    _drill_said(failure) if failure else "last drill matched")]


def _drill_said(failure: str) -> str:
    """A drill's own failure already names the backup and the drill; an interrupted job
    or a drill that found nothing to restore does not."""
    return failure if "restore drill" in failure else f"restore drill failed: {failure}"


def backup_copy_failed(rule: Rule, ctx: Context) -> list[Finding]:
    """A target of BACKUP_COPY_URLS whose newest copy failed (retried with backoff)."""
    return [Finding(target, error is not None, None,
                    f"copy to {target} failed: {error}" if error else f"copy to {target} good")
            for target, error in sorted(ctx.copy_failures.items())]


def _findings(verdicts: list[container_checks.Verdict]) -> list[Finding]:
    return [Finding(v.subject, v.active, v.value, v.message) for v in verdicts]


def container_down(rule: Rule, ctx: Context) -> list[Finding]:
    return _findings(container_checks.down(ctx.containers, ctx.container_events))


def container_unhealthy(rule: Rule, ctx: Context) -> list[Finding]:
    return _findings(container_checks.unhealthy(ctx.containers))


def container_oom_killed(rule: Rule, ctx: Context) -> list[Finding]:
    return _findings(container_checks.oom_killed(ctx.containers, ctx.container_events))


def container_memory(rule: Rule, ctx: Context) -> list[Finding]:
    if rule.threshold is None:
        return []
    return _findings(container_checks.memory_high(ctx.containers, rule.threshold))


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("service_down", f"service down ({', '.join(s.noun for s in WATCHED)}, HTTP checks)",
         "critical", service_down, for_samples=3),
    Rule("api_latency", "API or an HTTP check answers slowly (ms)", "warning", http_latency,
         threshold=1000, for_samples=3),
    Rule("memory_high", "host memory used (%)", "warning",
         _above("host_mem_used_pct", "host", "host memory {value:.1f}% used (limit {limit:g}%)"),
         threshold=90, for_seconds=5 * MINUTE_S),
    Rule("load_high", "load average (5 min) per core", "warning", load_per_core,
         threshold=2.0, for_seconds=5 * MINUTE_S),
    Rule("disk_high", "disk of the data or backup directory used (%)", "critical", disks,
         threshold=90),
    Rule("redis_hit_rate_low", "cache hit rate over 15 min (%)", "warning", redis_hit_rate,
         threshold=80, min_lookups=1000),
    Rule("redis_memory_high", "cache memory used of maxmemory (%)", "warning", redis_memory,
         threshold=90, for_seconds=5 * MINUTE_S),
    Rule("redis_evicting", "cache evicting keys (keys in 15 min)", "warning", redis_evictions,
         threshold=0),
    Rule("mongo_connections_high", "database connections used of the limit (%)", "warning",
         mongo_connections, threshold=80, for_seconds=5 * MINUTE_S),
    Rule("backup_missing", "no successful backup for (hours)", "critical", backup_missing,
         threshold=26),
    Rule("backup_failed", "the last backup failed", "critical", backup_failed),
    Rule("backup_drill_failed", "the last restore drill failed", "critical",
         backup_drill_failed),
    Rule("backup_copy_failed", "the last copy of a backup to an off-host target failed",
         "critical", backup_copy_failed),
    Rule("container_down", "a container exited with an error, or is restarting",
         "critical", container_down, for_samples=2),
    Rule("container_unhealthy", "a container's health check fails", "warning",
         container_unhealthy, for_samples=2),
    Rule("container_oom_killed", "a container was killed for lack of memory", "critical",
         container_oom_killed),
    Rule("container_memory_high", "container memory used of its limit (%)", "warning",
         container_memory, threshold=90, for_seconds=5 * MINUTE_S),
)

CHANGEABLE = {"threshold", "for_samples", "for_seconds", "clear_samples", "min_lookups",
              "enabled", "severity"}


def _read(path: Path) -> Any:
    size = path.stat().st_size
    if size > MAX_RULES_FILE_BYTES:
        # A rules file is a few lines; parsing megabytes of YAML takes seconds and GBs.
        raise OSError(f"{size:,} bytes is too large for a rules file (at most "
                      f"{MAX_RULES_FILE_BYTES // 1024} KB)")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yml", ".yaml"):
        return yaml.safe_load(text)
    return tomllib.loads(text)


def load_rules(path: Path | None) -> tuple[Rule, ...]:
    """The default rules, changed by the rules file when there is one. Read again only
    when the file changes (the Alerts page asks on every run)."""
    if path is None:
        return DEFAULT_RULES
    try:
        stat = path.stat()
    except OSError as error:
        raise RulesFileError(f"ALERT_RULES_FILE {path}: cannot read it: "
                             f"{error.strerror or error}") from None
    return _load_rules(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _load_rules(path: Path, mtime_ns: int, size: int) -> tuple[Rule, ...]:
    try:
        data = _read(path)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, yaml.YAMLError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise RulesFileError(f"ALERT_RULES_FILE {path}: cannot read it: {first}") from None
    changes = (data or {}).get("rules", {}) if isinstance(data, dict) else None
    if not isinstance(changes, dict):
        raise RulesFileError(f"ALERT_RULES_FILE {path}: expected a [rules.<name>] table per "
                             "rule to change")
    return tuple(_changed(rule, changes.get(rule.name), path) for rule in DEFAULT_RULES) \
        if _known(changes, path) else DEFAULT_RULES


def _known(changes: dict[str, Any], path: Path) -> bool:
    names = {rule.name for rule in DEFAULT_RULES}
    for name in changes:
        if name not in names:
            raise RulesFileError(f"ALERT_RULES_FILE {path}: unknown rule {name!r}; rules are "
                                 f"{', '.join(sorted(names))}")
    return True


def _changed(rule: Rule, change: Any, path: Path) -> Rule:
    if change is None:
        return rule
    if not isinstance(change, dict):
        raise RulesFileError(f"ALERT_RULES_FILE {path}: rules.{rule.name} must be a table")
    types = {f.name: f.type for f in fields(Rule)}
    for key, value in change.items():
        if key not in CHANGEABLE:
            raise RulesFileError(f"ALERT_RULES_FILE {path}: rules.{rule.name}.{key} cannot be "
                                 f"set; settable: {', '.join(sorted(CHANGEABLE))}")
        _check_type(path, rule.name, key, value, str(types[key]))
    return replace(rule, **change)


def _check_type(path: Path, rule: str, key: str, value: Any, declared: str) -> None:
    if key == "enabled":
        ok = isinstance(value, bool)
    elif key == "severity":
        ok = value in ("critical", "warning")
    elif "float" in declared:
        ok = (isinstance(value, int | float) and not isinstance(value, bool)
              and math.isfinite(value))
    else:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if not ok:
        raise RulesFileError(f"ALERT_RULES_FILE {path}: rules.{rule}.{key}={value!r} is "
                             f"invalid for {key}")
