"""``python -m benchmarks [--quick] [--runs N] [scenario ...]`` (``nox -s bench -- ...``).

Scenarios: scanner_peak, schedule_fidelity, consumer_throughput, end_to_end, alert_latency,
blackbox, history_retention, catalogue_failover, web_reads (default: all, in that order).
Kafka and PostgreSQL come from devservices and start once (catalogue_failover uses
SITEMON_KAFKA_BOOTSTRAP when it is set).
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.farm import Farm
from benchmarks.system import uptime_line

SCENARIOS = [
    "scanner_peak",
    "schedule_fidelity",
    "consumer_throughput",
    "end_to_end",
    "alert_latency",
    "blackbox",
    "history_retention",
    "catalogue_failover",
    "web_reads",
    "small_catalogues",
]


def only_texts(raw: str) -> list[str]:
    """``--only``'s comma-separated texts; a comma before exactly three digits is a
    thousands separator, so ``"aiohttp 1,000 sites,curl"`` is two texts, not three."""
    parts = re.split(r",(?!\d{3}(?:\D|$))", raw)
    return [part.strip() for part in parts if part.strip()]


class Context:
    """What scenarios share: options, the farm, and Kafka/PostgreSQL started on demand."""

    def __init__(self, args: argparse.Namespace, farm: Farm) -> None:
        self.quick: bool = args.quick
        self.runs: int = args.runs or (1 if args.quick else 3)
        self.want_kafka: bool = not args.no_kafka
        self.only = only_texts(args.only or "")
        self.farm = farm
        self._kafka: Any = None
        self._kafka_starting: Any = None
        self._postgres: Any = None

    def wanted(self, variant: str) -> bool:
        """Whether ``--only`` selects this variant (everything without ``--only``)."""
        return not self.only or any(part in variant for part in self.only)

    def start_kafka_in_background(self) -> None:
        """Quick mode: let the broker boot while the first scenarios run."""
        import threading

        from devservices.kafka import KafkaService

        report.progress("starting Kafka (devservices) in the background")
        service = KafkaService()
        self._kafka_starting = threading.Thread(target=service.start, daemon=True)
        self._kafka_starting.start()
        self._kafka = service

    def kafka_bootstrap(self) -> str:
        """The bootstrap address of the devservices Kafka (started on first use)."""
        if self._kafka_starting is not None:
            self._kafka_starting.join()
            self._kafka_starting = None
            if not self._kafka.running:
                raise RuntimeError("Kafka did not start")
        if self._kafka is None:
            from devservices.kafka import KafkaService

            report.progress("starting Kafka (devservices)")
            self._kafka = KafkaService().start()
        return str(self._kafka.bootstrap)

    def kafka_pid(self) -> int | None:
        """The broker's process id."""
        proc = getattr(self._kafka, "_proc", None)
        return proc.pid if proc is not None else None

    def new_topic(self, prefix: str, partitions: int = 6) -> str:
        """A fresh topic on the devservices Kafka."""
        from benchmarks.services import create_topic

        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        create_topic(self.kafka_bootstrap(), name, partitions)
        return name

    def postgres(self) -> Any:
        """The devservices PostgreSQL (durable defaults; started on first use)."""
        if self._postgres is None:
            from devservices.postgres import PostgresService

            report.progress("starting PostgreSQL (devservices, default durable settings)")
            self._postgres = PostgresService().start()
        return self._postgres

    def close(self) -> None:
        """Stop what was started."""
        if self._kafka is not None:
            self._kafka.cleanup()
        if self._postgres is not None:
            self._postgres.cleanup()


def main(argv: list[str] | None = None) -> int:
    """Run the chosen scenarios; print tables; write bench-results/*.json."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "scenarios", nargs="*", choices=[[], *SCENARIOS], default=[], metavar="scenario"
    )
    parser.add_argument("--quick", action="store_true", help="every scenario at small scale")
    parser.add_argument("--runs", type=int, help="repetitions (default 3, quick 1)")
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    parser.add_argument("--no-kafka", action="store_true", help="skip the +kafka variants")
    parser.add_argument(
        "--only",
        metavar="TEXT",
        help="scanner_peak / schedule_fidelity / small_catalogues: only variants whose name "
        "contains one of these comma-separated texts",
    )
    args = parser.parse_args(argv)
    chosen = args.scenarios or SCENARIOS
    began = time.monotonic()
    report.progress(
        f"benchmarks {' '.join(chosen)} ({'quick' if args.quick else 'full'}); {uptime_line()}"
    )
    farm = Farm().start()
    ctx = Context(args, farm)
    report.progress(
        f"farm: {farm.kind}, http ports {farm.http_ports}, https ports {farm.https_ports}"
    )
    needs_kafka = {"consumer_throughput", "end_to_end", "alert_latency"} & set(chosen) or (
        "scanner_peak" in chosen and ctx.want_kafka
    )
    if args.quick and needs_kafka:
        ctx.start_kafka_in_background()
    try:
        for name in chosen:
            module = importlib.import_module(f"benchmarks.{name}")
            started = time.monotonic()
            load_before = uptime_line()
            data = module.run(ctx)
            meta = {
                "command": " ".join(["python -m benchmarks", *(argv or sys.argv[1:])]),
                "only": args.only,
                "quick": args.quick,
                "runs": ctx.runs,
                "uptime_before": load_before,
                "seconds": round(time.monotonic() - started, 1),
            }
            path = report.write(args.out, name, data, meta)
            report.progress(f"{name} done in {meta['seconds']} s -> {path}")
    finally:
        farm.stop()
        ctx.close()
    report.progress(f"all done in {time.monotonic() - began:.0f} s; {uptime_line()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
