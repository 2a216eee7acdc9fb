"""Smoke test of the real services behind the kafka_bootstrap / pg_dsn fixtures."""

from __future__ import annotations

import asyncio
import uuid

import pytest


async def _create_topic(bootstrap: str, topic: str) -> None:
    """Create a one-partition topic (local brokers do not auto-create)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()


@pytest.mark.asyncio
async def test_kafka_produce_then_consume(kafka_bootstrap: str) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    topic = f"e2e-devservices-{uuid.uuid4().hex}"
    await _create_topic(kafka_bootstrap, topic)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"payload", key=b"key")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"g-{topic}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    assert (message.key, message.value) == (b"key", b"payload")


@pytest.mark.asyncio
async def test_postgres_select_one(pg_dsn: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(pg_dsn)
    try:
        assert await conn.fetchval("select 1") == 1
    finally:
        await conn.close()
