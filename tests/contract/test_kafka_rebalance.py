"""Kafka-specific: a consumer-group rebalance loses nothing (duplicates are allowed)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime, timedelta

from sitemon_adapters.bus.kafka import (
    KafkaConnection,
    KafkaStatusPublisher,
    KafkaStatusSubscriber,
    ensure_topics,
)
from sitemon_core.errors import SubscriberError
from sitemon_core.models import CheckResult, new_check_id

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def results(n: int) -> list[CheckResult]:
    return [
        CheckResult(
            check_id=new_check_id(),
            site_id=f"site-{i % 40}",
            url="http://x.test/",
            region="t",
            started_at=T0 + timedelta(seconds=i),
            ok=True,
            total_ms=1.0,
        )
        for i in range(n)
    ]


async def consume(
    subscriber: KafkaStatusSubscriber, seen: dict[str, int], stop: asyncio.Event
) -> None:
    """Receive and acknowledge until told to stop, counting each check id."""
    while not stop.is_set():
        batch = await subscriber.receive(max_results=10, timeout_s=0.2)
        for result in batch.results:
            seen[result.check_id] = seen.get(result.check_id, 0) + 1
        await asyncio.sleep(0.05)  # a little "save" time so the rebalance lands mid-stream
        with contextlib.suppress(SubscriberError):  # refused by a rebalance: it comes back
            await subscriber.acknowledge(batch)


async def test_nothing_is_lost_when_a_second_member_joins_and_the_first_leaves(
    kafka_bootstrap: str,
) -> None:
    connection = KafkaConnection(bootstrap_servers=kafka_bootstrap)
    topic, group = f"rebalance-{uuid.uuid4().hex[:10]}", f"g-{uuid.uuid4().hex[:10]}"
    await ensure_topics(connection, [topic], partitions=4, replication_factor=1)
    published = results(2000)
    async with KafkaStatusPublisher(connection, topic) as publisher:
        for result in published:
            await publisher.publish(result)
        await publisher.flush()

    seen: dict[str, int] = {}
    stop_first, stop_second = asyncio.Event(), asyncio.Event()
    first = KafkaStatusSubscriber(connection, topic, group)
    second = KafkaStatusSubscriber(connection, topic, group)
    await first.__aenter__()
    try:
        task_first = asyncio.create_task(consume(first, seen, stop_first))
        await _until(lambda: len(seen) >= 200)
        async with second:  # joining triggers a rebalance while the first is mid-stream
            task_second = asyncio.create_task(consume(second, seen, stop_second))
            await _until(lambda: second.stats.received > 0)
            assert len(seen) < len(published), "the first member finished before the rebalance"
            stop_first.set()
            await task_first
            await first.__aexit__(None, None, None)  # leaving: a second rebalance
            await _until(lambda: len(seen) >= len(published), timeout=90)
            stop_second.set()
            await task_second
    finally:
        stop_first.set()
        await first.__aexit__(None, None, None)

    assert set(seen) == {r.check_id for r in published}
    assert first.stats.received < len(published)


async def _until(condition: object, timeout: float = 60) -> None:
    async def wait() -> None:
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.05)

    await asyncio.wait_for(wait(), timeout)
