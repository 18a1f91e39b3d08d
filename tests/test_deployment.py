"""Deployment: Dockerfile, .dockerignore, docker-compose.yml and .env.example.

No Docker engine is needed. Debian's docker-compose validates and resolves the compose
file. The image is checked by building the environment the Dockerfile describes: a fresh
virtual environment with requirements.txt only, the files its COPY lines copy (minus
.dockerignore) in an /app-like directory, the volumes owned by a non-root user; then the
image's own command lines (CMD, HEALTHCHECK, the collector's command and healthcheck from
docker-compose.yml) run there as that user against real servers.

`python -m tests.test_deployment` rewrites .env.example from ops.config.SETTINGS.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from ops.cli.commands import COMMANDS
from ops.config import SETTINGS, load_settings
from tests.servers import HealthServer, free_port

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"

SERVICES = {"mongo", "redis", "ops-collector", "ops-dashboard"}
SEED_VOLUMES = {"mongo_data", "mongo_config", "redis_data", "backup_data"}
SECRET_SETTINGS = {s.name for s in SETTINGS if s.secret}
SECRET_LOOKING = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|KEY|CREDENTIAL|_URI$|_URL$")
# Variables docker-compose.yml reads besides the settings: (default, meaning).
COMPOSE_VARIABLES = {
    "OPS_DASHBOARD_PORT": ("8501", "Host port of the dashboard; published on 127.0.0.1 only."),
    "TZ": ("UTC", "Time zone of the ops containers (log times; BACKUP_TIMEZONE if unset)."),
    "DOCKER_GID": ("999", ("Group owning /var/run/docker.sock on the host (getent group "
                           "docker), given to the collector so it can read the containers; "
                           "see the README: the socket is root-equivalent.")),
    "OPS_DOCKER_HOST": ("", ("Docker Compose only: the collector's DOCKER_HOST, e.g. "
                             "tcp://docker-proxy:2375 (compose reads DOCKER_HOST for its own "
                             "engine); unset: the mounted socket.")),
}
PYTHON_PROBE = "import sys, venv; print('%d.%d' % sys.version_info[:2]); print(sys.base_prefix)"
# What docker-compose.yml gives a setting instead of `${NAME:-the program's default}`.
IN_COMPOSE = {
    "MONGO_URI": "${MONGO_URI:-mongodb://mongo:27017/}",
    "REDIS_URL": "${REDIS_URL:-redis://redis:6379/0}",
    "OPS_DATA_DIR": "/app/data",
    "BACKUP_DIR": "/app/backups",
    # DOCKER_HOST in compose's own environment (or .env) points compose at an engine; the
    # collector's has a name of its own, so one never becomes the other.
    "DOCKER_HOST": "${OPS_DOCKER_HOST:-}",
}
SETTINGS_BLOCK = re.compile(r"^(x-ops-settings: &ops-settings\n(?:  #.*\n)*)((?:  \S.*\n)*)",
                            re.MULTILINE)
TEST_UID = 65534  # nobody: the image's user is another uid, but just as unprivileged


# --- the Dockerfile, read as instructions ---


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[Instruction]:
    """Instructions with continuation lines joined; comment lines dropped."""
    instructions, current = [], ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        keyword, _, args = (current + stripped).partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip()))
        current = ""
    return instructions


def instructions_of(keyword: str) -> list[str]:
    return [i.args for i in dockerfile_instructions() if i.keyword == keyword]


def dockerfile_base() -> str:
    """The image FROM names, `${BASE_IMAGE}` read as the ARG's default."""
    (base,) = instructions_of("FROM")[:1]
    args = dict(a.partition("=")[::2] for a in instructions_of("ARG"))
    return re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], base)


def exec_form(args: str) -> list[str]:
    """A JSON exec-form command (signals reach the process; no shell in between)."""
    argv = json.loads(args)
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv), args
    return argv


def dockerfile_env() -> dict[str, str]:
    env = {}
    for args in instructions_of("ENV"):
        for pair in shlex.split(args):
            name, equals, value = pair.partition("=")
            assert equals, f"ENV {args!r}: use the NAME=value form"
            env[name] = value
    return env


def dockerfile_cmd() -> list[str]:
    (args,) = instructions_of("CMD")[-1:]
    return exec_form(args)


def dockerfile_entrypoint() -> list[str]:
    """ENTRYPOINT (exec form) or nothing; the image runs it followed by CMD or command."""
    return [a for args in instructions_of("ENTRYPOINT")[-1:] for a in exec_form(args)]


def dockerfile_healthcheck() -> list[str]:
    (args,) = instructions_of("HEALTHCHECK")[-1:]
    options, cmd, command = args.partition("CMD ")
    assert cmd and all(o.startswith("--") for o in options.split()), args
    return exec_form(command)


def dockerfile_workdir() -> str:
    return instructions_of("WORKDIR")[-1]


# --- .dockerignore, matched as Docker does: last matching rule wins, parents count ---


def _pattern(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        else:
            out += {"*": "[^/]*", "?": "[^/]"}.get(pattern[i], re.escape(pattern[i]))
            i += 1
    return re.compile(out)


def dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for line in DOCKERIGNORE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keep = line.startswith("!")
            rules.append((keep, _pattern(os.path.normpath(line.lstrip("!").lstrip("/")))))
    return rules


def ignored(relative: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    parts = relative.split("/")
    paths = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for keep, pattern in rules:
        if any(pattern.fullmatch(p) for p in paths):
            result = not keep
    return result


def build_context() -> list[str]:
    """Files of the build context after .dockerignore, relative to the repository."""
    rules = dockerignore_rules()
    prune = not any(keep for keep, _ in rules)
    files = []
    for folder, dirs, names in os.walk(ROOT):
        rel = Path(folder).relative_to(ROOT).as_posix()
        prefix = "" if rel == "." else rel + "/"
        if prune:
            dirs[:] = [d for d in dirs if not ignored(prefix + d, rules)]
        files += [prefix + n for n in names if not ignored(prefix + n, rules)]
    return sorted(files)


# --- docker-compose.yml ---


def docker_compose() -> str:
    found = shutil.which("docker-compose") or "/usr/bin/docker-compose"
    if not Path(found).exists():
        pytest.skip("docker-compose is not installed (Debian package docker-compose; "
                    "./run test installs it)")
    return found


def compose_config(*options: str, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """`docker-compose [options] -f docker-compose.yml config`, resolved, as data."""
    binary = docker_compose()
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"),
           **(environ or {})}
    done = subprocess.run([binary, *options, "-f", str(COMPOSE_FILE), "config"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return yaml_as_data(binary, done.stdout)


def yaml_as_data(compose_binary: str, text: str) -> dict[str, Any]:
    """Parsed with the YAML library docker-compose itself runs on (its interpreter)."""
    shebang = Path(compose_binary).read_bytes()[:200].split(b"\n")[0].decode(errors="replace")
    interpreter = shebang[2:].strip().split()
    assert shebang.startswith("#!") and "python" in shebang, f"not a Python script: {shebang}"
    to_json = "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"
    done = subprocess.run([*interpreter, "-c", to_json], input=text, capture_output=True,
                          text=True, check=True, timeout=60)
    return dict(json.loads(done.stdout))


def compose_list(service: str, key: str) -> list[str]:
    """A flow list (`command: [...]`, healthcheck `test: [...]`) of a service, as written."""
    text = COMPOSE_FILE.read_text()
    block = re.search(rf"^  {re.escape(service)}:\n((?:(?:    .*)?\n)*)", text, re.MULTILINE)
    assert block, f"no service {service} in {COMPOSE_FILE.name}"
    line = re.search(rf"^\s+{key}: (\[.*\])\s*$", block[1], re.MULTILINE)
    assert line, f"{service} has no {key}: [...] line"
    return exec_form(line[1])


# --- .env.example, generated from the settings table ---


def compose_settings_block() -> str:
    """The `x-ops-settings` lines of docker-compose.yml: every setting, then TZ."""
    lines = [f"  {s.name}: " + IN_COMPOSE.get(s.name, f"${{{s.name}:-{s.default or ''}}}")
             for s in SETTINGS]
    return "\n".join([*lines, "  TZ: ${TZ:-UTC}"]) + "\n"


def compose_defaults() -> dict[str, str]:
    """NAME -> what docker-compose.yml gives it where that is not the program's default."""
    found = {}
    for name, value in IN_COMPOSE.items():
        substituted = re.fullmatch(r"\$\{\w+:-(.*)\}", value)
        found[name] = substituted[1] if substituted else f"{value} (fixed)"
    return found


def _comment(text: str) -> list[str]:
    words, lines, line = text.split(), [], "#"
    for word in words:
        if len(line) + 1 + len(word) > 88:
            lines.append(line)
            line = "#"
        line += " " + word
    return [*lines, line]


def render_env_example() -> str:
    in_compose = compose_defaults()
    out = _comment("Settings of the ops dashboard. Copy this file to .env: docker compose "
                   "reads it beside docker-compose.yml, and the programs read it from their "
                   "working directory (./run). The environment wins over the file. An empty "
                   "value means unset. Each value below is the program's default; "
                   "docker-compose.yml gives some settings another default, shown as "
                   "'docker-compose.yml:'.")
    out += ["# Regenerate from ops/config.py: .venv/bin/python -m tests.test_deployment", ""]
    for s in SETTINGS:
        out += _comment(s.help + (" Secret: keep this file private." if s.secret else ""))
        note = in_compose.get(s.name)
        if note is not None and note != (s.default or ""):
            out += [f"# docker-compose.yml: {note or 'unset'}"]
        out += [f"{s.name}={s.default or ''}", ""]
    out += ["# --- read by docker-compose.yml only ---", ""]
    for name, (default, meaning) in COMPOSE_VARIABLES.items():
        out += [*_comment(meaning), f"{name}={default}", ""]
    return "\n".join(out[:-1]) + "\n"


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, equals, value = line.partition("=")
            assert equals, f".env.example: {line!r} is not NAME=value"
            assert name.strip() not in values, f".env.example: {name} twice"
            values[name.strip()] = value.strip()
    return values


# --- static checks ---


def test_env_example_lists_every_setting_and_nothing_unknown() -> None:
    names = set(env_example())
    settings = {s.name for s in SETTINGS}
    fix = "; regenerate it: .venv/bin/python -m tests.test_deployment"
    assert settings - names == set(), f".env.example lacks {sorted(settings - names)}{fix}"
    unknown = names - settings - set(COMPOSE_VARIABLES)
    assert unknown == set(), f".env.example has unknown {sorted(unknown)}{fix}"


def test_env_example_values_are_the_defaults() -> None:
    values = env_example()
    for setting in SETTINGS:
        assert values[setting.name] == (setting.default or ""), setting.name
    for name, (default, _) in COMPOSE_VARIABLES.items():
        assert values[name] == default, name
    # A copy of it as .env changes nothing for ./run.
    assert load_settings({}, env_file=ENV_EXAMPLE) == load_settings({}, env_file=None)


def test_every_variable_of_the_compose_file_is_in_env_example() -> None:
    used = set(re.findall(r"\$\{(\w+)", COMPOSE_FILE.read_text()))
    assert used - set(env_example()) == set()
    assert set(COMPOSE_VARIABLES) <= used


def test_compose_passes_every_setting() -> None:
    block = SETTINGS_BLOCK.search(COMPOSE_FILE.read_text())
    assert block, "docker-compose.yml has no x-ops-settings block"
    assert block[2] == compose_settings_block(), (
        "the settings of docker-compose.yml differ from ops/config.py; regenerate them: "
        ".venv/bin/python -m tests.test_deployment")


def test_dockerfile_bakes_in_no_secrets() -> None:
    names = set(dockerfile_env()) | {a.split("=")[0] for a in instructions_of("ARG")}
    assert names & SECRET_SETTINGS == set()
    assert [n for n in names if SECRET_LOOKING.search(n)] == []
    assert [v for v in dockerfile_env().values() if re.search(r"://[^/]*@", v)] == []


def test_dockerfile_runs_as_a_non_root_user() -> None:
    keywords = [i.keyword for i in dockerfile_instructions()]
    users = instructions_of("USER")
    assert users, "no USER: the processes would run as root"
    assert users[-1].split(":")[0] not in ("root", "0")
    assert keywords.index("USER") < keywords.index("CMD")


def test_dockerfile_layers_and_settings() -> None:
    steps = [f"{i.keyword} {i.args}" for i in dockerfile_instructions()]

    def first(pattern: str) -> int:
        return next(n for n, step in enumerate(steps) if re.search(pattern, step))

    assert re.fullmatch(r"python:3\.11-slim\S*", dockerfile_base())
    # requirements.txt alone first, so the dependency layer is rebuilt only when it changes
    assert first(r"^COPY (--\S+ )*requirements\.txt ") < first(r"^RUN .*pip install .*-r "
                                                               r"requirements\.(txt|lock)") \
        < first(r"^COPY (--\S+ )*\. ")
    assert dockerfile_workdir() == "/app"
    env = dockerfile_env()
    assert {k: env.get(k) for k in ("OPS_DATA_DIR", "BACKUP_DIR", "PYTHONUNBUFFERED")} == {
        "OPS_DATA_DIR": "/app/data", "BACKUP_DIR": "/app/backups", "PYTHONUNBUFFERED": "1"}
    volumes = {v for args in instructions_of("VOLUME") for v in exec_form(args)}
    assert {env["OPS_DATA_DIR"], env["BACKUP_DIR"]} <= volumes


def test_dockerfile_commands() -> None:
    cmd = dockerfile_cmd()
    assert cmd[:3] == ["streamlit", "run", "streamlit_app.py"]
    assert cmd[cmd.index("--server.address") + 1] == "0.0.0.0"
    assert [cmd[cmd.index("--server.port") + 1]] == instructions_of("EXPOSE") == ["8501"]
    check = dockerfile_healthcheck()
    assert check[0] == "python" and "http://127.0.0.1:8501/_stcore/health" in " ".join(check)


def test_dockerignore_keeps_secrets_and_state_out_and_the_app_in() -> None:
    rules = dockerignore_rules()
    for path in (".env", ".env.production", ".git/config", ".venv/bin/python", "data/ops.sqlite3",
                 "data/.download-key", "backups/mongo-20261127T030000Z.archive.gz",
                 "ops/__pycache__/config.cpython-311.pyc", ".pytest_cache/v/cache",
                 "test-artifacts/page.png", "tests/test_store.py"):
        assert ignored(path, rules), path
    context = build_context()
    for needed in ("requirements.txt", "streamlit_app.py", ".streamlit/config.toml",
                   "ops/config.py", "ops/cli/commands.py", "collector/__main__.py",
                   "pages/overview.py"):
        assert needed in context, needed
    assert not [f for f in context if f.startswith((".git/", ".venv/", "data/"))]


# --- docker-compose ---


def test_compose_file_validates_and_has_the_stack() -> None:
    config = compose_config()
    services = config["services"]
    assert set(services) == SERVICES
    assert SEED_VOLUMES | {"ops_data"} <= set(config["volumes"])
    collector, dashboard = services["ops-collector"], services["ops-dashboard"]
    assert {"ops_data:/app/data:rw", "backup_data:/app/backups:rw"} <= set(collector["volumes"])
    assert "ops_data:/app/data:rw" in dashboard["volumes"]
    assert "backup_data:/app/backups:ro" in dashboard["volumes"]
    assert services["mongo"]["image"] == "mongo:7"
    assert {"mongo_data:/data/db:rw", "mongo_config:/data/configdb:rw"} <= set(
        services["mongo"]["volumes"])
    assert services["redis"]["volumes"] == ["redis_data:/data:rw"]
    assert all(s["restart"] == "unless-stopped" for s in services.values())
    assert all("healthcheck" in services[name] for name in ("mongo", "redis", "ops-collector"))
    # one image; the collector starts whatever state MongoDB is in
    assert collector["image"] == dashboard["image"]
    assert collector["build"]["context"] == dashboard["build"]["context"] == str(ROOT)
    assert "depends_on" not in collector
    assert collector["command"] == compose_list("ops-collector", "command")
    assert collector["healthcheck"]["test"] == compose_list("ops-collector", "test")
    assert collector["healthcheck"]["test"] == ["CMD", "python", "-m", "ops", "heartbeat"]
    assert "command" not in dashboard  # the image's CMD
    published = [p for s in services.values() for p in s.get("ports", [])]
    assert published == ["127.0.0.1:8501:8501/tcp"]


@pytest.mark.parametrize("env_file", ["empty", ".env.example"])
def test_compose_passes_the_programs_defaults(env_file: str, tmp_path: Path) -> None:
    path = ENV_EXAMPLE if env_file == ".env.example" else tmp_path / "empty.env"
    if not path.exists():
        path.write_text("")
    services = compose_config("--env-file", str(path))["services"]
    for name in ("ops-collector", "ops-dashboard"):
        environment = {k: str(v) for k, v in services[name]["environment"].items()}
        assert {s.name for s in SETTINGS} <= set(environment), name
        settings = load_settings(environment, env_file=None)
        assert settings.mongo_uri is not None
        assert settings.mongo_uri.reveal() == "mongodb://mongo:27017/"
        assert settings.redis_url is not None
        assert settings.redis_url.reveal() == "redis://redis:6379/0"
        assert (settings.ops_data_dir, settings.backup_dir) == (Path("/app/data"),
                                                               Path("/app/backups"))
        # everything else is the program's default
        default = load_settings({}, env_file=None)
        assert replace(settings, mongo_uri=None, redis_url=None,
                       ops_data_dir=default.ops_data_dir,
                       backup_dir=default.backup_dir) == default


def test_compose_takes_settings_from_the_environment() -> None:
    config = compose_config(environ={
        "OPS_DASHBOARD_PORT": "9001", "MONGO_URI": "mongodb://ops:pw@db.internal:27017/",
        "API_HEALTH_URL": "http://api:3001/api/monitoring/health/detailed"})
    environment = config["services"]["ops-collector"]["environment"]
    assert environment["MONGO_URI"] == "mongodb://ops:pw@db.internal:27017/"
    assert environment["API_HEALTH_URL"] == "http://api:3001/api/monitoring/health/detailed"
    assert config["services"]["ops-dashboard"]["ports"] == ["127.0.0.1:9001:8501/tcp"]


# --- the image's environment, built and run without an engine ---


def _open_to_others(path: Path) -> bool:
    """Every directory above `path` can be traversed by any user."""
    return all(os.stat(p).st_mode & 0o001 for p in [*path.resolve().parents])


def image_python(version: str) -> str:
    """A Python `version` whose files the unprivileged test user can read."""
    candidates = [getattr(sys, "_base_executable", sys.executable),
                  shutil.which(f"python{version}"), f"/usr/bin/python{version}"]
    for candidate in filter(None, candidates):
        if not Path(candidate).exists():
            continue
        probe = subprocess.run([candidate, "-c", PYTHON_PROBE], capture_output=True,
                               text=True, check=False)
        lines = probe.stdout.split()
        if probe.returncode == 0 and lines[:1] == [version] and (os.geteuid() != 0 or (
                _open_to_others(Path(candidate)) and _open_to_others(Path(lines[1]) / "x"))):
            return candidate
    pytest.skip(f"no Python {version} with venv that an unprivileged user can run")


@dataclass
class ImageEnvironment:
    """The image's filesystem in a directory: `rootfs`/app is the image's /app."""

    base: Path
    rootfs: Path
    workdir: Path
    env: dict[str, str]

    def as_user(self) -> list[str]:
        if os.geteuid() != 0:
            return []
        setpriv = shutil.which("setpriv")
        if setpriv:
            return [setpriv, f"--reuid={TEST_UID}", f"--regid={TEST_UID}", "--clear-groups"]
        return ["runuser", "-u", "nobody", "--"]

    def popen(self, argv: list[str], extra: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            return subprocess.Popen([*self.as_user(), *argv], cwd=self.workdir,
                                    env={**self.env, **extra}, stdout=out, stderr=out)

    def run(self, argv: list[str], extra: dict[str, str],
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.as_user(), *argv], cwd=self.workdir,
                              env={**self.env, **extra}, capture_output=True, text=True,
                              timeout=timeout, check=False)


def _in_rootfs(rootfs: Path, image_path: str, workdir: str) -> Path:
    absolute = image_path if image_path.startswith("/") else f"{workdir}/{image_path}"
    return rootfs / absolute.lstrip("/")


def _copy(sources: list[str], dest: Path, into_dir: bool) -> None:
    context = build_context()
    for source in sources:
        source = source.rstrip("/") if source not in (".", "./") else "."
        chosen = [f for f in context if source == "." or f == source
                  or f.startswith(source + "/")]
        assert chosen, f"COPY {source}: nothing in the build context"
        for rel in chosen:
            inner = rel if source == "." else (Path(rel).name if rel == source
                                               else rel[len(source) + 1:])
            target = dest / inner if into_dir or source == "." else dest
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, target)


def _pip_install(venv: Path, requirements: Path) -> None:
    done = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                           "--disable-pip-version-check", "-r", str(requirements)],
                          capture_output=True, text=True, check=False, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def _build(base: Path) -> ImageEnvironment:
    """Replay FROM (the Python version), COPY, the pip RUN, ENV, VOLUME and the user."""
    version = re.fullmatch(r"python:(\d+\.\d+)\S*", dockerfile_base())
    assert version, "FROM is not an official python image"
    venv, rootfs, workdir = base / "venv", base / "rootfs", dockerfile_workdir()
    subprocess.run([image_python(version[1]), "-m", "venv", str(venv)], check=True)
    for step in dockerfile_instructions():
        if step.keyword == "COPY":
            words = [w for w in shlex.split(step.args) if not w.startswith("--")]
            dest = _in_rootfs(rootfs, words[-1], workdir)
            _copy(words[:-1], dest, words[-1].endswith("/") or words[-1] in (".", "./"))
        elif step.keyword == "RUN" and (found := re.search(
                r"pip install .*-r (requirements\.(txt|lock))", step.args)):
            _pip_install(venv, _in_rootfs(rootfs, found[1], workdir))
    env = {k: str(_in_rootfs(rootfs, v, workdir)) if v.startswith(workdir) else v
           for k, v in dockerfile_env().items()}
    home = rootfs / "home" / "ops"
    for path in [home, *(_in_rootfs(rootfs, v, workdir) for args in instructions_of("VOLUME")
                         for v in exec_form(args))]:
        path.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            os.chown(path, TEST_UID, TEST_UID)
    env |= {"PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin", "HOME": str(home)}
    return ImageEnvironment(base, rootfs, _in_rootfs(rootfs, workdir, workdir), env)


@pytest.fixture(scope="module")
def image() -> Iterator[ImageEnvironment]:
    # Not under pytest's tmp_path: that is private to its owner, and the test user must
    # read the code and the virtual environment, as the image's user can.
    base = Path(tempfile.mkdtemp(prefix="ops-image-"))
    base.chmod(0o755)
    try:
        yield _build(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _seeded_database(uri: str) -> str:
    from pymongo import MongoClient

    name = f"deploy_{uuid.uuid4().hex[:8]}"
    with MongoClient(uri, serverSelectionTimeoutMS=5000) as client:
        client[name]["orders"].insert_many([{"_id": i, "total": i * 2.5} for i in range(20)])
    return name


def _stop(proc: subprocess.Popen[bytes], timeout: float = 10) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except (urllib.error.URLError, OSError) as error:  # nothing listens yet
        return 0, str(error)


def _until(condition: Any, timeout: float, what: str, proc: subprocess.Popen[bytes],
           log: Path) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        assert proc.poll() is None, f"exited {proc.returncode}:\n{log.read_text()[-3000:]}"
        time.sleep(0.3)
    raise AssertionError(f"{what} after {timeout} s:\n{log.read_text()[-3000:]}")


def _samples(image: ImageEnvironment, env: dict[str, str]) -> int:
    done = image.run(["python", "-m", "ops", "samples"], env)
    assert done.returncode == 0, done.stderr
    return int(json.loads(done.stdout)["samples"])


def collector_argv() -> list[str]:
    """What the collector container runs: ENTRYPOINT, then the service's command."""
    return [*dockerfile_entrypoint(), *compose_list("ops-collector", "command")]


def _dashboard_argv(port: int) -> tuple[list[str], list[str]]:
    """CMD and HEALTHCHECK of the Dockerfile, with port 8501 moved to `port`."""
    cmd = [str(port) if a == "8501" else a for a in dockerfile_entrypoint() + dockerfile_cmd()]
    check = [a.replace("127.0.0.1:8501/", f"127.0.0.1:{port}/")
             for a in dockerfile_healthcheck()]
    assert str(port) in cmd and f":{port}/" in " ".join(check)
    return cmd, check


@pytest.mark.timeout(900)
def test_image_runs_collector_and_dashboard_as_non_root(
        image: ImageEnvironment, shared_mongo: Any, redis_server: Any,
        health_server: HealthServer) -> None:
    database = _seeded_database(shared_mongo.uri)
    env = {"MONGO_URI": shared_mongo.uri, "REDIS_URL": redis_server.url,
           "API_HEALTH_URL": health_server.url, "BACKUP_DATABASES": database,
           "SAMPLE_INTERVAL_SECONDS": "1", "TZ": "Asia/Riyadh"}
    backups = Path(image.env["BACKUP_DIR"])
    port = free_port()
    cmd, check = _dashboard_argv(port)
    collector_log, dashboard_log = image.base / "collector.log", image.base / "dashboard.log"
    collector = image.popen(collector_argv(), env, collector_log)
    dashboard = None
    try:
        _until(lambda: "Watching:" in collector_log.read_text(), 60, "no start", collector,
               collector_log)
        _until(lambda: _samples(image, env) >= 2, 60, "fewer than 2 samples", collector,
               collector_log)
        # the catch-up backup of a first start, written by the unprivileged user
        _until(lambda: list(backups.glob("mongo-*.archive.gz.json")), 60, "no backup",
               collector, collector_log)
        dashboard = image.popen(cmd, env, dashboard_log)
        _until(lambda: _get(f"http://127.0.0.1:{port}/_stcore/health") == (200, "ok"), 90,
               "no /_stcore/health", dashboard, dashboard_log)
        status, body = _get(f"http://127.0.0.1:{port}/api/monitoring/health/detailed")
        assert status == 200, body
        health = json.loads(body)
        assert health["status"] == "OK"
        assert {k: v["status"] for k, v in health["services"].items()} == {
            "api": "UP", "database": "UP", "cache": "UP"}
        assert health["services"]["database"]["name"] == database
        assert image.run(check, env).returncode == 0
        assert _stop(dashboard) in (0, -signal.SIGTERM)
        assert image.run(check, env).returncode != 0  # nothing answers any more
    finally:
        stopped = _stop(collector)
        if dashboard is not None and dashboard.poll() is None:
            _stop(dashboard)
    log = collector_log.read_text()
    assert stopped == 0, log[-3000:]
    assert "Starting automated backup system..." in log
    assert "Scheduled daily backups (retention: 7 days)" in log
    assert "(00:00 UTC)" in log  # 03:00 in TZ=Asia/Riyadh
    assert re.search(r"Stopped after \d+ samples", log)
    (archive,) = backups.glob("mongo-*.archive.gz")
    assert archive.stat().st_uid == (TEST_UID if os.geteuid() == 0 else os.geteuid())
    assert json.loads(archive.with_name(archive.name + ".json").read_text())["status"] == "ok"


@pytest.mark.timeout(900)
def test_collector_healthcheck_follows_the_heartbeat(image: ImageEnvironment,
                                                     tmp_path: Path) -> None:
    if not any(command.name == "heartbeat" for command in COMMANDS):
        pytest.skip("`python -m ops heartbeat` (the collector's healthcheck in "
                    "docker-compose.yml) is not in ops/cli.py yet")
    check = compose_list("ops-collector", "test")
    assert check[0] == "CMD"
    data = image.base / f"heartbeat-{tmp_path.name}"
    data.mkdir()
    if os.geteuid() == 0:
        os.chown(data, TEST_UID, TEST_UID)
    env = {"OPS_DATA_DIR": str(data), "SAMPLE_INTERVAL_SECONDS": "1"}
    log = tmp_path / "collector.log"
    assert image.run(check[1:], env).returncode == 1  # no collector has ever run
    collector = image.popen(collector_argv(), env, log)
    try:
        _until(lambda: "Watching:" in log.read_text(), 60, "no start", collector, log)
        _until(lambda: _samples(image, env) >= 1, 60, "no sample", collector, log)
        assert image.run(check[1:], env).returncode == 0
    finally:
        stopped = _stop(collector)
    assert stopped == 0, log.read_text()[-3000:]
    time.sleep(3.5)  # three intervals of 1 s without a tick
    assert image.run(check[1:], env).returncode == 1


def write_generated() -> None:
    """.env.example and the settings block of docker-compose.yml, from ops.config.SETTINGS."""
    text = COMPOSE_FILE.read_text()
    block = SETTINGS_BLOCK.search(text)
    assert block, "docker-compose.yml has no x-ops-settings block"
    COMPOSE_FILE.write_text(text[: block.start(2)] + compose_settings_block()
                            + text[block.end(2):])
    ENV_EXAMPLE.write_text(render_env_example())
    print(f"wrote {COMPOSE_FILE.name} (x-ops-settings) and {ENV_EXAMPLE.name}")


if __name__ == "__main__":
    write_generated()
