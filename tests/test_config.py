"""Settings: defaults, every bad value named on one line with exit 2, secrets masked."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import time
from pathlib import Path

import pytest

from ops.config import SETTINGS, Secret, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_with_nothing_configured(tmp_path: Path) -> None:
    settings = load_settings({}, env_file=None)
    assert settings.mongo_uri is None and settings.redis_url is None
    assert settings.api_health_url is None
    assert settings.ops_data_dir == Path("data")
    assert settings.backup_dir == Path("data/backups")
    assert settings.sample_interval_seconds == 5
    assert settings.metrics_retention_days == 30
    assert settings.enable_auto_backup is True
    assert settings.backup_time == time(3, 0)
    assert str(settings.backup_timezone) == "UTC"
    assert settings.backup_retention_days == 7


def test_values_are_parsed() -> None:
    settings = load_settings({
        "MONGO_URI": "mongodb://admin:pw@mongo:27017/", "REDIS_URL": "redis://redis:6379/0",
        "API_HEALTH_URL": "http://api:3001/health, http://web/health",
        "BACKUP_DATABASES": "alaweal_db, shop", "BACKUP_TIME": "02:30", "TZ": "Asia/Riyadh",
        "ENABLE_AUTO_BACKUP": "false", "SAMPLE_INTERVAL_SECONDS": "3600",
        "BACKUP_DIR": "/app/backups"}, env_file=None)
    assert settings.mongo_uri is not None
    assert settings.mongo_uri.reveal() == "mongodb://admin:pw@mongo:27017/"
    assert settings.api_health_url == ["http://api:3001/health", "http://web/health"]
    assert settings.backup_databases == ["alaweal_db", "shop"]
    assert settings.backup_time == time(2, 30)
    assert str(settings.backup_timezone) == "Asia/Riyadh"
    assert settings.enable_auto_backup is False
    assert settings.sample_interval_seconds == 3600
    assert settings.backup_dir == Path("/app/backups")


def test_env_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("SAMPLE_INTERVAL_SECONDS=10\nBACKUP_TIME=04:15\n")
    settings = load_settings({"BACKUP_TIME": "05:00"}, env_file=env_file)
    assert settings.sample_interval_seconds == 10
    assert settings.backup_time == time(5, 0)


BAD = [
    ("BACKUP_TIME", "25:99", "HH:MM"),
    ("BACKUP_TIME", "3am", "HH:MM"),
    ("SAMPLE_INTERVAL_SECONDS", "0", "from 1 to 3600"),
    ("SAMPLE_INTERVAL_SECONDS", "3601", "from 1 to 3600"),
    ("SAMPLE_INTERVAL_SECONDS", "five", "whole number"),
    ("MONGO_URI", "http://x", "mongodb://"),
    ("MONGO_URI", "mongodb://user:pw@", "host"),
    ("REDIS_URL", "localhost:6379", "redis://"),
    ("REDIS_URL", "redis://h:notaport/0", "Port could not be cast to integer"),
    ("REDIS_URL", "redis://h:99999/0", "Port out of range"),
    ("MONGO_URI", "mongodb://mongo:99999/", "Port must be an integer between 0 and 65535"),
    ("MONGO_URI", "mongodb://ops:pa/ss@mongo:27017/", "/ as %2F"),
    ("API_HEALTH_URL", "ftp://api/health", "http://"),
    ("BACKUP_TIMEZONE", "Mars/Olympus", "IANA time zone"),
    ("ENABLE_AUTO_BACKUP", "maybe", "true or false"),
    ("BACKUP_RETENTION_DAYS", "-1", "whole number of days"),
    ("METRICS_RETENTION_DAYS", "0", "whole number of days"),
    ("BACKUP_GZIP_LEVEL", "10", "from 1 to 9"),
    ("BACKUP_DATABASES", "a/b", "database names"),
]


@pytest.mark.parametrize(("name", "value", "expected"), BAD)
def test_bad_value_names_setting_value_and_form(name: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({name: value}, env_file=None)
    message = str(caught.value)
    assert message.startswith(f"{name}=")
    assert expected in message
    assert "\n" not in message


def test_password_is_masked_in_the_error() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"MONGO_URI": "mongodb://admin:hunter2@"}, env_file=None)
    assert "hunter2" not in str(caught.value)
    assert "admin:***@" in str(caught.value)


def test_a_uri_the_driver_rejects_is_refused_without_its_password() -> None:
    for name, value in (("MONGO_URI", "mongodb://ops:s3cr/et@mongo:27017/"),
                        ("MONGO_URI", "mongodb://ops:s3cret@mongo:99999/"),
                        ("REDIS_URL", "redis://:s3cret@cache:notaport/0")):
        with pytest.raises(SettingsError) as caught:
            load_settings({name: value}, env_file=None)
        assert "s3cr" not in str(caught.value) and "\n" not in str(caught.value)
        assert "the driver accepts" in str(caught.value)


def test_secrets_print_masked() -> None:
    settings = load_settings({"MONGO_URI": "mongodb://admin:hunter2@mongo/",
                              "OPS_ADMIN_PASSWORD": "letmein", "OPS_API_TOKEN": "t0ken"},
                             env_file=None)
    shown = f"{settings} {settings!r} {settings.mongo_uri}"
    for secret in ("hunter2", "letmein", "t0ken"):
        assert secret not in shown
    assert str(settings.mongo_uri) == "mongodb://admin:***@mongo/"
    assert Secret("x") == Secret("x")


def test_secret_urls_show_user_and_host_not_the_password() -> None:
    assert str(Secret("redis://:pw@redis:6379/0")) == "redis://:***@redis:6379/0"
    assert str(Secret("mongodb://u:p@a,b/")) == "mongodb://u:***@a,b/"
    assert str(Secret("mongodb://a/")) == "mongodb://a/"
    assert str(Secret("redis://redis:6379/0?password=pw")) == "redis://redis:6379/0?password=***"
    assert str(Secret("letmein")) == "***" and repr(Secret("letmein")) == "Secret('***')"


@pytest.mark.parametrize("module", ["collector", "ops"])
def test_program_stops_with_exit_2_and_one_line(module: str, tmp_path: Path) -> None:
    args = [sys.executable, "-m", module] + (["samples"] if module == "ops" else [])
    env = {"PATH": "/usr/bin:/bin", "BACKUP_TIME": "25:99", "OPS_DATA_DIR": str(tmp_path)}
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: BACKUP_TIME='25:99' is invalid: expected HH:MM "
                                     "on a 24-hour clock, e.g. 03:00 or 02:30")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "ops.sqlite3").exists(), "nothing happens before settings are valid"


@pytest.mark.parametrize("module", ["collector", "ops"])
def test_an_env_file_that_is_not_utf8_stops_with_one_line(module: str, tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"BACKUP_TIME=03:00\nMONGO_URI=mongodb://u:p\xe9@h/\n")
    args = [sys.executable, "-m", module] + (["samples"] if module == "ops" else [])
    env = {"PATH": "/usr/bin:/bin", "OPS_DATA_DIR": str(tmp_path / "data"),
           "PYTHONPATH": str(ROOT)}
    result = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == ("error: .env: not UTF-8 text (byte 0xe9 at offset 41): "
                                     "save it as UTF-8")
    assert not (tmp_path / "data").exists()


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for setting in SETTINGS:
        assert re.search(rf"`{setting.name}`", readme), f"{setting.name} missing from README"
