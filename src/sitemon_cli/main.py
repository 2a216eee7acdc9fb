"""The command line: parse, load the config, hand over to the command's runner."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Coroutine, Sequence
from typing import Any

import attrs

from sitemon_cli import early_signals
from sitemon_cli.auto_workers import resolve_workers
from sitemon_cli.commands import BY_NAME, COMMANDS, Command
from sitemon_cli.config import Config, load_config, require_sites
from sitemon_cli.logs import redact, setup_logging
from sitemon_core.errors import ConfigError, SitemonError

EXIT_CONFIG = 2
DESCRIPTION = """\
sitemon: a distributed website monitor. Scanners check sites and publish every result;
persisters store the latest status and the history. Without any service it runs embedded
(in-memory bus + SQLite): sitemon-run standalone -c example_config/sitemon.yaml
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sitemon-run", description=DESCRIPTION)
    parser.add_argument(
        "--log-format",
        choices=("human", "json"),
        default=None,
        help="log format (default: from the config, else human)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    for command in COMMANDS:
        cmd = sub.add_parser(command.name, help=command.help, description=command.help)
        for add_options in command.options:
            add_options(cmd)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``sitemon-run``; returns the process exit code."""
    args = _parser().parse_args(argv)
    command = BY_NAME[args.command]
    if not command.graceful:
        early_signals.restore_defaults()
    try:
        config = _load(command, args)
        if hasattr(args, "workers"):
            args.workers = resolve_workers(args.workers, config, getattr(args, "shard", None))
        if getattr(args, "workers", 1) > 1:
            return _run_workers(command, args, config)
        setup_logging(
            args.log_format or (config.log_format if config else "human"),
            config.log_level if config else "info",
        )
        outcome = command.run(args, config)
        return outcome if isinstance(outcome, int) else _run(outcome)
    except ConfigError as exc:
        print(redact(f"config error: {exc}"), file=sys.stderr)
        return EXIT_CONFIG
    except SitemonError as exc:
        print(redact(f"error: {exc}"), file=sys.stderr)
        return 1


def _load(command: Command, args: argparse.Namespace) -> Config | None:
    """The config of a command that needs one; worker K serves metrics on port + K, and only
    worker 0 serves the status page (the workers share one store: one page shows it all)."""
    if not command.needs_config:
        return None
    config = load_config(args.config)
    require_sites(config, command.name)
    index = getattr(args, "worker_index", 0)
    if index:
        config = attrs.evolve(config, web=attrs.evolve(config.web, enabled=False))
    if index and config.metrics_listen is not None:
        host, port = config.metrics_listen
        return attrs.evolve(config, metrics_listen=(host, port + index))
    return config


def _run_workers(command: Command, args: argparse.Namespace, config: Config | None) -> int:
    from sitemon_cli.workers import run_workers

    global_options = ["--log-format", args.log_format] if args.log_format else []
    if command.workers == "group":
        assert config is not None
        if config.bus != "kafka":
            raise ConfigError(
                config.source,
                "bus",
                f"{command.name} --workers needs bus: kafka "
                "(its members share the topic's partitions)",
            )
        return run_workers(
            command.name, ["-c", str(args.config)], args.workers, global_options, sharded=False
        )
    if args.shard is not None:
        raise ConfigError("(command line)", "--workers", "cannot be combined with --shard")
    options = ["-c", str(args.config), *(["--quiet"] if args.quiet else [])]
    # With the catalogue on Kafka the workers are members of one group: no shards.
    sharded = config is None or config.sites_source != "kafka"
    return run_workers(command.name, options, args.workers, global_options, sharded=sharded)


def _run(coro: Coroutine[Any, Any, int]) -> int:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


if __name__ == "__main__":
    sys.exit(main())
