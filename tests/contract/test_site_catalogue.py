"""The catalogue on a real compacted Kafka topic: the editor's view, members' shares,
live changes, handover when a member leaves, and records that cannot be used."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer

from sitemon_adapters.bus.kafka import (
    KafkaCatalogueEditor,
    KafkaConnection,
    KafkaSiteCatalogue,
    ensure_topics,
)
from sitemon_core.models import Site
from sitemon_core.ports import CatalogueEvent, SitesAssigned, SitesChanged

PARTITIONS = 6


def site(i: int, interval: float = 10.0) -> Site:
    return Site.http(
        id=f"site-{i}", url=f"http://127.0.0.1:9/{i}", interval_s=interval, timeout_s=1
    )


@pytest.fixture
async def topic(kafka_bootstrap: str) -> str:
    name = f"sites-{uuid.uuid4().hex[:10]}"
    await ensure_topics(
        KafkaConnection(bootstrap_servers=kafka_bootstrap),
        [name],
        partitions=PARTITIONS,
        replication_factor=1,
        topic_configs={"cleanup.policy": "compact"},
    )
    return name


@pytest.fixture
def connection(kafka_bootstrap: str) -> KafkaConnection:
    return KafkaConnection(bootstrap_servers=kafka_bootstrap)


class Member:
    """One catalogue member whose events are collected into ``sites`` by a task."""

    def __init__(self, connection: KafkaConnection, topic: str, group: str) -> None:
        self.catalogue = KafkaSiteCatalogue(connection, topic, group, session_timeout_ms=6000)
        self.sites: dict[str, Site] = {}
        self.assigned_at: list[float] = []
        self.events: list[CatalogueEvent] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Member:
        await self.catalogue.__aenter__()
        self._task = asyncio.create_task(self._follow())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.catalogue.leave()
        assert self._task is not None
        await asyncio.wait_for(self._task, 10)

    async def _follow(self) -> None:
        events: AsyncIterator[CatalogueEvent] = self.catalogue.events()
        async for event in events:
            self.events.append(event)
            if isinstance(event, SitesAssigned):
                self.sites = {s.id: s for s in event.sites}
                self.assigned_at.append(time.monotonic())
            else:
                assert isinstance(event, SitesChanged)
                self.sites.update({s.id: s for s in event.upserted})
                for gone in event.removed:
                    self.sites.pop(gone, None)


async def until(condition: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_the_editor_reads_back_what_it_wrote_and_a_tombstone_removes(
    connection: KafkaConnection, topic: str
) -> None:
    async with KafkaCatalogueEditor(connection, topic) as editor:
        assert await editor.read_all() == {}
        await editor.write([site(i) for i in range(50)], [])
        await editor.write([site(3, interval=30)], ["site-7"])
        state = await editor.read_all()
    assert len(state) == 49 and "site-7" not in state
    assert state["site-3"].interval_s == 30


async def test_members_split_the_catalogue_follow_changes_and_take_over_at_once(
    connection: KafkaConnection, topic: str
) -> None:
    everything = {s.id: s for s in (site(i) for i in range(300))}
    async with KafkaCatalogueEditor(connection, topic) as editor:
        await editor.write(list(everything.values()), [])
    group = f"g-{uuid.uuid4().hex[:8]}"
    async with (
        Member(connection, topic, group) as first,
        Member(connection, topic, group) as second,
    ):
        await until(
            lambda: first.sites and second.sites and len(first.sites) + len(second.sites) == 300
        )
        assert not first.sites.keys() & second.sites.keys()
        async with KafkaCatalogueEditor(connection, topic) as editor:
            await editor.write([site(1000), site(0, interval=20)], ["site-5"])
        owners = lambda: {**first.sites, **second.sites}  # noqa: E731
        # Three keys, maybe three partitions read independently: wait for all of them.
        await until(
            lambda: (
                "site-1000" in owners()
                and "site-5" not in owners()
                and owners()["site-0"].interval_s == 20
            )
        )
        assert len(owners()) == 300
        # The second leaves: the first owns everything soon after, no session timeout waited.
        left_at = time.monotonic()
        await second.catalogue.leave()
        await until(lambda: len(first.sites) == 300, timeout=10)
        assert first.assigned_at[-1] - left_at < 3.0


async def test_an_undecodable_record_is_counted_and_skipped(
    connection: KafkaConnection, topic: str
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=connection.bootstrap_servers)
    await producer.start()
    try:
        for partition in range(PARTITIONS):
            await producer.send_and_wait(topic, b"garbage", key=b"bad", partition=partition)
    finally:
        await producer.stop()
    async with KafkaCatalogueEditor(connection, topic) as editor:
        await editor.write([site(1), site(2)], [])
    group = f"g-{uuid.uuid4().hex[:8]}"
    async with Member(connection, topic, group) as member:
        await until(lambda: len(member.sites) == 2)
        assert member.catalogue.stats.undecodable == PARTITIONS


async def test_a_member_joining_while_another_loads_a_large_share_loses_nothing(
    connection: KafkaConnection, topic: str
) -> None:
    async with KafkaCatalogueEditor(connection, topic) as editor:
        await editor.write([site(i) for i in range(30_000)], [])
    group = f"g-{uuid.uuid4().hex[:8]}"
    async with Member(connection, topic, group) as first:
        await until(lambda: first.catalogue.stats.records > 0)  # mid-load
        async with Member(connection, topic, group) as second:

            def split() -> bool:
                both = len(first.sites) + len(second.sites)
                return both == 30_000 and bool(first.sites) and bool(second.sites)

            await until(split, timeout=90)
            assert not first.sites.keys() & second.sites.keys()
            assert first._task is not None and not first._task.done()
