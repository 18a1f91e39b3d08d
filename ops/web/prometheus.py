"""`/metrics`: the store's latest figures in the Prometheus text format.

A custom prometheus_client collector over one `Snapshot` (see ops.report) and the
backup facts, registered on a fresh registry per scrape, so a scrape shows exactly what
the store holds now and nothing is kept between scrapes. Base units (seconds, bytes),
ratios from 0 to 1 instead of percentages, counters as `_total`. A figure the store does
not have (source down, never read) is left out rather than exported as NaN. Byte figures
come from the MB the sources store (two decimals), so they are exact to about 5 KB.

Metrics (all prefixed `ops_`):
- `service_up{service}`: 1 up, 0 down, for the host and every configured service
  (`api`, `api_2`, ..., each named HTTP check such as `frontend`, `mongo`, `redis`); the
  last reading, even while the collector is stopped - alert on
  `collector_last_tick_timestamp_seconds` for that.
- `collector_last_tick_timestamp_seconds`, `collector_interval_seconds`,
  `collector_running` (1 while the heartbeat is younger than 3 intervals).
- one family per figure of the host, the HTTP sources (`api_latency_seconds{service}`:
  api, api_2, ... and each named check, e.g. `service="frontend"`), MongoDB and Redis
  that the catalogue (ops.catalogue) exports: its name, help and unit are declared
  there, with the figure, e.g. `host_memory_used_ratio`, `redis_keyspace_hits_total`,
  `mongo_opcounters_total{type}`.
- Backups: `backup_last_success_timestamp_seconds` (when the newest good backup on disk
  finished), `backup_last_success_size_bytes`, `backup_last_success_duration_seconds`,
  `backup_jobs_failed_total`, `backup_failures_last_24h` (backup_failed events),
  `backup_next_scheduled_timestamp_seconds`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from ops import catalogue
from ops.backup.catalogue import list_backups
from ops.backup.schedule import NEXT_BACKUP_KEY
from ops.catalogue import Field, Service
from ops.clock import DAY_MS
from ops.config import Settings
from ops.copies import records as copy_records
from ops.report import Snapshot, collector_fresh
from ops.sources.configured import http_sources, watched_sources
from ops.sources.containers import Container, containers
from ops.storage import Store
from ops.web import container_metrics

Family = GaugeMetricFamily | CounterMetricFamily
# Enough to count every backup job of years of daily backups.
MAX_JOBS_COUNTED = 100_000


@dataclass(frozen=True)
class BackupFacts:
    """What users alert on about backups; times in unix seconds."""

    last_success_ts: float | None = None
    last_success_size_bytes: int | None = None
    last_success_duration_s: float | None = None
    failed_jobs: int = 0
    failures_last_24h: int = 0
    next_scheduled_ts: float | None = None
    # Per off-host copy target (as shown, no secret): when a copy last became good.
    copy_last_success_ts: Mapping[str, float] = dataclasses.field(default_factory=dict)


def read_backup_facts(store: Store, settings: Settings, now_ts: int) -> BackupFacts:
    """The newest good backup on disk, failed jobs and events, the next scheduled run."""
    good = next((entry for entry in list_backups(settings.backup_dir) if entry.good_daily),
                None)
    manifest = good.manifest if good else None
    failed = store.count_jobs("backup", "failed")
    events = store.events(now_ts - DAY_MS, now_ts, sources=["backup"], limit=MAX_JOBS_COUNTED)
    next_ms = store.state(NEXT_BACKUP_KEY)
    return BackupFacts(
        last_success_ts=manifest.finished.timestamp() if manifest else None,
        last_success_size_bytes=good.size_bytes if good else None,
        last_success_duration_s=manifest.duration_s if manifest else None,
        failed_jobs=failed,
        failures_last_24h=sum(event.kind == "backup_failed" for event in events),
        next_scheduled_ts=next_ms / 1000 if isinstance(next_ms, (int, float)) else None,
        copy_last_success_ts={target: ms / 1000 for target, ms
                              in copy_records.last_success_ms(store).items()},
    )


def _number(values: Mapping[str, Any], key: str) -> float | None:
    value = values.get(key)
    return float(value) if isinstance(value, (int, float)) else None


class SnapshotCollector:
    """A prometheus_client collector over one snapshot; built per scrape."""

    def __init__(self, snapshot: Snapshot, settings: Settings, backups: BackupFacts) -> None:
        self.snapshot = snapshot
        self.settings = settings
        self.backups = backups

    def _values(self, source: str, up_only: bool = True) -> Mapping[str, Any]:
        item = self.snapshot.latest.get(source)
        if item is None or (up_only and not item.up):
            return {}
        return item.reading.get("values") or {}

    def collect(self) -> Iterator[Metric]:
        yield self._service_up()
        yield from self._collector()
        for service in catalogue.SERVICES:
            yield from self._per_source(service) if service.many else self._fields(service)
        yield from self._fields(catalogue.DOCKER)
        yield from container_metrics.families(self._containers())
        yield from self._backups()
        yield from self._alerts()
        yield from self._availability()

    def _containers(self) -> list[Container]:
        item = self.snapshot.latest.get(catalogue.DOCKER.name)
        return containers(item.reading.get("info")) if item is not None and item.up else []

    def _service_up(self) -> Metric:
        family = GaugeMetricFamily("ops_service_up", "1 when the service answered the last "
                                   "probe, 0 when it did not.", labels=["service"])
        for source in ["host", *watched_sources(self.settings)]:
            item = self.snapshot.latest.get(source)
            family.add_metric([source], 1.0 if item is not None and item.up else 0.0)
        return family

    def _collector(self) -> Iterator[Metric]:
        beat = self.snapshot.heartbeat
        yield GaugeMetricFamily("ops_collector_running", "1 while the collector's last tick "
                                "is younger than 3 sample intervals.",
                                value=1.0 if collector_fresh(self.snapshot) else 0.0)
        if beat is None:
            return
        yield GaugeMetricFamily("ops_collector_last_tick_timestamp_seconds",
                                "When the collector last wrote a sample.",
                                value=beat.last_tick_ts / 1000)
        yield GaugeMetricFamily("ops_collector_interval_seconds",
                                "Seconds between samples.", value=float(beat.interval_s))

    def _fields(self, service: Service) -> Iterator[Metric]:
        """The exported fields of an up source: one family each, or a sample of a family
        they share (yielded, perhaps empty, while the source is up)."""
        values = self._values(service.name)
        shared: dict[str, Family] = {}
        for field in _exported(service.name):
            value = _number(values, field.name)
            if field.label is None:
                if value is not None:
                    yield _family(field, value=field.to_base(value))
                continue
            family = shared.setdefault(field.metric or "", _family(field, label=field.label[0]))
            if value is not None:
                family.add_metric([field.label[1]], field.to_base(value))
        if values:
            yield from shared.values()

    def _per_source(self, service: Service) -> Iterator[Metric]:
        """Fields of the HTTP sources (api, api_2, ..., the named checks), labelled
        `service`: the last figure of each, up or down (a refused request has a latency
        too). One family for all: a check reports the API's fields."""
        for field in _exported(service.name):
            family = _family(field, label="service")
            for source in http_sources(self.settings):
                value = _number(self._values(source, up_only=False), field.name)
                if value is not None:
                    family.add_metric([source], field.to_base(value))
            yield family

    def _backups(self) -> Iterator[Metric]:
        facts = self.backups
        optional = (
            ("ops_backup_last_success_timestamp_seconds",
             "When the newest good backup on disk finished.", facts.last_success_ts),
            ("ops_backup_last_success_size_bytes", "Size of the newest good backup.",
             facts.last_success_size_bytes),
            ("ops_backup_last_success_duration_seconds",
             "How long the newest good backup took.", facts.last_success_duration_s),
            ("ops_backup_next_scheduled_timestamp_seconds",
             "When the next daily backup is due.", facts.next_scheduled_ts),
        )
        for name, help_text, value in optional:
            if value is not None:
                yield GaugeMetricFamily(name, help_text, value=float(value))
        yield CounterMetricFamily("ops_backup_jobs_failed", "Backup jobs that failed.",
                                  value=facts.failed_jobs)
        yield GaugeMetricFamily("ops_backup_failures_last_24h", "backup_failed events in the "
                                "last 24 hours.", value=facts.failures_last_24h)
        copies = GaugeMetricFamily("ops_backup_copy_last_success_timestamp_seconds",
                                   "When a copy to this off-host target last was read back "
                                   "and matched.", labels=["target"])
        for target, ts in sorted(facts.copy_last_success_ts.items()):
            copies.add_metric([target], ts)
        yield copies


    def _alerts(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("ops_alert_firing", "1 for each alert firing now.",
                                   labels=["rule", "subject", "severity"])
        for alert in self.snapshot.alerts:
            family.add_metric([alert["rule"], alert["subject"], alert["severity"]], 1.0)
        yield family
        yield GaugeMetricFamily("ops_alerts_firing", "How many alerts are firing.",
                                value=float(len(self.snapshot.alerts)))

    def _availability(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("ops_service_uptime_ratio", "Share of the window the "
                                   "service was up, from its up/down events.",
                                   labels=["service", "window"])
        for source, windows in self.snapshot.availability.items():
            for window, pct in windows.items():
                if pct is not None:
                    family.add_metric([source, window], pct / 100)
        yield family


def _exported(source: str) -> list[Field]:
    return [field for field in catalogue.fields(source) if field.metric]


def _family(field: Field, value: float | None = None, label: str | None = None) -> Family:
    """A field's family: counter or gauge, help from the catalogue, one value or a label."""
    kind = CounterMetricFamily if field.counter else GaugeMetricFamily
    return kind(field.metric or "", catalogue.metric_help(field), value=value,
                labels=None if label is None else [label])


def exposition(snapshot: Snapshot, settings: Settings, backups: BackupFacts) -> bytes:
    """The Prometheus text format (0.0.4) of one snapshot."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot, settings, backups))
    return generate_latest(registry)
