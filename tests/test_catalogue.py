"""The catalogue is the one declaration of services and fields, and everything that
stores, charts or exports a figure agrees with it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ops import catalogue
from ops.config import SETTINGS, load_settings
from ops.deltas import columns_for
from ops.report import Snapshot
from ops.sources.docker import DockerSource
from ops.sources.host import HostSource
from ops.sources.http import HttpSource
from ops.sources.mongo import MongoSource
from ops.sources.redis import RedisSource
from ops.storage import Heartbeat, Latest
from ops.web.prometheus import BackupFacts, exposition

ROOT = Path(__file__).resolve().parents[1]
NOW = 1_800_000_000_000
UNITS = {"", "MB", "%", "ms", "s", "1/s"}
# The unit a metric name ends with in Prometheus base units.
SUFFIX = {"MB": "_bytes", "%": "_ratio", "ms": "_seconds", "s": "_seconds"}
ALL_FIELDS = [(source, field) for source, fields in catalogue.FIELDS.items() for field in fields]


def test_catalogue_imports_only_the_languages_from_ops() -> None:
    tree = ast.parse((ROOT / "ops" / "catalogue.py").read_text())
    imported = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert [name for name in imported if name and name.startswith("ops")] == ["ops.i18n"]


def test_every_source_reports_the_catalogue_s_fields() -> None:
    assert HostSource.fields is catalogue.fields("host")
    assert RedisSource.fields is catalogue.fields("redis")
    assert MongoSource.fields is catalogue.fields("mongo")
    assert HttpSource.fields is catalogue.fields("api") is catalogue.fields("api_2")
    assert DockerSource.fields is catalogue.fields("docker")
    assert set(catalogue.FIELDS) == {service.name for service in catalogue.SERVICES} | {
        catalogue.DOCKER.name}


def test_what_the_host_reports_is_catalogued(tmp_path: Path) -> None:
    source = HostSource(tmp_path)
    reading = source.probe()
    source.close()
    assert set(reading.values) == {field.name for field in catalogue.fields("host")}


@pytest.mark.parametrize(("source", "field"), ALL_FIELDS,
                         ids=[f"{s}.{f.name}" for s, f in ALL_FIELDS])
def test_every_field_has_a_unit_and_help(source: str, field: catalogue.Field) -> None:
    assert re.fullmatch(r"[a-z][a-z0-9_]*", field.name)
    assert field.unit in UNITS
    assert len(field.help) > 10 and field.help.endswith("."), "help is a sentence"
    if field.metric:
        assert field.metric.startswith("ops_") and not field.metric.endswith("_total")
        assert field.metric.endswith(SUFFIX.get(field.unit, "")), "named in its base unit"
    if field.label:
        assert field.metric in catalogue.SHARED_METRIC_HELP


def test_field_and_metric_names_are_declared_once() -> None:
    for source, fields in catalogue.FIELDS.items():
        names = [field.name for field in fields]
        assert len(names) == len(set(names)), source
    metrics = [(f.metric, f.label) for _, f in ALL_FIELDS if f.metric]
    assert len(metrics) == len(set(metrics))
    alone = [metric for metric, label in metrics if label is None]
    assert not set(alone) & {metric for metric, label in metrics if label is not None}


@pytest.mark.parametrize("source", ["host", "redis", "mongo", "api"])
def test_counters_are_stored_as_deltas_and_gauges_as_read(source: str) -> None:
    columns = columns_for(source)
    for field in catalogue.fields(source):
        stored = f"{source}_{field.name}_delta" if field.counter else f"{source}_{field.name}"
        assert stored in columns
        assert catalogue.is_counter(f"{source}_{field.name}") == field.counter


def _everything_up() -> Snapshot:
    latest = {source: Latest(source, NOW - 1000, True, NOW - 60_000, None,
                             {"values": {f.name: 2 for f in fields}, "info": {}})
              for source, fields in catalogue.FIELDS.items()}
    beat = Heartbeat(1, "box", NOW - 75_000, NOW - 1000, 5, "0")
    return Snapshot(NOW, latest, beat)


def _exported() -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    settings = load_settings({"OPS_DATA_DIR": "/nonexistent", "MONGO_URI": "mongodb://m/",
                              "REDIS_URL": "redis://r/0", "API_HEALTH_URL": "http://a/h"},
                             env_file=None)
    text = exposition(_everything_up(), settings, BackupFacts()).decode()
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_every_exported_field_is_in_metrics_counters_as_total() -> None:
    found = _exported()
    for source, field in ALL_FIELDS:
        if field.counter:
            assert field.metric, f"{source}.{field.name}: a counter is exported"
        if not field.metric:
            continue
        name = f"{field.metric}_total" if field.counter else field.metric
        labels = (field.label,) if field.label else (("service", source),) if source == "api" \
            else ()
        assert found[name][labels] == field.to_base(2), f"{source}.{field.name}"


def test_every_service_s_setting_is_a_documented_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    settings = {setting.name: setting for setting in SETTINGS}
    for service in catalogue.WATCHED:
        assert service.setting in settings
        assert re.search(rf"^\| `{service.setting}` \|", readme, re.MULTILINE), service.name
        settings[service.setting].parse(service.example)  # the hint's example is valid
        assert service.seed_key and service.label
    assert [s.name for s in catalogue.SERVICES if s.setting is None] == ["host"]


def test_service_names() -> None:
    assert [catalogue.http_name(i) for i in range(3)] == ["api", "api_2", "api_3"]
    assert catalogue.service("api_3").name == "api"
    assert [s.noun for s in catalogue.WATCHED] == ["API", "database", "cache"]
    with pytest.raises(KeyError):
        catalogue.service("nope")
