"""`python -m ops COMMAND`: the commands admins run by hand or from scripts.

Commands are declared as data (name, help) so the README and the tests read one list.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass

from ops.config import Settings
from ops.startup import settings_or_exit, setup_logging


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    run: Callable[[Settings, argparse.Namespace], int]
    arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None


def _up(settings: Settings, args: argparse.Namespace) -> int:
    from ops.launcher import run_together

    return run_together(settings, port=args.port, address=args.address)


def _up_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8501, help="dashboard port (8501)")
    parser.add_argument("--address", default="127.0.0.1",
                        help="address the dashboard listens on (127.0.0.1)")


def _samples(settings: Settings, args: argparse.Namespace) -> int:
    from ops.store import Store

    store = Store(settings.database_path)
    span = store.time_span()
    heartbeat = store.heartbeat()
    json.dump({"database": str(settings.database_path), "samples": store.sample_count(),
               "first_ts": span[0] if span else None, "last_ts": span[1] if span else None,
               "collector_last_tick_ts": heartbeat.last_tick_ts if heartbeat else None},
              sys.stdout, indent=2)
    print()
    return 0


COMMANDS: tuple[Command, ...] = (
    Command("up", "run the collector and the dashboard together (first run)", _up,
            _up_arguments),
    Command("samples", "how many samples the store holds, and the collector's last tick",
            _samples),
)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m ops", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        sub = commands.add_parser(command.name, help=command.help, description=command.help)
        command.arguments(sub)
        sub.set_defaults(run=command.run)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = settings_or_exit()
    setup_logging()
    return int(args.run(settings, args))
