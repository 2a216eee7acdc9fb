"""CPU per result of the Kafka side of a scanner and of a consumer, in one process.

    python -m benchmarks.publish_cost [--results 50000]

With ``SITEMON_KAFKA_BOOTSTRAP`` (the shared test Kafka) it publishes ``--results``
typical results (a successful HTTP check with every phase timing) through the real
``KafkaStatusPublisher`` into a fresh topic and flushes: process CPU (``getrusage``) per
result = Avro encode + aiokafka's batching, send and acknowledgement handling (the
issue's target: <= 40 us). Without Kafka only the codec parts are measured. Also, without
any broker: the codec's encode alone, its decode alone (bytes -> ``CheckResult``, what a
consumer does per row before the database) and the ``CheckResult`` construction alone. CPU
time, best of 3 for the in-memory parts, so a loaded box inflates them less than rates.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from benchmarks.system import self_cpu_s
from sitemon_adapters.codec.avro import AvroCheckResultCodec
from sitemon_core.models import CheckResult, PhaseTimings, new_check_id


def typical(i: int) -> CheckResult:
    """A successful check of site ``i`` as the HTTP probers make it."""
    return CheckResult(
        check_id=new_check_id(),
        site_id=f"site-{i}",
        url=f"http://127.0.0.1:8080/site/{i}",
        region="bench",
        started_at=datetime.now(UTC),
        ok=True,
        total_ms=3.2,
        status_code=200,
        timings=PhaseTimings(
            dns_ms=None, connect_ms=0.3, tls_ms=None, ttfb_ms=1.9, transfer_ms=0.1
        ),
        regex_matched=True,
        bytes_read=1017,
        final_url=f"http://127.0.0.1:8080/site/{i}",
    )


def _cpu_us_each(work: Callable[[], object], count: int) -> float:
    best = float("inf")
    for _ in range(3):
        cpu0 = self_cpu_s()
        work()
        best = min(best, self_cpu_s() - cpu0)
    return best / count * 1e6


async def _publish(bootstrap: str, topic: str, results: list[CheckResult]) -> float:
    from sitemon_adapters.bus.kafka import KafkaConnection, KafkaStatusPublisher

    async with KafkaStatusPublisher(KafkaConnection(bootstrap_servers=bootstrap), topic) as pub:
        for result in results[:1000]:  # warm-up: connections, metadata, first batches
            await pub.publish(result)
        await pub.flush()
        cpu0 = self_cpu_s()
        for result in results:
            await pub.publish(result)
        await pub.flush()
        return (self_cpu_s() - cpu0) / len(results) * 1e6


def main() -> None:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", type=int, default=50_000)
    args = parser.parse_args()
    count = args.results
    results = [typical(i) for i in range(count)]
    codec = AvroCheckResultCodec()
    encoded = [codec.encode(r) for r in results]
    figures = {
        "CheckResult construction": _cpu_us_each(lambda: [typical(i) for i in range(count)], count),
        "Avro encode": _cpu_us_each(lambda: [codec.encode(r) for r in results], count),
        "Avro decode to CheckResult": _cpu_us_each(
            lambda: [codec.decode(b) for b in encoded], count
        ),
    }
    bootstrap = os.environ.get("SITEMON_KAFKA_BOOTSTRAP")
    if bootstrap:
        from benchmarks.services import create_topic

        topic = f"bench-publish-{uuid.uuid4().hex[:8]}"
        create_topic(bootstrap, topic, 6)
        figures["publish (encode + aiokafka send + acks)"] = asyncio.run(
            _publish(bootstrap, topic, results)
        )
    print("| part | CPU µs per result |\n|---|---|")
    for name, value in figures.items():
        print(f"| {name} | {value:.1f} |")


if __name__ == "__main__":
    main()
