"""The ops_container_* families of /metrics: each container of the latest docker reading,
labelled by its key (`service`, the compose service it follows) and its `container` name.

Only containers the collector saw in its last reading are exported, so a removed
container's series end rather than repeat a stale value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from ops.catalogue import CONTAINER_FIELDS
from ops.sources.containers import Container

LABELS = ["service", "container"]

_STATES: tuple[tuple[str, str, Callable[[Container], bool]], ...] = (
    ("ops_container_running", "1 while the container runs.", lambda c: c.running),
    ("ops_container_unhealthy", "1 while its health check fails.",
     lambda c: c.health == "unhealthy"),
    ("ops_container_oom_killed", "1 when its last end was the OOM killer's.",
     lambda c: c.oom_killed),
)


def families(found: list[Container]) -> Iterator[Metric]:
    for name, help_text, test in _STATES:
        family = GaugeMetricFamily(name, help_text, labels=LABELS)
        for container in found:
            family.add_metric([container.key, container.name], 1.0 if test(container) else 0.0)
        yield family
    restarts = GaugeMetricFamily("ops_container_restarts", "Restarts of the container by "
                                 "its restart policy (docker inspect's RestartCount).",
                                 labels=LABELS)
    for container in found:
        restarts.add_metric([container.key, container.name], float(container.restarts))
    yield restarts
    for field in CONTAINER_FIELDS:
        family = GaugeMetricFamily(field.metric or "", field.help, labels=LABELS)
        for container in found:
            value = container.values.get(field.name)
            if value is not None:
                family.add_metric([container.key, container.name], field.to_base(value))
        yield family
