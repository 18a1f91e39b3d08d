"""`/metrics`: the store's latest figures in the Prometheus text format.

A custom prometheus_client collector over one `Snapshot` (see ops.report) and the
backup facts, registered on a fresh registry per scrape, so a scrape shows exactly what
the store holds now and nothing is kept between scrapes. Base units (seconds, bytes),
ratios from 0 to 1 instead of percentages, counters as `_total`. A figure the store does
not have (source down, never read) is left out rather than exported as NaN. Byte figures
come from the MB the sources store (two decimals), so they are exact to about 5 KB.

Metrics (all prefixed `ops_`):
- `service_up{service}`: 1 up, 0 down, for the host and every configured service
  (`api`, `api_2`, ..., `mongo`, `redis`); the last reading, even while the collector
  is stopped - alert on `collector_last_tick_timestamp_seconds` for that.
- `collector_last_tick_timestamp_seconds`, `collector_interval_seconds`,
  `collector_running` (1 while the heartbeat is younger than 3 intervals),
  `collector_resident_memory_bytes`.
- host: `host_memory_total_bytes`, `host_memory_available_bytes`, `host_memory_used_ratio`,
  `host_load1`/`load5`/`load15`, `host_cpu_used_ratio`, `host_cpu_cores`,
  `host_disk_used_ratio`, `host_disk_free_bytes` (the data directory's filesystem).
- Redis: `redis_keyspace_hit_ratio` (since Redis started), `redis_instantaneous_ops_per_second`,
  `redis_memory_used_bytes`, `_peak_bytes`, `_max_bytes` (0: no limit),
  `redis_memory_fragmentation_ratio`, `redis_connected_clients`, `redis_blocked_clients`,
  `redis_keys`, `redis_uptime_seconds`, `redis_ping_seconds`, and counters
  `redis_keyspace_hits_total`, `_misses_total`, `redis_commands_processed_total`,
  `redis_connections_received_total`, `redis_evicted_keys_total`, `redis_expired_keys_total`.
- MongoDB: `mongo_connections{state="current"|"available"}`, `mongo_resident_memory_bytes`,
  `mongo_uptime_seconds`, `mongo_ping_seconds`, `mongo_opcounters_total{type}`.
- HTTP health: `api_latency_seconds{service}`.
- Backups: `backup_last_success_timestamp_seconds` (when the newest good backup on disk
  finished), `backup_last_success_size_bytes`, `backup_last_success_duration_seconds`,
  `backup_jobs_failed_total`, `backup_failures_last_24h` (backup_failed events),
  `backup_next_scheduled_timestamp_seconds`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from ops.backup.catalogue import list_backups
from ops.backup.schedule import NEXT_BACKUP_KEY
from ops.clock import DAY_MS
from ops.config import Settings
from ops.report import Snapshot, collector_fresh, watched_sources
from ops.sources.configured import http_sources
from ops.sources.mongo import OPCOUNTERS
from ops.storage import Store

MB = 1024 * 1024
# Enough to count every backup job of years of daily backups.
MAX_JOBS_COUNTED = 100_000



def _bytes(mb: float) -> float:
    return mb * MB


def _ratio(percent: float) -> float:
    return percent / 100


def _seconds(ms: float) -> float:
    return ms / 1000


def _same(value: float) -> float:
    return value


# (metric name, help, source, field, conversion to base units) for plain gauges.
GAUGES: tuple[tuple[str, str, str, str, Callable[[float], float]], ...] = (
    ("ops_collector_resident_memory_bytes", "Resident memory of the collector process.",
     "host", "process_rss_mb", _bytes),
    ("ops_host_memory_total_bytes", "Physical memory of the host.", "host", "mem_total_mb", _bytes),
    ("ops_host_memory_available_bytes", "Memory available to programs without swapping.",
     "host", "mem_free_mb", _bytes),
    ("ops_host_memory_used_ratio", "(total - available) / total.", "host", "mem_used_pct", _ratio),
    ("ops_host_load1", "Load average over 1 minute.", "host", "load_1", _same),
    ("ops_host_load5", "Load average over 5 minutes.", "host", "load_5", _same),
    ("ops_host_load15", "Load average over 15 minutes.", "host", "load_15", _same),
    ("ops_host_cpu_used_ratio", "System-wide CPU use between two samples.", "host", "cpu_pct",
     _ratio),
    ("ops_host_cpu_cores", "Logical CPUs of the host.", "host", "cores", _same),
    ("ops_host_disk_used_ratio", "Used share of the data directory's filesystem.", "host",
     "disk_used_pct", _ratio),
    ("ops_host_disk_free_bytes", "Free space on the data directory's filesystem.", "host",
     "disk_free_mb", _bytes),
    ("ops_redis_keyspace_hit_ratio", "Keyspace hits / lookups since Redis started.", "redis",
     "hit_rate_total_pct", _ratio),
    ("ops_redis_instantaneous_ops_per_second", "Commands per second as measured by Redis.",
     "redis", "ops_per_sec", _same),
    ("ops_redis_memory_used_bytes", "Memory allocated by Redis.", "redis", "used_memory_mb",
     _bytes),
    ("ops_redis_memory_peak_bytes", "Highest memory allocated since Redis started.", "redis",
     "used_memory_peak_mb", _bytes),
    ("ops_redis_memory_max_bytes", "maxmemory of Redis; 0 means no limit.", "redis",
     "maxmemory_mb", _bytes),
    ("ops_redis_memory_fragmentation_ratio", "Resident memory / allocated memory.", "redis",
     "fragmentation_ratio", _same),
    ("ops_redis_connected_clients", "Client connections open now.", "redis",
     "connected_clients", _same),
    ("ops_redis_blocked_clients", "Clients waiting in a blocking command.", "redis",
     "blocked_clients", _same),
    ("ops_redis_keys", "Keys in all databases.", "redis", "keys_total", _same),
    ("ops_redis_uptime_seconds", "Seconds since Redis started.", "redis", "uptime_s", _same),
    ("ops_redis_ping_seconds", "Round trip of one PING.", "redis", "ping_ms", _seconds),
    ("ops_mongo_resident_memory_bytes", "Resident memory of the MongoDB server.", "mongo",
     "resident_mb", _bytes),
    ("ops_mongo_uptime_seconds", "Seconds since the MongoDB server started.", "mongo",
     "uptime_s", _same),
    ("ops_mongo_ping_seconds", "Round trip of one ping command.", "mongo", "ping_ms", _seconds),
)

# (metric name without _total, help, Redis field) for counters since Redis started.
REDIS_COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("ops_redis_keyspace_hits", "Successful key lookups since Redis started.", "keyspace_hits"),
    ("ops_redis_keyspace_misses", "Failed key lookups since Redis started.", "keyspace_misses"),
    ("ops_redis_commands_processed", "Commands processed since Redis started.", "commands"),
    ("ops_redis_connections_received", "Connections accepted since Redis started.",
     "connections_received"),
    ("ops_redis_evicted_keys", "Keys evicted by the memory limit since Redis started.",
     "evicted_keys"),
    ("ops_redis_expired_keys", "Keys removed by expiry since Redis started.", "expired_keys"),
)


@dataclass(frozen=True)
class BackupFacts:
    """What users alert on about backups; times in unix seconds."""

    last_success_ts: float | None = None
    last_success_size_bytes: int | None = None
    last_success_duration_s: float | None = None
    failed_jobs: int = 0
    failures_last_24h: int = 0
    next_scheduled_ts: float | None = None


def read_backup_facts(store: Store, settings: Settings, now_ts: int) -> BackupFacts:
    """The newest good backup on disk, failed jobs and events, the next scheduled run."""
    good = next((entry for entry in list_backups(settings.backup_dir) if entry.ok), None)
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

    def _values(self, source: str) -> Mapping[str, Any]:
        item = self.snapshot.latest.get(source)
        return (item.reading.get("values") or {}) if item is not None and item.up else {}

    def collect(self) -> Iterator[Metric]:
        yield self._service_up()
        yield from self._collector()
        yield from self._gauges()
        yield from self._redis_counters()
        yield from self._mongo()
        yield self._api_latency()
        yield from self._backups()
        yield from self._alerts()
        yield from self._availability()

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

    def _gauges(self) -> Iterator[Metric]:
        for name, help_text, source, key, convert in GAUGES:
            value = _number(self._values(source), key)
            if value is not None:
                yield GaugeMetricFamily(name, help_text, value=convert(value))

    def _redis_counters(self) -> Iterator[Metric]:
        values = self._values("redis")
        for name, help_text, key in REDIS_COUNTERS:
            value = _number(values, key)
            if value is not None:
                yield CounterMetricFamily(name, help_text, value=value)

    def _mongo(self) -> Iterator[Metric]:
        values = self._values("mongo")
        if not values:
            return
        connections = GaugeMetricFamily("ops_mongo_connections", "MongoDB client connections "
                                        "open now (current) and still possible (available).",
                                        labels=["state"])
        for state in ("current", "available"):
            value = _number(values, f"connections_{state}")
            if value is not None:
                connections.add_metric([state], value)
        yield connections
        opcounters = CounterMetricFamily("ops_mongo_opcounters", "MongoDB operations since "
                                         "the server started, by type.", labels=["type"])
        for op in OPCOUNTERS:
            value = _number(values, f"op_{op}")
            if value is not None:
                opcounters.add_metric([op], value)
        yield opcounters

    def _api_latency(self) -> Metric:
        family = GaugeMetricFamily("ops_api_latency_seconds", "Time of the last health "
                                   "request, to the end of the body.", labels=["service"])
        for source in http_sources(self.settings):
            item = self.snapshot.latest.get(source)
            latency = _number(item.reading.get("values") or {}, "latency_ms") if item else None
            if latency is not None:
                family.add_metric([source], latency / 1000)
        return family

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


def exposition(snapshot: Snapshot, settings: Settings, backups: BackupFacts) -> bytes:
    """The Prometheus text format (0.0.4) of one snapshot."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot, settings, backups))
    return generate_latest(registry)
