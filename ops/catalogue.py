"""The catalogue: every service watched and every figure a source reports, declared once.

The sources take their fields from here; the collector's columns and deltas, the History
and detail pages, the JSON endpoints, /metrics, the Overview tiles and the alert rules
read them here too. A new figure is one `Field`, a new service one `Service`.

Foundations layer: imports only ops.i18n (N_ marks the labels for the catalog; pages show
them with _()), so every layer may read it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

from ops.i18n import N_

MB = 1024 * 1024


@dataclass(frozen=True)
class Service:
    """A source the dashboard shows: a tile, a status in the JSON, an uptime row."""

    name: str  # the source's name in samples and events
    label: str  # on pages: tile, page title, uptime table
    seed_key: str | None  # its key under `services` in the seed's JSON
    setting: str | None  # the setting that turns it on; None: always watched
    example: str = ""  # a value of that setting, for "not watched: set ..." hints
    many: bool = False  # a comma list of values: one source per value (api, api_2, ...)
    reports: str = ""  # the service whose fields it reports; "": its own (see check())

    @property
    def noun(self) -> str:
        """The label inside a sentence ("cache is down"); acronyms keep their capitals."""
        return self.label if self.label.isupper() else self.label.lower()


API_INSTANCE = re.compile(r"api(_[0-9]+)?")

SERVICES: tuple[Service, ...] = (
    Service("host", N_("Host"), None, None),
    Service("api", N_("API"), "api", "API_HEALTH_URL", "http://api:3001/api/health", many=True),
    Service("mongo", N_("Database"), "database", "MONGO_URI", "mongodb://user:pass@mongo:27017/"),
    Service("redis", N_("Cache"), "cache", "REDIS_URL", "redis://redis:6379/0"),
)
# The services a setting turns on, in the order pages and JSON list them.
WATCHED: tuple[Service, ...] = tuple(s for s in SERVICES if s.setting is not None)

# The Docker engine: watched when DOCKER_HOST is set or the local socket is there. It is
# not one service but every container of the stack, so it has a page of its own rather
# than a seed key, a service_down alert or a share of the top-level status.
DOCKER = Service("docker", N_("Containers"), None, "DOCKER_HOST", "unix:///var/run/docker.sock")


# Named HTTP checks (HTTP_CHECKS=frontend=http://frontend/,...): each is a service of its
# own, named by the admin. The name becomes the source name, so it is a stored column
# prefix (`frontend_up`), an event source, an alert subject and a JSON key.
CHECKS_SETTING = "HTTP_CHECKS"
CHECK_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
# Names already meaning something where a check's name would go: the services, their
# keys in the seed's JSON, the other sources of events (backup, store, collector) and the
# subject of the backup alerts. Nor may a check's name start with a source's name and "_"
# (`redis_x_up` would read as Redis's; api_2, api_3, ... are the API's more URLs).
RESERVED_NAMES = ("host", "api", "mongo", "redis", "database", "cache", "backup", "backups",
                  "store", "collector", "docker", "containers")


def http_name(index: int) -> str:
    """The first health URL is the API; more URLs are api_2, api_3, ..."""
    return "api" if index == 0 else f"api_{index + 1}"


def check_name_problem(name: str) -> str | None:
    """What a name for an HTTP check must be, when `name` is not that (for a settings
    error: "expected <this>"); None when it can name one."""
    if not CHECK_NAME.fullmatch(name):
        return (f"a check name of lower-case letters, digits and _ starting with a letter, "
                f"at most 32 long (it names stored columns), not {name!r}")
    if name in RESERVED_NAMES:
        return (f"a check name of its own, not {name!r}: {', '.join(RESERVED_NAMES)} are the "
                "dashboard's")
    prefix = next((s.name for s in (*SERVICES, DOCKER) if name.startswith(f"{s.name}_")), None)
    if prefix is not None:
        return (f"a check name of its own, not {name!r}: names starting with {prefix}_ are "
                f"{prefix}'s columns")
    return None


def check(name: str) -> Service:
    """The service of a named HTTP check: labelled by its name everywhere (tile, JSON key,
    alert subject, /metrics label), reporting the API's fields (latency, status code)."""
    return Service(name, name, name, CHECKS_SETTING, f"{name}=http://{name}/health",
                   reports="api")


def service(source: str, checks: Collection[str] = ()) -> Service:
    """The service of a source name; api_2, api_3, ... are more of the API, and a name in
    `checks` (the configured HTTP_CHECKS: the catalogue does not read settings) is a
    named HTTP check."""
    name = "api" if API_INSTANCE.fullmatch(source) else source
    for found in (*SERVICES, DOCKER):
        if found.name == name:
            return found
    if source in checks:
        return check(source)
    raise KeyError(f"no service {source!r} in the catalogue")


def is_http(found: Service) -> bool:
    """Whether a service is probed over HTTP: the API and every named check."""
    return (found.reports or found.name) == "api"


# --- fields ---

# Conversions from a field's unit to Prometheus base units; other units are exported as read.
_TO_BASE: dict[str, Callable[[float], float]] = {
    "MB": lambda mb: mb * MB,
    "%": lambda percent: percent / 100,
    "ms": lambda ms: ms / 1000,
}


@dataclass(frozen=True)
class Field:
    """One number a source reports. A gauge is stored as read; a counter (a total since
    the server started) as its per-interval delta, from which rates are exact. `metric`
    names its /metrics family (counters get `_total`), in base units; `label` tells its
    sample apart in a family that several fields share."""

    name: str
    unit: str
    help: str
    counter: bool = False
    metric: str | None = None
    label: tuple[str, str] | None = None

    def to_base(self, value: float) -> float:
        """The value in Prometheus base units: bytes, seconds, ratios from 0 to 1."""
        return _TO_BASE.get(self.unit, float)(value)


# /metrics families that several fields share, told apart by `Field.label`: their help.
SHARED_METRIC_HELP = {
    "ops_mongo_connections": "MongoDB client connections open now (current) and still "
                             "possible (available).",
    "ops_mongo_opcounters": "MongoDB operations since the server started, by type.",
}

MONGO_OPERATIONS = ("insert", "query", "update", "delete", "getmore", "command")


def _redis_counter(name: str, metric: str, help_text: str) -> Field:
    return Field(name, "", f"{help_text} since Redis started.", counter=True, metric=metric)


HOST_FIELDS: tuple[Field, ...] = (
    Field("mem_total_mb", "MB", "Physical memory of the host.",
          metric="ops_host_memory_total_bytes"),
    Field("mem_free_mb", "MB", "Memory available to programs without swapping.",
          metric="ops_host_memory_available_bytes"),
    Field("mem_used_pct", "%", "Share of the host's memory in use: (total - available) / "
          "total.", metric="ops_host_memory_used_ratio"),
    Field("load_1", "", "Load average over 1 minute.", metric="ops_host_load1"),
    Field("load_5", "", "Load average over 5 minutes.", metric="ops_host_load5"),
    Field("load_15", "", "Load average over 15 minutes.", metric="ops_host_load15"),
    Field("cpu_pct", "%", "System-wide CPU use since the previous probe.",
          metric="ops_host_cpu_used_ratio"),
    Field("cores", "", "Logical CPUs of the host.", metric="ops_host_cpu_cores"),
    Field("disk_used_pct", "%", "Used share of the data directory's filesystem.",
          metric="ops_host_disk_used_ratio"),
    Field("disk_free_mb", "MB", "Free space on the data directory's filesystem.",
          metric="ops_host_disk_free_bytes"),
    Field("process_rss_mb", "MB", "Resident memory of the collector process.",
          metric="ops_collector_resident_memory_bytes"),
)

REDIS_FIELDS: tuple[Field, ...] = (
    Field("ping_ms", "ms", "Round trip of one PING.", metric="ops_redis_ping_seconds"),
    Field("uptime_s", "s", "Seconds since Redis started.", metric="ops_redis_uptime_seconds"),
    Field("connected_clients", "", "Client connections open now.",
          metric="ops_redis_connected_clients"),
    Field("blocked_clients", "", "Clients waiting in a blocking command.",
          metric="ops_redis_blocked_clients"),
    Field("ops_per_sec", "1/s", "Commands per second as measured by Redis.",
          metric="ops_redis_instantaneous_ops_per_second"),
    Field("used_memory_mb", "MB", "Memory allocated by Redis.",
          metric="ops_redis_memory_used_bytes"),
    Field("used_memory_peak_mb", "MB", "Highest memory allocated since Redis started.",
          metric="ops_redis_memory_peak_bytes"),
    Field("maxmemory_mb", "MB", "maxmemory of Redis; 0 means no limit.",
          metric="ops_redis_memory_max_bytes"),
    Field("memory_used_pct", "%", "Memory allocated as a share of maxmemory, or of the "
          "host's memory when there is no limit."),
    Field("fragmentation_ratio", "", "Resident memory / allocated memory.",
          metric="ops_redis_memory_fragmentation_ratio"),
    Field("hit_rate_total_pct", "%", "Keyspace hits / lookups since Redis started.",
          metric="ops_redis_keyspace_hit_ratio"),
    Field("keys_total", "", "Keys in all databases.", metric="ops_redis_keys"),
    _redis_counter("keyspace_hits", "ops_redis_keyspace_hits", "Successful key lookups"),
    _redis_counter("keyspace_misses", "ops_redis_keyspace_misses", "Failed key lookups"),
    _redis_counter("commands", "ops_redis_commands_processed", "Commands processed"),
    _redis_counter("connections_received", "ops_redis_connections_received",
                   "Connections accepted"),
    _redis_counter("evicted_keys", "ops_redis_evicted_keys", "Keys evicted by the memory limit"),
    _redis_counter("expired_keys", "ops_redis_expired_keys", "Keys removed by expiry"),
)

MONGO_FIELDS: tuple[Field, ...] = (
    Field("ping_ms", "ms", "Round trip of one ping command.", metric="ops_mongo_ping_seconds"),
    Field("uptime_s", "s", "Seconds since the MongoDB server started.",
          metric="ops_mongo_uptime_seconds"),
    Field("connections_current", "", "Client connections open now.",
          metric="ops_mongo_connections", label=("state", "current")),
    Field("connections_available", "", "Connections the server can still accept.",
          metric="ops_mongo_connections", label=("state", "available")),
    Field("resident_mb", "MB", "Resident memory of the MongoDB server.",
          metric="ops_mongo_resident_memory_bytes"),
    Field("objects_total", "", "Documents in the watched databases."),
    Field("data_size_mb_total", "MB", "Uncompressed data size of the watched databases."),
    Field("storage_size_mb_total", "MB", "Storage allocated to the watched databases."),
    Field("indexes_total", "", "Indexes in the watched databases."),
    *(Field(f"op_{op}", "", f"MongoDB {op} operations since the server started.", counter=True,
            metric="ops_mongo_opcounters", label=("type", op)) for op in MONGO_OPERATIONS),
)

HTTP_FIELDS: tuple[Field, ...] = (
    Field("latency_ms", "ms", "Time of the last health request, to the end of the (capped) "
          "body.", metric="ops_api_latency_seconds"),
    Field("status_code", "", "HTTP status of the answer."),
)

# The engine's totals over every container, one column each in the history; each
# container's own figures are CONTAINER_FIELDS, kept per compose service.
DOCKER_FIELDS: tuple[Field, ...] = (
    Field("containers", "", "Containers the Docker engine has, in any state.",
          metric="ops_docker_containers"),
    Field("running", "", "Containers running now.", metric="ops_docker_containers_running"),
    Field("unhealthy", "", "Containers whose health check fails now.",
          metric="ops_docker_containers_unhealthy"),
    Field("cpu_pct", "%", "CPU of all containers, as docker stats adds it up (100 % is one "
          "core)."),
    Field("mem_used_mb", "MB", "Memory of all containers: usage minus inactive file cache."),
)

# One container's figures, as `docker stats` shows them; per-interval I/O in bytes.
# /metrics exports them as ops_container_<name>{service, container}.
CONTAINER_FIELDS: tuple[Field, ...] = (
    Field("cpu_pct", "%", "CPU since the previous reading, as docker stats computes it: "
          "(usage delta / system delta) x online CPUs; 100 % is one core.",
          metric="ops_container_cpu_ratio"),
    Field("mem_used_mb", "MB", "Memory used: usage minus inactive file cache, as docker "
          "stats shows it.", metric="ops_container_memory_used_bytes"),
    Field("mem_limit_mb", "MB", "Memory limit (the host's memory when none is set).",
          metric="ops_container_memory_limit_bytes"),
    Field("net_rx_bytes", "B", "Bytes received over all networks in the interval.",
          metric="ops_container_network_receive_bytes"),
    Field("net_tx_bytes", "B", "Bytes sent over all networks in the interval.",
          metric="ops_container_network_transmit_bytes"),
    Field("blk_read_bytes", "B", "Bytes read from block devices in the interval.",
          metric="ops_container_block_read_bytes"),
    Field("blk_write_bytes", "B", "Bytes written to block devices in the interval.",
          metric="ops_container_block_write_bytes"),
    Field("pids", "", "Processes and threads in the container.",
          metric="ops_container_pids"),
)

FIELDS: dict[str, tuple[Field, ...]] = {
    "host": HOST_FIELDS, "api": HTTP_FIELDS, "mongo": MONGO_FIELDS, "redis": REDIS_FIELDS,
    "docker": DOCKER_FIELDS,
}


def fields(source: str, checks: Collection[str] = ()) -> tuple[Field, ...]:
    """The fields a source reports (api_2, ... and named checks report the API's)."""
    found = service(source, checks)
    return FIELDS[found.reports or found.name]


def counters(source: str) -> tuple[str, ...]:
    """The names of a source's counter fields, stored as deltas."""
    return tuple(field.name for field in fields(source) if field.counter)


def is_counter(series: str) -> bool:
    """Whether a stored series (`<source>_<field>`, e.g. redis_commands) is a counter."""
    return any(series == f"{source}_{field.name}"
               for source, declared in FIELDS.items() for field in declared if field.counter)


def metric_help(field: Field) -> str:
    """The /metrics help of a field's family: the shared family's, else the field's."""
    return SHARED_METRIC_HELP[field.metric] if field.label and field.metric else field.help
