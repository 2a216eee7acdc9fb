"""Command line: ``python -m devservices up|fetch``.

up     start Kafka and PostgreSQL, print ``export`` lines (and write them to
       ``--env-file``), run until SIGINT/SIGTERM, then stop both and delete their
       temp dirs and the env file.
fetch  download the Kafka jars into the cache only (CI cache warm-up).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from devservices.fetch import KAFKA_VERSION, fetch_kafka
from devservices.kafka import KafkaService
from devservices.postgres import PostgresService
from devservices.process import ServiceError, with_log


def _pairs(items: list[str]) -> dict[str, str]:
    """Turn repeated KEY=VALUE options into a dict."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"expected KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devservices",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("fetch", help="download the Kafka jars into the cache")
    fetch.add_argument("--kafka-version", default=KAFKA_VERSION)
    up = sub.add_parser("up", help="run Kafka and PostgreSQL until Ctrl-C / SIGTERM")
    up.add_argument("--kafka-version", default=KAFKA_VERSION)
    up.add_argument("--no-kafka", action="store_true", help="do not start Kafka")
    up.add_argument("--no-postgres", action="store_true", help="do not start PostgreSQL")
    up.add_argument("--kafka-property", action="append", default=[], metavar="KEY=VALUE")
    up.add_argument("--pg-setting", action="append", default=[], metavar="KEY=VALUE")
    up.add_argument(
        "--env-file",
        type=Path,
        help="also write the export lines here once everything is ready (deleted at stop)",
    )
    return parser


def cmd_fetch(args: argparse.Namespace) -> int:
    """Fetch the Kafka jars, report where and how long it took."""
    began = time.monotonic()
    lib = fetch_kafka(args.kafka_version)
    print(f"Kafka {args.kafka_version} jars in {lib} ({time.monotonic() - began:.1f} s)")
    return 0


def _build(args: argparse.Namespace) -> tuple[KafkaService | None, PostgresService | None]:
    """Create (not start) the requested services."""
    pg = None if args.no_postgres else PostgresService(settings=_pairs(args.pg_setting))
    kafka = None
    if not args.no_kafka:
        kafka = KafkaService(
            version=args.kafka_version, extra_properties=_pairs(args.kafka_property)
        )
    return kafka, pg


def _start(kafka: KafkaService | None, pg: PostgresService | None) -> None:
    """Start PostgreSQL (fast) first, then Kafka; report progress on stderr."""
    if pg is not None:
        pg.start()
        print(f"PostgreSQL ready: {pg.dsn} (data in {pg.base_dir})", file=sys.stderr)
    if kafka is not None:
        kafka.start()
        print(
            f"Kafka {kafka.version} ready: {kafka.bootstrap} in {kafka.last_startup_seconds:.1f} s "
            f"(logs in {kafka.log_file})",
            file=sys.stderr,
        )


def _exports(kafka: KafkaService | None, pg: PostgresService | None) -> str:
    lines = []
    if kafka is not None:
        lines.append(f"export SITEMON_KAFKA_BOOTSTRAP={kafka.bootstrap}")
    if pg is not None:
        lines.append(f"export SITEMON_PG_DSN={pg.dsn}")
    return "\n".join(lines) + "\n"


def _write_env_file(path: Path, text: str) -> None:
    # Write-then-rename: a script polling for the file never reads half of it.
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _interrupt(signum: int, frame: object) -> None:
    # SIGTERM behaves like Ctrl-C so the finally-blocks stop the services.
    raise KeyboardInterrupt


def _wait_until_interrupted(kafka: KafkaService | None) -> int:
    """Block until SIGINT/SIGTERM (0) or until the broker dies (1)."""
    try:
        while kafka is None or kafka.running:
            time.sleep(1.0)
    except KeyboardInterrupt:
        return 0
    print(with_log("Kafka exited unexpectedly", kafka.stdout_file, kafka.log_file), file=sys.stderr)
    return 1


def cmd_up(args: argparse.Namespace) -> int:
    """Start the services, publish their addresses, wait, then clean up."""
    signal.signal(signal.SIGTERM, _interrupt)
    # Explicitly: a job started with `&` from a script inherits SIGINT ignored, and Python
    # then installs no KeyboardInterrupt handler, so `kill -INT` would do nothing.
    signal.signal(signal.SIGINT, _interrupt)
    kafka, pg = _build(args)
    env_file: Path | None = None
    try:
        _start(kafka, pg)
        text = _exports(kafka, pg)
        sys.stdout.write(text)
        sys.stdout.flush()
        if args.env_file:
            _write_env_file(args.env_file, text)
            env_file = args.env_file
        return _wait_until_interrupted(kafka)
    except ServiceError as exc:
        print(f"devservices: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        # A second Ctrl-C must not abort the clean-up half way.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for service in (kafka, pg):
            if service is not None:
                service.cleanup()
        if env_file is not None:
            # Its addresses are dead now: a later `. ./.services.env` must fail loudly
            # (no file) rather than point the tools at ports something else may hold.
            env_file.unlink(missing_ok=True)
        print("devservices: stopped", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m devservices``."""
    args = _parser().parse_args(argv)
    return cmd_fetch(args) if args.command == "fetch" else cmd_up(args)


if __name__ == "__main__":
    sys.exit(main())
