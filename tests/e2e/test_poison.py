"""Poison messages go to the dead-letter topic with their reason; good records flow on."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from sitemon_adapters.bus.kafka import KafkaConnection, ensure_topics
from sitemon_adapters.codec.avro import AvroCheckResultCodec
from sitemon_core.models import CheckResult, new_check_id
from tests.e2e.conftest import consumer_config
from tests.e2e.procs import SitemonProcess, message_is, wait_until, write_config

T0 = datetime(2026, 11, 28, tzinfo=UTC)


def good(i: int) -> CheckResult:
    return CheckResult(
        check_id=new_check_id(),
        site_id=f"good-{i}",
        url="http://x.test/",
        region="e2e",
        started_at=T0 + timedelta(seconds=i),
        ok=True,
        total_ms=1.0,
        status_code=200,
    )


def poison_payloads(codec: AvroCheckResultCodec) -> dict[str, bytes]:
    valid = codec.encode(good(99))
    return {
        "random bytes": b"\x00" + os.urandom(63),  # never the C3 01 marker
        "unknown fingerprint": valid[:2] + b"\x00" * 8 + valid[10:],
        "truncated record": valid[: len(valid) // 2],
    }


async def read_dead_letters(bootstrap: str, topic: str, n: int) -> list[dict[str, bytes]]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    found: list[dict[str, bytes]] = []
    try:

        async def enough() -> bool:
            batches = await consumer.getmany(timeout_ms=500)
            found.extend(
                {**dict(m.headers), "value": m.value}
                for records in batches.values()
                for m in records
            )
            return len(found) >= n

        await wait_until(enough, 30, f"{n} dead letters", interval=0)
    finally:
        await consumer.stop()
    return found


async def test_poison_messages_are_dead_lettered_and_good_ones_stored(
    tmp_path: Path,
    kafka_bootstrap: str,
    pg_dsn: str,
    names: dict[str, str],
    pg: asyncpg.Connection,
) -> None:
    codec = AvroCheckResultCodec()
    connection = KafkaConnection(bootstrap_servers=kafka_bootstrap)
    await ensure_topics(
        connection, [names["topic"], names["dlq"]], partitions=1, replication_factor=1
    )
    poison = poison_payloads(codec)
    goods = [good(i) for i in range(4)]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:  # good, poison, good, poison, good, poison, good — all on one partition, in order
        await producer.send_and_wait(names["topic"], codec.encode(goods[0]))
        for payload, result in zip(poison.values(), goods[1:], strict=True):
            await producer.send_and_wait(names["topic"], payload)
            await producer.send_and_wait(names["topic"], codec.encode(result))
    finally:
        await producer.stop()

    consumer = SitemonProcess(
        "consumer",
        write_config(tmp_path / "consumer.yaml", consumer_config(pg_dsn, kafka_bootstrap, names)),
    )
    await consumer.start()
    try:

        async def stored() -> bool:
            try:
                return await pg.fetchval("SELECT count(*) FROM check_history") == len(goods)
            except asyncpg.UndefinedTableError:
                return False

        await wait_until(stored, 60, "the good records in PostgreSQL")
        assert await consumer.stop() == 0
    finally:
        await consumer.kill()

    logged = [e for e in consumer.logs if e.get("msg") == "poison message"]
    assert [e["reason"].split(":")[0] for e in logged] == [
        "bad marker",
        "unknown schema fingerprint 0000000000000000",
        "truncated or corrupt record",
    ]
    assert [e["dead_lettered_total"] for e in logged] == [1, 2, 3]
    assert consumer.find(message_is("persister stopped")) is not None
    stored_ids = {r["check_id"] for r in await pg.fetch("SELECT check_id FROM check_history")}
    assert stored_ids == {g.check_id for g in goods}

    letters = await read_dead_letters(kafka_bootstrap, names["dlq"], 3)
    assert [letter["value"] for letter in letters] == list(poison.values())
    reasons = [letter["sitemon-error"].decode() for letter in letters]
    assert reasons == [e["reason"] for e in logged]
    assert all(
        letter["sitemon-source"].decode().startswith(names["topic"] + "/0/") for letter in letters
    )
