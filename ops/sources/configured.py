"""The sources a set of settings asks for: host always, the others when configured."""

from __future__ import annotations

from ops.config import Settings
from ops.sources.base import Source
from ops.sources.host import HostSource
from ops.sources.http import HttpSource
from ops.sources.mongo import MongoSource
from ops.sources.redis import RedisSource

# Which setting turns each watched service on; pages say this when one is missing.
SETTING_FOR = {"api": "API_HEALTH_URL", "mongo": "MONGO_URI", "redis": "REDIS_URL"}
EXAMPLE_FOR = {"api": "http://api:3001/api/health", "mongo": "mongodb://user:pass@mongo:27017/",
               "redis": "redis://redis:6379/0"}


def how_to_watch(source: str) -> str:
    """The line a page or log shows for a service nobody configured."""
    name = SETTING_FOR[source]
    return f"not watched: set {name}, e.g. {name}={EXAMPLE_FOR[source]}"


def http_name(index: int) -> str:
    """The first health URL is the API; more URLs are api_2, api_3, ..."""
    return "api" if index == 0 else f"api_{index + 1}"


def http_sources(settings: Settings) -> list[str]:
    """The names of the HTTP health sources: api, api_2, ..."""
    return [http_name(i) for i in range(len(settings.api_health_url or []))]


def is_configured(settings: Settings, source: str) -> bool:
    """Whether the setting that watches `source` (mongo, redis, api, api_2, ...) is set."""
    if source == "mongo":
        return settings.mongo_uri is not None
    if source == "redis":
        return settings.redis_url is not None
    return source in http_sources(settings)


def build_sources(settings: Settings) -> list[Source]:
    sources: list[Source] = [HostSource(settings.ops_data_dir)]
    if settings.mongo_uri is not None:
        sources.append(MongoSource(settings.mongo_uri.reveal(), settings.backup_databases))
    if settings.redis_url is not None:
        sources.append(RedisSource(settings.redis_url.reveal()))
    for index, url in enumerate(settings.api_health_url or []):
        sources.append(HttpSource(url, name=http_name(index)))
    return sources
