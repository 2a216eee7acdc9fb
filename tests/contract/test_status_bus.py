"""The StatusPublisher/StatusSubscriber contract, run against every bus adapter.

To add an adapter, add a factory class to ``FACTORIES``: constructed per test from the
pytest request (to reach fixtures such as a Kafka bootstrap address), it gives
``make_publisher()`` and ``make_subscriber(group)`` async context managers on one
fresh, isolated bus (for Kafka: a topic of its own), and says how long a receive
should wait when data is expected (``delivery_timeout_s``).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Protocol

import pytest

from sitemon_adapters.bus.memory import InMemoryStatusBus
from sitemon_core.errors import PublishError
from sitemon_core.models import CheckResult
from sitemon_core.ports import Batch, StatusPublisher, StatusSubscriber

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class BusFactory(Protocol):
    """Makes the clients of one fresh bus for one test."""

    delivery_timeout_s: float

    def make_publisher(self) -> AbstractAsyncContextManager[StatusPublisher]: ...

    def make_subscriber(self, group: str) -> AbstractAsyncContextManager[StatusSubscriber]: ...


class MemoryBusFactory:
    """Clients of one ``InMemoryStatusBus``."""

    delivery_timeout_s = 1.0

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self.bus = InMemoryStatusBus(max_buffered=10_000)

    def make_publisher(self) -> AbstractAsyncContextManager[StatusPublisher]:
        return self.bus.publisher()

    def make_subscriber(self, group: str) -> AbstractAsyncContextManager[StatusSubscriber]:
        return self.bus.subscriber(group)


class KafkaBusFactory:
    """Clients of a fresh 3-partition topic on the real Kafka broker."""

    delivery_timeout_s = 30.0  # a new group member first waits for its partitions

    def __init__(self, request: pytest.FixtureRequest) -> None:
        from sitemon_adapters.bus.kafka import KafkaConnection

        self.connection = KafkaConnection(
            bootstrap_servers=request.getfixturevalue("kafka_bootstrap")
        )
        self.topic = f"contract-{uuid.uuid4().hex[:12]}"
        self._created = False

    async def _ensure_topic(self) -> None:
        from sitemon_adapters.bus.kafka import ensure_topics

        if not self._created:
            await ensure_topics(self.connection, [self.topic], partitions=3, replication_factor=1)
            self._created = True

    @asynccontextmanager
    async def make_publisher(self) -> AsyncIterator[StatusPublisher]:
        from sitemon_adapters.bus.kafka import KafkaStatusPublisher

        await self._ensure_topic()
        async with KafkaStatusPublisher(self.connection, self.topic) as publisher:
            yield publisher

    @asynccontextmanager
    async def make_subscriber(self, group: str) -> AsyncIterator[StatusSubscriber]:
        from sitemon_adapters.bus.kafka import KafkaStatusSubscriber

        await self._ensure_topic()
        async with KafkaStatusSubscriber(
            self.connection, self.topic, f"{self.topic}-{group}"
        ) as subscriber:
            yield subscriber


FACTORIES: dict[str, Callable[[pytest.FixtureRequest], BusFactory]] = {
    "memory": MemoryBusFactory,
    "kafka": KafkaBusFactory,
}


@pytest.fixture(params=sorted(FACTORIES))
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[BusFactory]:
    """A factory for the clients of one fresh bus of each adapter."""
    yield FACTORIES[request.param](request)


def result(site_id: str, n: int) -> CheckResult:
    """The ``n``-th check of ``site_id``."""
    return CheckResult(
        check_id=f"{site_id}-{n}",
        site_id=site_id,
        url=f"https://{site_id}.example/",
        region="eu",
        started_at=T0 + timedelta(seconds=n),
        ok=True,
        total_ms=float(n),
        status_code=200,
    )


async def publish_all(bus: BusFactory, results: list[CheckResult]) -> None:
    async with bus.make_publisher() as publisher:
        for r in results:
            await publisher.publish(r)
        await publisher.flush()


async def receive_until(
    subscriber: StatusSubscriber, count: int, timeout_s: float
) -> tuple[list[CheckResult], list[Batch]]:
    """Receive batches until ``count`` results came or ``timeout_s`` passed."""
    results: list[CheckResult] = []
    batches: list[Batch] = []
    deadline = time.monotonic() + timeout_s
    while len(results) < count and time.monotonic() < deadline:
        batch = await subscriber.receive(max_results=7, timeout_s=0.2)
        if batch.results:
            batches.append(batch)
            results.extend(batch.results)
    return results, batches


async def test_published_results_are_received_in_order_per_site(bus: BusFactory) -> None:
    published = [result(site, n) for n in range(10) for site in ("a", "b", "c")]
    await publish_all(bus, published)

    async with bus.make_subscriber("g") as subscriber:
        received, _ = await receive_until(subscriber, len(published), bus.delivery_timeout_s)

    assert sorted(received, key=lambda r: r.check_id) == sorted(published, key=lambda r: r.check_id)
    for site in ("a", "b", "c"):
        assert [r for r in received if r.site_id == site] == [
            r for r in published if r.site_id == site
        ]


async def test_a_waiting_receive_gets_a_result_published_meanwhile(bus: BusFactory) -> None:
    async with bus.make_subscriber("g") as subscriber, bus.make_publisher() as publisher:
        waiting = asyncio.create_task(
            subscriber.receive(max_results=10, timeout_s=bus.delivery_timeout_s + 5)
        )
        await asyncio.sleep(0.1)  # let it start waiting
        started = time.monotonic()
        await publisher.publish(result("a", 1))
        await publisher.flush()
        batch = await waiting
        assert time.monotonic() - started < bus.delivery_timeout_s
    assert list(batch.results) == [result("a", 1)]


async def test_acknowledged_results_are_not_delivered_again(bus: BusFactory) -> None:
    published = [result("a", n) for n in range(5)]
    await publish_all(bus, published)
    async with bus.make_subscriber("g") as subscriber:
        received, batches = await receive_until(subscriber, 5, bus.delivery_timeout_s)
        for batch in batches:
            await subscriber.acknowledge(batch)
    assert received == published

    async with bus.make_subscriber("g") as restarted:
        assert (await restarted.receive(max_results=10, timeout_s=0.3)).results == ()


async def test_unacknowledged_results_are_delivered_again(bus: BusFactory) -> None:
    published = [result("a", n) for n in range(5)]
    await publish_all(bus, published)
    async with bus.make_subscriber("g") as subscriber:
        first, batches = await receive_until(subscriber, 5, bus.delivery_timeout_s)
        await subscriber.acknowledge(batches[0])

    async with bus.make_subscriber("g") as restarted:
        again, _ = await receive_until(
            restarted, 5 - len(batches[0].results), bus.delivery_timeout_s
        )
    assert first == published
    assert again == published[len(batches[0].results) :]


async def test_groups_receive_independently(bus: BusFactory) -> None:
    published = [result("a", n) for n in range(3)]
    await publish_all(bus, published)
    async with bus.make_subscriber("g1") as one, bus.make_subscriber("g2") as two:
        got_one, batches = await receive_until(one, 3, bus.delivery_timeout_s)
        for batch in batches:
            await one.acknowledge(batch)
        got_two, _ = await receive_until(two, 3, bus.delivery_timeout_s)
    assert got_one == got_two == published


async def test_receive_returns_an_empty_batch_after_the_timeout(bus: BusFactory) -> None:
    async with bus.make_subscriber("g") as subscriber:
        started = time.monotonic()
        batch = await subscriber.receive(max_results=10, timeout_s=0.2)
        elapsed = time.monotonic() - started
        await subscriber.acknowledge(batch)  # acknowledging an empty batch is harmless
    assert batch.results == ()
    assert 0.15 <= elapsed < 1.0


async def test_receive_respects_max_results(bus: BusFactory) -> None:
    await publish_all(bus, [result("a", n) for n in range(5)])
    async with bus.make_subscriber("g") as subscriber:
        received, batches = await receive_until(subscriber, 5, bus.delivery_timeout_s)
    assert len(received) == 5
    assert all(len(b.results) <= 7 for b in batches)


# --- In-memory-specific behaviour (not part of the ports' contract) ---


async def test_memory_bus_full_raises_publish_error() -> None:
    bus = InMemoryStatusBus(max_buffered=3)
    subscriber = bus.subscriber("g")
    publisher = bus.publisher()
    for n in range(3):
        await publisher.publish(result("a", n))
    with pytest.raises(PublishError, match="full"):
        await publisher.publish(result("a", 3))

    # Acknowledging frees the space again.
    await subscriber.acknowledge(await subscriber.receive(max_results=2, timeout_s=0))
    await publisher.publish(result("a", 3))
    await publisher.publish(result("a", 4))
    with pytest.raises(PublishError):
        await publisher.publish(result("a", 5))


async def test_memory_bus_keeps_results_until_every_group_acknowledged() -> None:
    bus = InMemoryStatusBus(max_buffered=10)
    fast, slow = bus.subscriber("fast"), bus.subscriber("slow")
    publisher = bus.publisher()
    for n in range(3):
        await publisher.publish(result("a", n))
    await fast.acknowledge(await fast.receive(max_results=10, timeout_s=0))

    slow.restart()
    assert len((await slow.receive(max_results=10, timeout_s=0)).results) == 3


async def test_memory_bus_restart_redelivers_in_place() -> None:
    bus = InMemoryStatusBus()
    subscriber = bus.subscriber()
    await bus.publisher().publish(result("a", 1))
    first = await subscriber.receive(max_results=10, timeout_s=0)
    subscriber.restart()
    assert (await subscriber.receive(max_results=10, timeout_s=0)).results == first.results
