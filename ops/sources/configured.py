"""The sources a set of settings asks for: host always, the others when configured.

Which setting turns each service on is the catalogue's; this module reads the settings
against it.
"""

from __future__ import annotations

from ops import catalogue
from ops.config import Settings
from ops.sources.base import Source
from ops.sources.host import HostSource
from ops.sources.http import HttpSource
from ops.sources.mongo import MongoSource
from ops.sources.redis import RedisSource


def how_to_watch(source: str) -> str:
    """The line a page or log shows for a service nobody configured."""
    service = catalogue.service(source)
    return f"not watched: set {service.setting}, e.g. {service.setting}={service.example}"


def instances(settings: Settings, service: catalogue.Service) -> list[str]:
    """The sources of a service under these settings: none while its setting is unset,
    one per URL of a list (api, api_2, ...). Settings fields are the names in lower case."""
    if service.setting is None:
        return [service.name]
    value = getattr(settings, service.setting.lower())
    if service.many:
        return [catalogue.http_name(i) for i in range(len(value or []))]
    return [] if value is None else [service.name]


def http_sources(settings: Settings) -> list[str]:
    """The names of the HTTP health sources: api, api_2, ..."""
    return instances(settings, catalogue.service("api"))


def is_configured(settings: Settings, source: str) -> bool:
    """Whether the setting that watches `source` (mongo, redis, api, api_2, ...) is set."""
    return source in instances(settings, catalogue.service(source))


def watched_sources(settings: Settings) -> list[str]:
    """Every configured service, in the catalogue's order: api, api_2, ..., mongo, redis."""
    return [name for service in catalogue.WATCHED for name in instances(settings, service)]


def build_sources(settings: Settings) -> list[Source]:
    sources: list[Source] = [HostSource(settings.ops_data_dir)]
    if settings.mongo_uri is not None:
        sources.append(MongoSource(settings.mongo_uri.reveal(), settings.backup_databases))
    if settings.redis_url is not None:
        sources.append(RedisSource(settings.redis_url.reveal()))
    for index, url in enumerate(settings.api_health_url or []):
        sources.append(HttpSource(url, name=catalogue.http_name(index)))
    return sources
