"""The command table: every ``sitemon-run`` command, its options, its runner, and whether it
shuts down gracefully on SIGTERM/SIGINT (a runner that installs its own handlers).

A new command is one entry here; ``main`` parses, and dispatches through, this table alone.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import attrs

from sitemon_cli import runners
from sitemon_cli.auto_workers import AUTO, AUTO_MIN_CHECKS_PER_S, workers_value
from sitemon_cli.config import Config
from sitemon_cli.container import RunOptions
from sitemon_core.errors import ConfigError

DEFAULT_CONFIG = Path("example_config/sitemon.yaml")

# A runner gets the parsed arguments and the loaded config (None for commands without one)
# and returns the exit code, or a coroutine of it run on the event loop.
Runner = Callable[[argparse.Namespace, Config | None], int | Coroutine[Any, Any, int]]


@attrs.frozen
class Command:
    """One ``sitemon-run`` command."""

    name: str
    help: str
    run: Runner
    graceful: bool  # installs SIGTERM/SIGINT handlers: stops cleanly, exit 0
    options: tuple[Callable[[argparse.ArgumentParser], None], ...] = ()
    needs_config: bool = True  # loads ``-c`` before running
    workers: str | None = None  # "sharded" / "group": ``--workers N`` runs N such processes


def config_option(parser: argparse.ArgumentParser) -> None:
    """``-c/--config``."""
    parser.add_argument(
        "-c",
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        help=f"config file (default: {DEFAULT_CONFIG})",
    )


def scanner_options(parser: argparse.ArgumentParser) -> None:
    """``--shard K/N`` and ``--quiet``."""
    parser.add_argument(
        "--shard",
        type=_shard,
        default=None,
        metavar="K/N",
        help="check only shard K of N of the sites (0-based)",
    )
    parser.add_argument("--quiet", action="store_true", help="no log line per check")


def workers_option(
    help_text: str, default: int | str = 1
) -> Callable[[argparse.ArgumentParser], None]:
    """``--workers N|auto`` (and the hidden ``--worker-index`` it gives its children)."""

    def add(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--workers", type=workers_value, default=default, metavar="N", help=help_text
        )
        # Set by --workers for its children: metrics on port + K.
        parser.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)

    return add


def targets_options(parser: argparse.ArgumentParser) -> None:
    """Where ``targets`` listens."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)


def demo_options(parser: argparse.ArgumentParser) -> None:
    """``demo --duration S --db FILE``."""
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help="stop after this many seconds (default: until Ctrl-C)",
    )
    parser.add_argument("--db", type=Path, default=None, help="SQLite file (default: temporary)")


def _shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected K/N, got {text!r}") from exc
    if not (n >= 1 and 0 <= k < n):
        raise argparse.ArgumentTypeError(f"need 0 <= K < N, got {text!r}")
    return k, n


def _shape(name: str) -> Runner:
    def run(args: argparse.Namespace, config: Config | None) -> Coroutine[Any, Any, int]:
        options = RunOptions(
            shard=getattr(args, "shard", None), quiet=getattr(args, "quiet", False)
        )
        assert config is not None
        if options.shard is not None and config.sites_source == "kafka":
            raise ConfigError(
                "(command line)", "--shard", "cannot be combined with sites: {source: kafka}"
            )
        return runners.run_shape(config, name, options)

    return run


def sites_options(parser: argparse.ArgumentParser) -> None:
    """``sites apply -c FILE [--dry-run]`` and ``sites list -c FILE``."""
    sub = parser.add_subparsers(dest="sites_command", required=True, metavar="action")
    apply = sub.add_parser("apply", help="publish the file's sites (only what differs)")
    config_option(apply)
    apply.add_argument("--dry-run", action="store_true", help="print the diff, publish nothing")
    config_option(sub.add_parser("list", help="print the sites the catalogue topic holds"))


def _sites(args: argparse.Namespace, config: Config | None) -> Coroutine[Any, Any, int]:
    from sitemon_cli.catalogue import apply_sites, list_sites

    assert config is not None
    if args.sites_command == "apply":
        return apply_sites(config, dry_run=args.dry_run)
    return list_sites(config)


def _demo(args: argparse.Namespace, _config: Config | None) -> Coroutine[Any, Any, int]:
    from sitemon_cli.demo import run_demo

    return run_demo(duration_s=args.duration, db_path=args.db)


def _targets(args: argparse.Namespace, _config: Config | None) -> Coroutine[Any, Any, int]:
    from sitemon_cli.demo import serve_targets

    return serve_targets(args.host, args.port)


def _configured(run: Callable[[Config], Coroutine[Any, Any, int]]) -> Runner:
    def call(_args: argparse.Namespace, config: Config | None) -> Coroutine[Any, Any, int]:
        assert config is not None
        return run(config)

    return call


_SCANNER = (
    config_option,
    scanner_options,
    workers_option("run N processes on disjoint shards (one per core; auto: see README)"),
)
_PRODUCER = (
    config_option,
    scanner_options,
    workers_option(
        "run N processes on disjoint shards; default auto: one per core when the site list "
        f"offers at least {AUTO_MIN_CHECKS_PER_S:.0f} checks/s",
        default=AUTO,
    ),
)
COMMANDS = (
    Command(
        "standalone",
        "scanner + persister in one process (embedded default)",
        _shape("standalone"),
        graceful=True,
        options=_SCANNER,
        workers="sharded",
    ),
    Command(
        "producer",
        "scanner: check sites and publish results to the bus",
        _shape("producer"),
        graceful=True,
        options=_PRODUCER,
        workers="sharded",
    ),
    Command(
        "consumer",
        "persister: store results from the bus in the repository",
        _shape("consumer"),
        graceful=True,
        workers="group",
        options=(
            config_option,
            workers_option("run N processes in one consumer group (one per core)"),
        ),
    ),
    Command(
        "alerter",
        "alerter: open and resolve incidents from the results, send notifications",
        _shape("alerter"),
        graceful=True,
        workers="group",
        options=(
            config_option,
            workers_option("run N processes in one consumer group (one per core)"),
        ),
    ),
    Command(
        "web",
        "the status page, JSON API and badges, read from the repository",
        _shape("web"),
        graceful=True,
        options=(config_option,),
    ),
    Command(
        "check-config",
        "validate a config file and exit (2 when invalid)",
        lambda args, _config: runners.check_config(args.config),
        graceful=False,
        options=(config_option,),
        needs_config=False,
    ),
    Command(
        "status",
        "print the latest status of every site",
        _configured(runners.print_status),
        graceful=False,
        options=(config_option,),
    ),
    Command(
        "init",
        "create the Kafka topics and apply database migrations",
        _configured(lambda config: runners.run_setup(config, topics=True)),
        graceful=False,
        options=(config_option,),
    ),
    Command(
        "migrate",
        "apply database migrations",
        _configured(lambda config: runners.run_setup(config, topics=False)),
        graceful=False,
        options=(config_option,),
    ),
    Command(
        "sites",
        "the site catalogue on Kafka: apply a file's sites (prints the diff), list them",
        _sites,
        graceful=False,
        options=(sites_options,),
    ),
    Command(
        "demo",
        "monitor local demo targets (no internet needed)",
        _demo,
        graceful=True,
        options=(demo_options,),
        needs_config=False,
    ),
    Command(
        "targets",
        "serve the local target behaviours over HTTP",
        _targets,
        graceful=True,
        options=(targets_options,),
        needs_config=False,
    ),
)
BY_NAME = {command.name: command for command in COMMANDS}
