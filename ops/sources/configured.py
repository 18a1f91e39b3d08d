"""The sources a set of settings asks for: host always, the others when configured.

Which setting turns each service on is the catalogue's; this module reads the settings
against it. It is the one place that answers which HTTP sources there are and what they
are called: the API's URLs (API_HEALTH_URL: api, api_2, ...) and the named checks
(HTTP_CHECKS: frontend, admin, ...), each of those a service of its own.
"""

from __future__ import annotations

from ops import catalogue
from ops.config import Settings
from ops.i18n import _, ltr
from ops.sources import docker
from ops.sources.base import PROBE_TIMEOUT_SECONDS, Source
from ops.sources.host import HostSource
from ops.sources.http import HttpSource
from ops.sources.mongo import MongoSource
from ops.sources.redis import RedisSource


def how_to_watch(source: str) -> str:
    """The line a page or log shows for a service nobody configured (in the page's
    language: "X is {this}")."""
    service = catalogue.service(source)
    setting, example = ltr(service.setting), ltr(f"{service.setting}={service.example}")
    if source == catalogue.DOCKER.name:
        return _("not watched: set {setting}, e.g. {example}, or give the collector "
                 "{socket}").format(setting=setting, example=example,
                                    socket=ltr(docker.LOCAL_SOCKET))
    return _("not watched: set {setting}, e.g. {example}").format(setting=setting,
                                                                  example=example)


def checks(settings: Settings) -> list[str]:
    """The names of the named HTTP checks (HTTP_CHECKS), in the order they were given."""
    return list(settings.http_checks or {})


def service_of(settings: Settings, source: str) -> catalogue.Service:
    """The catalogue's service of a source, a named check of these settings included."""
    return catalogue.service(source, checks(settings))


def services(settings: Settings) -> list[catalogue.Service]:
    """The services a setting can turn on, in the order pages and JSON list them: the API,
    each named check beside it, the database, the cache."""
    found: list[catalogue.Service] = []
    for service in catalogue.WATCHED:
        found.append(service)
        if service.name == "api":
            found += [catalogue.check(name) for name in checks(settings)]
    return found


def instances(settings: Settings, service: catalogue.Service) -> list[str]:
    """The sources of a service under these settings: none while its setting is unset,
    one per URL of a list (api, api_2, ...), a named check when HTTP_CHECKS names it.
    Settings fields are the names in lower case."""
    if service.setting is None:
        return [service.name]
    value = getattr(settings, service.setting.lower())
    if service.many:
        return [catalogue.http_name(i) for i in range(len(value or []))]
    if service.setting == catalogue.CHECKS_SETTING:
        return [service.name] if service.name in (value or {}) else []
    return [] if value is None else [service.name]


def http_urls(settings: Settings) -> dict[str, str]:
    """Each HTTP source's name and URL: api, api_2, ..., then the named checks."""
    urls = {catalogue.http_name(i): url for i, url in enumerate(settings.api_health_url or [])}
    return urls | dict(settings.http_checks or {})


def http_sources(settings: Settings) -> list[str]:
    """The names of the HTTP health sources: api, api_2, ..., frontend, admin, ..."""
    return list(http_urls(settings))


def is_configured(settings: Settings, source: str) -> bool:
    """Whether the setting that watches `source` (mongo, redis, api, api_2, a named check)
    is set."""
    return source in instances(settings, service_of(settings, source))


def watched_sources(settings: Settings) -> list[str]:
    """Every configured service, in the order of services(): api, api_2, ..., the named
    checks, mongo, redis."""
    return [name for service in services(settings) for name in instances(settings, service)]


def build_sources(settings: Settings) -> list[Source]:
    sources: list[Source] = [HostSource(settings.ops_data_dir)]
    if settings.mongo_uri is not None:
        sources.append(MongoSource(settings.mongo_uri.reveal(), settings.backup_databases))
    if settings.redis_url is not None:
        sources.append(RedisSource(settings.redis_url.reveal()))
    for name, url in http_urls(settings).items():
        sources.append(HttpSource(url, name=name))
    engine = docker.target(settings.docker_host)
    if engine is not None:
        # Inside the tick's deadline (collector.loop: 0.8 of the interval, at most 2.5 s).
        sources.append(docker.DockerSource(
            engine, min(PROBE_TIMEOUT_SECONDS, 0.7 * settings.sample_interval_seconds)))
    return sources
