"""Settings from the environment (and an optional `.env` file), validated up front.

Every setting is declared once as data - name, default, help, parser - so the README,
the error messages and the tests all read the same table. A bad value stops the program
before it does anything, with one line naming the setting, the value (secrets masked)
and the expected form.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from pymongo.errors import PyMongoError
from pymongo.uri_parser import parse_uri
from redis.connection import parse_url

from ops import channel_urls, redaction
from ops.catalogue import check_name_problem, service
from ops.redaction import MASK, redact, scrub, split_userinfo, url_secrets

SYSTEM_DATABASES = ("admin", "local", "config")


class SettingsError(ValueError):
    """A setting has a value the program cannot use; the message is one line."""


class Secret:
    """A value that shows itself masked when printed, logged or formatted; reveal() gives it."""

    __slots__ = ("_shown", "_value")

    def __init__(self, value: str, shown: str | None = None) -> None:
        self._value = value
        self._shown = shown

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        if self._shown is not None:
            return self._shown
        return redact(self._value) if "://" in self._value else MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def reveal(self) -> str:
        return self._value

    def secrets(self) -> list[str]:
        """What this value hides, for redaction.remember(): itself, or a URL's secrets;
        everything after the host of a URL shown without its path (a webhook)."""
        if "://" not in self._value:
            return [self._value]
        if self._shown is not None:
            return redaction.webhook_secrets(self._value)
        return url_secrets(self._value)


# --- parsers: each takes the raw text and returns a value or raises ValueError ---


def _int_range(low: int, high: int, unit: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not re.fullmatch(r"\d+", text.strip()) or not low <= int(text) <= high:
            raise ValueError(f"a whole number of {unit} from {low} to {high}")
        return int(text)

    return parse


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("true or false")


def _clock(text: str) -> time:
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", text.strip())
    if not match:
        raise ValueError("HH:MM on a 24-hour clock, e.g. 03:00 or 02:30")
    return time(int(match[1]), int(match[2]))


def _timezone(text: str) -> ZoneInfo:
    try:
        return ZoneInfo(text.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("an IANA time zone name, e.g. UTC or Asia/Riyadh") from None


def _url_with_scheme(schemes: tuple[str, ...], example: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        parts = urlsplit(text.strip())
        if parts.scheme not in schemes or not (parts.netloc or parts.path):
            raise ValueError(f"a URL starting with {' or '.join(s + '://' for s in schemes)}, "
                             f"e.g. {example}")
        return text.strip()

    return parse


def _password_readable(url: str, example: str) -> str:
    """`url`, unless its password has an unencoded `/`: a driver that accepts it reads the
    password's end as the host (`u:p@ss/word@h` connects to `ss`), which errors and pages
    would then show."""
    if "/" in (split_userinfo(url)[1] or ""):
        raise ValueError(f"a URL whose password has / and @ percent-encoded (/ as %2F, @ as "
                         f"%40), e.g. {example}")
    return url


def _driver_rejects(url: str, err: Exception, example: str) -> ValueError:
    """The driver's own reason a URL cannot be used (found now, not at the first probe),
    without the URL's secrets, and the usual cause when it has a user name."""
    reason = scrub(str(err), *url_secrets(url))
    hint = ""
    if split_userinfo(url)[1] is not None:
        hint = ("; characters such as / @ : in the user name or password must be "
                "percent-encoded (/ as %2F, @ as %40)")
    return ValueError(f"a URL the driver accepts (it says: {reason}{hint}), e.g. {example}")


def _mongo_uri(text: str) -> Secret:
    example = service("mongo").example
    uri = _url_with_scheme(("mongodb", "mongodb+srv"), example)(text)
    if not urlsplit(uri).hostname:
        raise ValueError(f"a URL with a host, e.g. {example}")
    if uri.startswith("mongodb://"):  # +srv would need a DNS lookup to check
        try:
            parse_uri(uri)
        except (ValueError, PyMongoError) as err:
            raise _driver_rejects(uri, err, example) from err
    return Secret(_password_readable(uri, example))


def _redis_url(text: str) -> Secret:
    example = service("redis").example
    url = _url_with_scheme(("redis", "rediss", "unix"), example)(text)
    try:
        parse_url(url)  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
    except ValueError as err:
        raise _driver_rejects(url, err, example) from err
    return Secret(_password_readable(url, example))


def _http_urls(text: str) -> list[str]:
    parse = _url_with_scheme(("http", "https"), service("api").example)
    urls = [_password_readable(parse(item), service("api").example)
            for item in text.split(",") if item.strip()]
    if not urls:
        raise ValueError("one or more http(s) URLs separated by commas")
    return urls


def _http_checks(text: str) -> dict[str, str]:
    """name=URL pairs, comma-separated: each a service of its own under its name."""
    example = "frontend=http://frontend/,admin=http://admin:8080/health"
    checks: dict[str, str] = {}
    for item in (item.strip() for item in text.split(",")):
        if not item:
            continue
        name, equals, url = (part.strip() for part in item.partition("="))
        if not equals or not name or not url:
            raise ValueError(f"name=URL pairs separated by commas, e.g. {example}; "
                             f"{item!r} is not name=URL")
        problem = check_name_problem(name)
        if problem is not None:
            raise ValueError(problem)
        if name in checks:
            raise ValueError(f"each check name once, but {name!r} is there twice")
        example_url = f"{name}=http://{name}/health"
        checks[name] = _password_readable(
            _url_with_scheme(("http", "https"), example_url)(url), example_url)
    if not checks:
        raise ValueError(f"one or more name=URL pairs separated by commas, e.g. {example}")
    return checks


def _hide_path(url: str) -> str:
    """Webhook URLs carry their token in the path: shown as scheme, host and port only
    (read by hand: urlsplit fails on a password with an unencoded /)."""
    head, _, rest = split_userinfo(url.strip())
    return f"{head}{re.split(r'[/?#]', rest, maxsplit=1)[0]}/{MASK}"


def _webhook_url(text: str) -> Secret:
    example = "https://hooks.slack.com/services/..."
    url = _password_readable(_url_with_scheme(("http", "https"), example)(text), example)
    return Secret(url, shown=_hide_path(url))


def _channel_urls(text: str) -> list[Secret]:
    """Apprise URLs, each one Apprise can use; shown as scheme, host and port."""
    urls = channel_urls.split_urls(text)
    if not urls:
        raise ValueError("one or more Apprise URLs separated by commas, e.g. "
                         "ntfy://ntfy.example.com/ops,mailtos://user:pass@smtp.example.com")
    for number, url in enumerate(urls, 1):
        said = channel_urls.problem(url)
        if said is not None:
            raise ValueError(f"Apprise URLs separated by commas; URL {number} "
                             f"({channel_urls.shown(url)}) cannot be used: {said}")
    return [Secret(url, shown=channel_urls.shown(url)) for url in urls]


def _shown_urls(text: str) -> str:
    return ",".join(channel_urls.shown(url) for url in channel_urls.split_urls(text))


def _choice(*options: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text.strip().lower() not in options:
            raise ValueError(" or ".join(options))
        return text.strip().lower()

    return parse


_COPY_EXAMPLE = "s3://bucket/prefix or sftp://user@host:22/path"
_S3_PARAMETERS = frozenset({"endpoint", "region", "addressing"})


def _copy_urls(text: str) -> list[str]:
    """Where backups are copied: s3:// (any S3-compatible store, credentials from the
    AWS SDK's own sources) and sftp:// (a key file, never a password in the URL)."""
    urls = [item.strip() for item in text.split(",") if item.strip()]
    if not urls:
        raise ValueError(f"one or more of {_COPY_EXAMPLE}, separated by commas")
    for url in urls:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as err:
            raise ValueError(f"{_COPY_EXAMPLE}; {err}") from None
        if parts.scheme == "s3":
            if not parts.hostname or parts.username is not None:
                raise ValueError("s3://bucket/prefix with the bucket name and no user or "
                                 "password (credentials come from the AWS SDK's sources)")
            unknown = {k for k, _ in parse_qsl(parts.query)} - _S3_PARAMETERS
            if unknown:
                raise ValueError(f"s3 URL parameters endpoint, region or addressing, not "
                                 f"{', '.join(sorted(unknown))}")
        elif parts.scheme == "sftp":
            if not parts.hostname or not parts.username:
                raise ValueError("sftp://user@host:22/path with a user and a host")
            if parts.password is not None:
                raise ValueError("sftp:// without a password: the key is "
                                 "BACKUP_COPY_SSH_KEY_FILE")
            if port == 0:
                raise ValueError("an sftp port from 1 to 65535")
        else:
            raise ValueError(f"{_COPY_EXAMPLE}, not {parts.scheme or 'no'} scheme")
    return urls


def _age_recipients(text: str) -> list[str]:
    keys = [item.strip() for item in text.split(",") if item.strip()]
    if not keys or any(not re.fullmatch(r"age1[02-9ac-hj-np-z]{58}", key) for key in keys):
        raise ValueError("age public keys (age1... as age-keygen prints them) separated by "
                         "commas")
    return keys


def _emails(text: str) -> list[str]:
    found = [item.strip() for item in text.split(",") if item.strip()]
    if not found or any(not re.fullmatch(r"[^@\s,]+@[^@\s,]+", item) for item in found):
        raise ValueError("e-mail addresses separated by commas, e.g. ops@example.com")
    return found


def _host(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9.\-:\[\]]+", text.strip()):
        raise ValueError("a host name or address, e.g. smtp.example.com")
    return text.strip()


def _names(text: str) -> list[str]:
    names = [item.strip() for item in text.split(",") if item.strip()]
    if not names or any(not re.fullmatch(r"[^/\\. \"$]{1,63}", n) for n in names):
        raise ValueError("database names separated by commas, e.g. alaweal_db,shop")
    return names


def _path(text: str) -> Path:
    if not text.strip():
        raise ValueError("a directory path")
    return Path(text.strip()).expanduser()


def _secret(text: str) -> Secret:
    if not text:
        raise ValueError("a non-empty value")
    return Secret(text)


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | None
    help: str
    parse: Callable[[str], Any]
    secret: bool = False
    mask: Callable[[str], str] | None = None  # how a secret's bad value is shown


SETTINGS: tuple[Setting, ...] = (
    Setting("MONGO_URI", None, "MongoDB connection string; unset: MongoDB not watched, no "
            "backups. Its password never appears in logs, pages or manifests.", _mongo_uri,
            secret=True),
    Setting("BACKUP_DATABASES", None, "Comma list of databases to back up and watch; "
            "default all but admin, local and config.", _names),
    Setting("REDIS_URL", None, "Redis to watch, e.g. redis://redis:6379/0; unset: cache not "
            "watched.", _redis_url, secret=True),
    Setting("API_HEALTH_URL", None, "One or more (comma) HTTP URLs probed each tick; the "
            "first is the \"api\" service.", _http_urls),
    Setting("HTTP_CHECKS", None, "More HTTP health checks, each a service of its own: comma "
            "list of name=URL, e.g. frontend=http://frontend/; names are lower-case letters, "
            "digits and _.", _http_checks),
    Setting("DOCKER_HOST", None, "Docker Engine API of the containers to watch, e.g. "
            "unix:///var/run/docker.sock or tcp://docker-proxy:2375; unset: the local socket "
            "when there is one, else containers not watched. In Docker Compose set "
            "OPS_DOCKER_HOST (compose reads DOCKER_HOST for itself).",
            _url_with_scheme(("unix", "tcp", "http", "https"), "unix:///var/run/docker.sock")),
    Setting("OPS_DATA_DIR", "./data", "Directory holding ops.sqlite3.", _path),
    Setting("BACKUP_DIR", None, "Where backups are written; default $OPS_DATA_DIR/backups "
            "(/app/backups in Docker).", _path),
    Setting("SAMPLE_INTERVAL_SECONDS", "5", "Seconds between samples, 1 to 3600.",
            _int_range(1, 3600, "seconds")),
    Setting("METRICS_RAW_RETENTION_HOURS", "48", "Hours of raw samples (every tick) kept.",
            _int_range(1, 8760, "hours")),
    Setting("METRICS_RETENTION_DAYS", "30", "Days of 1-minute and 5-minute rollups kept.",
            _int_range(1, 3650, "days")),
    Setting("METRICS_LONG_RETENTION_DAYS", "400", "Days of 1-hour rollups kept.",
            _int_range(1, 36500, "days")),
    Setting("OPS_DB_MAX_MB", "500", "Size cap of ops.sqlite3 in MB: past it the oldest data "
            "of the finest tier goes first.", _int_range(10, 1_000_000, "MB")),
    Setting("ENABLE_AUTO_BACKUP", "true", "Take a backup every day at BACKUP_TIME.", _bool),
    Setting("BACKUP_TIME", "03:00", "Time of the daily backup, HH:MM on a 24-hour clock, "
            "in BACKUP_TIMEZONE.", _clock),
    Setting("BACKUP_TIMEZONE", None, "IANA time zone of BACKUP_TIME; default TZ, else UTC.",
            _timezone),
    Setting("OPS_DISPLAY_TIMEZONE", None, "IANA time zone of the times the pages and the "
            "History CSV show; default TZ, else UTC.", _timezone),
    Setting("OPS_LANGUAGE", "en", "Language of the pages (each user may switch in the "
            "sidebar) and of alert notifications: en (English) or ar (Arabic, right to "
            "left). JSON, /metrics, logs and commands stay English.", _choice("en", "ar")),
    Setting("OPS_DIGITS", "western", "Digits of numbers on Arabic pages: western (0-9, the "
            "norm in technical UIs) or eastern (Arabic-Indic).",
            _choice("western", "eastern")),
    Setting("BACKUP_RETENTION_DAYS", "7", "Backups older than this are deleted; the newest "
            "good backup never is.", _int_range(1, 3650, "days")),
    Setting("BACKUP_GZIP_LEVEL", "6", "gzip level of backups, 1 (fast) to 9 (small).",
            _int_range(1, 9, "levels")),
    Setting("BACKUP_DRILL", "off", "Restore drill: restore the newest backup into a scratch "
            "database and compare it with the backup; off, daily, weekly or monthly.",
            _choice("off", "daily", "weekly", "monthly")),
    Setting("BACKUP_COPY_URLS", None, "Comma list of off-host targets each backup is copied "
            "to: s3://bucket/prefix (any S3-compatible store) or sftp://user@host:22/path.",
            _copy_urls),
    Setting("BACKUP_COPY_RETENTION_DAYS", None, "Copies older than this are deleted from the "
            "targets, never the newest good one; default BACKUP_RETENTION_DAYS.",
            _int_range(1, 36500, "days")),
    Setting("BACKUP_COPY_ENCRYPT_TO", None, "Comma list of age public keys: copies are "
            "encrypted to them (the local archive stays plain).", _age_recipients),
    Setting("BACKUP_COPY_IDENTITY_FILE", None, "age identity file that decrypts encrypted "
            "copies when one is fetched back.", _path),
    Setting("BACKUP_COPY_SSH_KEY_FILE", None, "Private key for sftp:// targets.", _path),
    Setting("BACKUP_COPY_KNOWN_HOSTS_FILE", None, "known_hosts for sftp:// targets; default "
            "~/.ssh/known_hosts. An unknown host key is refused.", _path),
    Setting("ALERT_RULES_FILE", None, "TOML or YAML file that changes alert rules "
            "(thresholds, durations, off); see the README.", _path),
    Setting("ALERT_URLS", None, "Comma list of Apprise URLs alerts are sent to (ntfy://, "
            "tgram://, mailtos://, json://, ...); shown as scheme, host and port.",
            _channel_urls, secret=True, mask=_shown_urls),
    Setting("OPS_PUBLIC_URL", None, "The dashboard's address as admins open it, e.g. "
            "https://ops.example.com; alert messages link to its Alerts page.",
            _url_with_scheme(("http", "https"), "https://ops.example.com")),
    Setting("ALERT_REPEAT_HOURS", "0", "Send a still-firing critical alert again every this "
            "many hours; 0: never.", _int_range(0, 720, "hours")),
    Setting("ALERT_WEBHOOK_URL", None, "Where alerts are posted when they fire and resolve.",
            _webhook_url, secret=True, mask=_hide_path),
    Setting("ALERT_WEBHOOK_FORMAT", "json", "json, slack or discord.",
            _choice("json", "slack", "discord")),
    Setting("SMTP_HOST", None, "Mail server for alert e-mails; unset: no e-mail.", _host),
    Setting("SMTP_PORT", "587", "Mail server port.", _int_range(1, 65535, "port numbers")),
    Setting("SMTP_USER", None, "Login name at the mail server, if it needs one.", _secret),
    Setting("SMTP_PASSWORD", None, "Password at the mail server.", _secret, secret=True),
    Setting("SMTP_STARTTLS", "true", "Upgrade the connection with STARTTLS before login.",
            _bool),
    Setting("ALERT_EMAIL_FROM", None, "Sender address of alert e-mails.",
            lambda text: _emails(text)[0]),
    Setting("ALERT_EMAIL_TO", None, "Comma list of alert e-mail recipients.", _emails),
    Setting("OPS_ADMIN_PASSWORD", None, "When set, every page and download needs login.",
            _secret, secret=True),
    Setting("OPS_API_TOKEN", None, "When set, JSON endpoints other than health need "
            "Authorization: Bearer <token>.", _secret, secret=True),
    Setting("OPS_SESSION_HOURS", "12", "Hours a login lasts (a signed cookie), 1 to 720.",
            _int_range(1, 720, "hours")),
    Setting("OPS_ALLOW_NO_PASSWORD", "false", "Serve the pages without OPS_ADMIN_PASSWORD "
            "to clients beyond this machine; only behind access control of your own.", _bool),
)


@dataclass(frozen=True)
class Settings:
    mongo_uri: Secret | None
    backup_databases: list[str] | None
    redis_url: Secret | None
    api_health_url: list[str] | None
    http_checks: dict[str, str] | None
    docker_host: str | None
    ops_data_dir: Path
    backup_dir: Path
    sample_interval_seconds: int
    metrics_raw_retention_hours: int
    metrics_retention_days: int
    metrics_long_retention_days: int
    ops_db_max_mb: int
    enable_auto_backup: bool
    backup_time: time
    backup_timezone: ZoneInfo
    ops_display_timezone: ZoneInfo
    ops_language: str
    ops_digits: str
    backup_retention_days: int
    backup_gzip_level: int
    backup_drill: str
    backup_copy_urls: list[str] | None
    backup_copy_retention_days: int | None
    backup_copy_encrypt_to: list[str] | None
    backup_copy_identity_file: Path | None
    backup_copy_ssh_key_file: Path | None
    backup_copy_known_hosts_file: Path | None
    alert_rules_file: Path | None
    alert_urls: list[Secret] | None
    ops_public_url: str | None
    alert_repeat_hours: int
    alert_webhook_url: Secret | None
    alert_webhook_format: str
    smtp_host: str | None
    smtp_port: int
    smtp_user: Secret | None
    smtp_password: Secret | None
    smtp_starttls: bool
    alert_email_from: str | None
    alert_email_to: list[str] | None
    ops_admin_password: Secret | None
    ops_api_token: Secret | None
    ops_session_hours: int
    ops_allow_no_password: bool

    @property
    def database_path(self) -> Path:
        return self.ops_data_dir / "ops.sqlite3"


def _shown(setting: Setting, raw: str) -> str:
    if not setting.secret:  # a health URL may hold a password too
        return redaction.clean(raw, keep_lines=True)
    return setting.mask(raw) if setting.mask is not None else str(Secret(raw))


def _parse(setting: Setting, raw: str | None) -> Any:
    if raw is None or (raw.strip() == "" and setting.default is None):
        return None
    try:
        return setting.parse(raw)
    except ValueError as expected:
        raise SettingsError(f"{setting.name}={_shown(setting, raw)!r} is invalid: expected "
                            f"{expected}") from None


def _merged(environ: Mapping[str, str], env_file: Path | None) -> dict[str, str]:
    values: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        try:
            read = dotenv_values(env_file, encoding="utf-8")
        except UnicodeDecodeError as err:
            raise SettingsError(f"{env_file}: not UTF-8 text (byte {err.object[err.start]:#04x} "
                                f"at offset {err.start}): save it as UTF-8") from None
        values.update({k: v for k, v in read.items() if v is not None})
    values.update(environ)
    return values


def load_settings(environ: Mapping[str, str] | None = None,
                  env_file: Path | None = Path(".env")) -> Settings:
    """Settings from `environ` (default os.environ) over an optional .env file."""
    values = _merged(os.environ if environ is None else environ, env_file)
    parsed = {s.name.lower(): _parse(s, values.get(s.name, s.default)) for s in SETTINGS}
    for zone in ("backup_timezone", "ops_display_timezone"):
        if parsed[zone] is None:
            parsed[zone] = _parse_tz_fallback(values.get("TZ"))
    if parsed["backup_dir"] is None:
        parsed["backup_dir"] = parsed["ops_data_dir"] / "backups"
    settings = Settings(**parsed)
    _check_webhook_format(settings)
    remember_secrets(settings)
    return settings


def _check_webhook_format(settings: Settings) -> None:
    """ALERT_WEBHOOK_URL must be a kind of webhook its format can be sent to."""
    if settings.alert_webhook_url is None:
        return
    try:
        channel_urls.webhook_url(settings.alert_webhook_url.reveal(),
                                 settings.alert_webhook_format)
    except ValueError as expected:
        raise SettingsError(f"ALERT_WEBHOOK_URL={str(settings.alert_webhook_url)!r} is "
                            f"invalid: expected {expected}") from None


def remember_secrets(settings: Settings) -> None:
    """Register every secret the settings hold (secret settings, and the passwords and
    tokens inside any URL setting) with redaction, so clean() masks them wherever a
    driver or a server quotes them."""
    for setting in SETTINGS:
        value = getattr(settings, setting.name.lower())
        if isinstance(value, Secret) and setting.secret:
            redaction.remember(*value.secrets())
        if isinstance(value, list) and setting.secret:  # ALERT_URLS
            for url in value:
                redaction.remember(*channel_urls.secrets(url.reveal()))
        urls = list(value.values()) if isinstance(value, dict) else value  # HTTP_CHECKS
        for url in urls if isinstance(urls, list) else [value]:
            if isinstance(url, str) and "://" in url:
                redaction.remember_url(url)


def _parse_tz_fallback(tz: str | None) -> ZoneInfo:
    """BACKUP_TIMEZONE defaults to TZ; a TZ we cannot read falls back to UTC, not an error."""
    try:
        return ZoneInfo(tz.lstrip(":")) if tz else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
