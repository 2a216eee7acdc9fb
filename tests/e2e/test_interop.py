"""The wire format is the standard one: another Kafka client reads our topic and Apache
Avro's reference library decodes the single-object frames from the shipped .avsc."""

from __future__ import annotations

import asyncio
import io
import time
from datetime import UTC, datetime, timedelta

import avro.io
import avro.schema
from fastavro.schema import to_parsing_canonical_form
from kafka import KafkaConsumer

from sitemon_adapters.bus.kafka import KafkaConnection, KafkaStatusPublisher, ensure_topics
from sitemon_adapters.codec.avro import CURRENT_SCHEMA_FILE, load_schema
from sitemon_core.models import CheckResult, ErrorKind, PhaseTimings, new_check_id

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def sample(i: int) -> CheckResult:
    return CheckResult(
        check_id=new_check_id(),
        site_id=f"site-{i % 5}",
        url=f"https://s{i % 5}.test/ü",
        region="eu",
        started_at=T0 + timedelta(seconds=i, microseconds=7),
        ok=i % 3 == 0,
        total_ms=12.5 + i,
        status_code=None if i % 4 == 1 else 200,
        timings=PhaseTimings(connect_ms=1.5, ttfb_ms=3.25 if i % 2 else None),
        regex_matched=None if i % 2 else bool(i % 3),
        bytes_read=1000 + i,
        final_url=None,
        error_kind=ErrorKind.TIMEOUT if i % 4 == 1 else ErrorKind.NONE,
        error_message="timed out" if i % 4 == 1 else "",
    )


def read_with_kafka_python(
    bootstrap: str, topic: str, expected: int, timeout: float = 120.0
) -> list[tuple[bytes, bytes]]:
    """Poll until ``expected`` records were read (the records are all in the topic already:
    how long the first fetch takes on a busy machine decides nothing), then one more poll
    so that an extra record would be seen."""
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    records: list[tuple[bytes, bytes]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend((message.key, message.value) for message in batch)
        for batch in consumer.poll(timeout_ms=500).values():
            records.extend((message.key, message.value) for message in batch)
    finally:
        consumer.close()
    return records


async def test_a_foreign_client_and_the_reference_avro_library_read_our_records(
    kafka_bootstrap: str,
    names: dict[str, str],
) -> None:
    connection = KafkaConnection(bootstrap_servers=kafka_bootstrap)
    await ensure_topics(connection, [names["topic"]], partitions=1, replication_factor=1)
    results = [sample(i) for i in range(20)]
    async with KafkaStatusPublisher(connection, names["topic"]) as publisher:
        for result in results:
            await publisher.publish(result)
        await publisher.flush()
        assert publisher.stats.delivered == len(results)

    records = await asyncio.to_thread(
        read_with_kafka_python, kafka_bootstrap, names["topic"], len(results)
    )
    schema_text = CURRENT_SCHEMA_FILE.read_text(encoding="utf-8")
    reader = avro.io.DatumReader(avro.schema.parse(schema_text))
    fingerprint = avro.schema.parse(to_parsing_canonical_form(load_schema())).fingerprint(
        "CRC-64-AVRO"
    )
    assert len(records) == len(results)
    for (key, value), result in zip(records, results, strict=True):
        assert key == result.site_id.encode()
        assert value[:2] == b"\xc3\x01" and value[2:10] == fingerprint
        decoded = reader.read(avro.io.BinaryDecoder(io.BytesIO(value[10:])))
        assert decoded["check_id"] == result.check_id
        assert decoded["url"] == result.url
        assert decoded["status_code"] == result.status_code
        assert decoded["error_kind"] == result.error_kind.value
        assert decoded["timings"]["ttfb_ms"] == result.timings.ttfb_ms
        assert decoded["regex_matched"] == result.regex_matched
        started = decoded["started_at"]
        started = (
            started
            if isinstance(started, datetime)
            else (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=started))
        )
        assert started == result.started_at
