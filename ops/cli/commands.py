"""`python -m ops COMMAND`: the commands admins run by hand or from scripts.

Commands are declared as data (name, help) so the README and the tests read one list.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass

from ops.config import Settings
from ops.permissions import keep_private, tighten
from ops.redaction import clean
from ops.startup import settings_or_exit, setup_logging
from ops.storage import StoreError

log = logging.getLogger("ops.cli")


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    run: Callable[[Settings, argparse.Namespace], int]
    arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None


def _up(settings: Settings, args: argparse.Namespace) -> int:
    from ops.cli.launcher import run_together

    return run_together(settings, port=args.port, address=args.address)


def _up_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8501, help="dashboard port (8501)")
    parser.add_argument("--address", default="127.0.0.1",
                        help="address the dashboard listens on (127.0.0.1)")


def _samples(settings: Settings, args: argparse.Namespace) -> int:
    from ops.clock import iso_ms
    from ops.storage import Store

    store = Store(settings.database_path)
    span = store.time_span()
    heartbeat = store.heartbeat()
    json.dump({"database": str(settings.database_path), "samples": store.sample_count(),
               "first": iso_ms(span[0]) if span else None,
               "last": iso_ms(span[1]) if span else None,
               "collector_last_tick": iso_ms(heartbeat.last_tick_ts) if heartbeat else None},
              sys.stdout, indent=2)
    print()
    return 0


def _backup(settings: Settings, args: argparse.Namespace) -> int:
    from ops.backup.commands import request_backup

    return request_backup(settings, wait=args.wait, again=args.again)


def _drill(settings: Settings, args: argparse.Namespace) -> int:
    from ops.backup.commands import request_drill

    return request_drill(settings, args.backup, wait=args.wait)


def _job_arguments(verb: str, failing: str) -> Callable[[argparse.ArgumentParser], None]:
    """The arguments of a job the collector runs about one backup: drill, copy."""
    def arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("backup", metavar="ID|FILE", nargs="?",
                            help=f"the backup to {verb} (default: the newest good one)")
        parser.add_argument("--wait", action="store_true",
                            help=f"follow the {verb} to its end; exit 1 when {failing}")

    return arguments


def _backups(settings: Settings, args: argparse.Namespace) -> int:
    from ops.backup.commands import list_command, remote_command

    if args.remote:
        return remote_command(settings, as_json=args.json)
    return list_command(settings, as_json=args.json)


def _verify(settings: Settings, args: argparse.Namespace) -> int:
    from ops.backup.commands import verify_command

    return verify_command(settings, args.backup)


def _restore(settings: Settings, args: argparse.Namespace) -> int:
    from ops.backup.commands import restore_command

    return restore_command(settings, args.backup, args.to_db, args.drop, args.from_db)


def _prune(settings: Settings, args: argparse.Namespace) -> int:
    from ops.backup.commands import prune_command

    return prune_command(settings)


def _backup_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait", action="store_true",
                        help="follow the backup to its end; exit 1 when it fails")
    parser.add_argument("--again", action="store_true",
                        help="take another backup even if one finished less than a minute "
                        "ago (without it, that one is the answer)")


def _backups_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the list as JSON")
    parser.add_argument("--remote", action="store_true",
                        help="list what each BACKUP_COPY_URLS target holds instead")


def _copy(settings: Settings, args: argparse.Namespace) -> int:
    from ops.backup.commands import request_copy

    return request_copy(settings, args.backup, wait=args.wait)




def _target_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("backup", metavar="ID|FILE",
                        help="a backup id (mongo-20261127T030000Z) or an archive file")


def _restore_arguments(parser: argparse.ArgumentParser) -> None:
    _target_argument(parser)
    parser.add_argument("--to-db", required=True, metavar="NAME",
                        help="database to restore into")
    parser.add_argument("--drop", action="store_true",
                        help="drop the target's collections first (needed when it has data); "
                        "a safety backup of them is written and verified before, and the "
                        "restore is refused if it fails")
    parser.add_argument("--from-db", metavar="NAME",
                        help="which database of the archive, when it holds several")


def _status(settings: Settings, args: argparse.Namespace) -> int:
    """The seed's health JSON from the latest sample; exit 1 when it is not "OK"."""
    from ops.clock import now_ms
    from ops.report import OK, health_detailed
    from ops.snapshot import read_snapshot
    from ops.storage import Store
    from ops.watching import as_collector_watches

    store = Store(settings.database_path)
    settings, differ = as_collector_watches(settings, store)
    if differ is not None:
        print(differ, file=sys.stderr)
    health = health_detailed(read_snapshot(store, now_ms()), settings)
    json.dump(health, sys.stdout, indent=2)
    print()
    return 0 if health.get("status") == OK else 1


def _heartbeat(settings: Settings, args: argparse.Namespace) -> int:
    """Exit 0 when the collector's last tick is younger than three intervals (healthcheck)."""
    from ops.clock import now_ms
    from ops.heartbeat import collector_state
    from ops.storage import Store

    state = collector_state(Store(settings.database_path), settings, now_ms())
    print(state.message, file=sys.stdout if state.running else sys.stderr)
    return 0 if state.running else 1


def _silence(settings: Settings, args: argparse.Namespace) -> int:
    from ops.alerts.commands import silence_command

    return silence_command(settings, args.duration, args.target, end=args.end)


def _silence_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("duration", nargs="?", help="how long, e.g. 30m, 2h, 1d (at most 7d); "
                        "without it: list the silences in force")
    parser.add_argument("target", nargs="?", help="one rule (memory_high) or service (redis, "
                        "cache, host, collector); default: every alert")
    parser.add_argument("--end", metavar="ID|all", help="end a silence (or all) now")


COMMANDS: tuple[Command, ...] = (
    Command("up", "run the collector and the dashboard together (first run)", _up,
            _up_arguments),
    Command("samples", "how many samples the store holds, and the collector's last tick",
            _samples),
    Command("backup", "request a backup now (the collector runs it)", _backup,
            _backup_arguments),
    Command("backups", "list the backups in BACKUP_DIR", _backups, _backups_arguments),
    Command("copy", "copy a backup to every BACKUP_COPY_URLS target now (the collector runs "
            "it; it also does after each backup)", _copy,
            _job_arguments("copy", "a target failed")),
    Command("drill", "restore drill (the collector runs it): restore a backup into a scratch "
            "database, compare it with the backup, drop it", _drill,
            _job_arguments("drill", "it fails")),
    Command("verify", "check a backup: sha256, gzip, archive structure, CRCs, documents",
            _verify, _target_argument),
    Command("restore", "restore one database of a backup into --to-db", _restore,
            _restore_arguments),
    Command("prune", "delete backups older than BACKUP_RETENTION_DAYS (never the newest good "
            "one)", _prune),
    Command("status", "health of every service as JSON (the seed's health/detailed shape); "
            "exit 1 unless OK", _status),
    Command("heartbeat", "exit 0 when the collector sampled within three intervals, else 1 "
            "(container healthcheck)", _heartbeat),
    Command("silence", "maintenance window: send no alert (or none of one rule or service) "
            "for a while; everything is still recorded", _silence, _silence_arguments),
)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m ops", description="Backups, status and the first run of the ops "
        "dashboard (from a shell without its environment: ./run ops COMMAND).")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        sub = commands.add_parser(command.name, help=command.help, description=command.help)
        command.arguments(sub)
        sub.set_defaults(run=command.run)
    return top


def main(argv: list[str] | None = None) -> int:
    keep_private()  # before anything is written: the store, a job, `up`'s two children
    args = parser().parse_args(argv)
    settings = settings_or_exit()
    setup_logging()
    # What an older version left readable by others; quiet: a command's stderr is its
    # answer (one line), and the collector logs what it finds at its start.
    tighten(settings, quiet=True)
    try:
        return int(args.run(settings, args))
    except StoreError as err:  # the history file is not ours to use: a setting to fix
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # the program's edge: a bug or a fault nobody caught below
        log.debug("command %s failed", args.command, exc_info=True)
        print(f"error: {clean(err)}", file=sys.stderr)
        return 1
