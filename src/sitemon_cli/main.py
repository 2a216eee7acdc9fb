"""``sitemon-run``: the command line. Parses arguments and hands over to a runner."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

import attrs

from sitemon_cli import entry, runners
from sitemon_cli.config import Config, load_config, require_sites
from sitemon_cli.logs import redact, setup_logging
from sitemon_core.errors import ConfigError, SitemonError

DEFAULT_CONFIG = Path("example_config/sitemon.yaml")
# Commands that stop gracefully on SIGTERM/SIGINT (their runners install handlers).
_GRACEFUL = frozenset({"standalone", "producer", "consumer", "demo", "targets"})
EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sitemon-run", description=__doc__)
    parser.add_argument(
        "--log-format",
        choices=("human", "json"),
        default=None,
        help="log format (default: from the config, else human)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("standalone", "scanner + persister in one process (embedded default)"),
        ("producer", "scanner: check sites and publish results to the bus"),
        ("consumer", "persister: store results from the bus in the repository"),
        ("check-config", "validate a config file and exit (2 when invalid)"),
        ("status", "print the latest status of every site"),
        ("init", "create the Kafka topics and apply database migrations"),
        ("migrate", "apply database migrations"),
    ):
        cmd = sub.add_parser(name, help=text, description=text)
        cmd.add_argument(
            "-c",
            "--config",
            type=Path,
            default=DEFAULT_CONFIG,
            help=f"config file (default: {DEFAULT_CONFIG})",
        )
        if name in ("standalone", "producer"):
            cmd.add_argument(
                "--shard",
                type=_shard,
                default=None,
                metavar="K/N",
                help="check only shard K of N of the sites (0-based)",
            )
            cmd.add_argument("--quiet", action="store_true", help="no log line per check")
            cmd.add_argument(
                "--workers",
                type=int,
                default=1,
                metavar="N",
                help="run N processes on disjoint shards (one per core)",
            )
        if name == "consumer":
            cmd.add_argument(
                "--workers",
                type=int,
                default=1,
                metavar="N",
                help="run N processes in one consumer group (one per core)",
            )
        if name in ("standalone", "producer", "consumer"):
            # Set by --workers for its children: metrics on port + K.
            cmd.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)
    targets = sub.add_parser("targets", help="serve the local target behaviours over HTTP")
    targets.add_argument("--host", default="127.0.0.1")
    targets.add_argument("--port", type=int, default=8080)
    demo = sub.add_parser("demo", help="monitor local demo targets (no internet needed)")
    demo.add_argument(
        "--duration",
        type=float,
        default=None,
        help="stop after this many seconds (default: until Ctrl-C)",
    )
    demo.add_argument("--db", type=Path, default=None, help="SQLite file (default: temporary)")
    return parser


def _shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected K/N, got {text!r}") from exc
    if not (n >= 1 and 0 <= k < n):
        raise argparse.ArgumentTypeError(f"need 0 <= K < N, got {text!r}")
    return k, n


def _dispatch(args: argparse.Namespace, config: Config) -> Coroutine[Any, Any, int]:
    if args.command == "standalone":
        return runners.run_scanner_process(
            config, with_persister=True, shard=args.shard, quiet=args.quiet
        )
    if args.command == "producer":
        return runners.run_scanner_process(
            config, with_persister=False, shard=args.shard, quiet=args.quiet
        )
    if args.command == "consumer":
        return runners.run_consumer_process(config)
    if args.command == "status":
        return runners.print_status(config)
    if args.command in ("init", "migrate"):
        return runners.run_setup(config, topics=args.command == "init")
    raise AssertionError(args.command)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``sitemon-run``; returns the process exit code."""
    args = _parser().parse_args(argv)
    if args.command not in _GRACEFUL:
        entry.restore_defaults()
    try:
        if args.command == "demo":
            from sitemon_cli.demo import run_demo

            setup_logging(args.log_format or "human")
            return asyncio.run(run_demo(duration_s=args.duration, db_path=args.db))
        if args.command == "targets":
            from sitemon_cli.demo import serve_targets

            setup_logging(args.log_format or "human")
            return asyncio.run(serve_targets(args.host, args.port))
        if args.command == "check-config":
            require_sites(load_config(args.config), args.command)  # a warning only
            return runners.check_config(args.config)
        config = _for_worker(load_config(args.config), getattr(args, "worker_index", 0))
        require_sites(config, args.command)
        if getattr(args, "workers", 1) > 1:
            return _run_workers(args, config)
        setup_logging(args.log_format or config.log_format, config.log_level)
        return _run(_dispatch(args, config))
    except ConfigError as exc:
        print(redact(f"config error: {exc}"), file=sys.stderr)
        return EXIT_CONFIG
    except SitemonError as exc:
        print(redact(f"error: {exc}"), file=sys.stderr)
        return 1


def _for_worker(config: Config, index: int) -> Config:
    """Worker ``index`` of ``--workers`` serves its metrics on the configured port + index."""
    if index and config.metrics_listen is not None:
        host, port = config.metrics_listen
        return attrs.evolve(config, metrics_listen=(host, port + index))
    return config


def _run_workers(args: argparse.Namespace, config: Config) -> int:
    from sitemon_cli.workers import run_workers

    global_options = ["--log-format", args.log_format] if args.log_format else []
    if args.command == "consumer":
        if config.bus != "kafka":
            raise ConfigError(
                str(config.source),
                "bus",
                "consumer --workers needs bus: kafka (its members share the topic's partitions)",
            )
        return run_workers(
            args.command, ["-c", str(args.config)], args.workers, global_options, sharded=False
        )
    if args.shard is not None:
        raise ConfigError("(command line)", "--workers", "cannot be combined with --shard")
    options = ["-c", str(args.config), *(["--quiet"] if args.quiet else [])]
    return run_workers(args.command, options, args.workers, global_options)


def _run(coro: Coroutine[Any, Any, int]) -> int:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


if __name__ == "__main__":
    sys.exit(main())
