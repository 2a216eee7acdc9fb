"""The in-memory bus's ``linger_s``: a read waits briefly for a full batch, never longer."""

from __future__ import annotations

import asyncio
import time

from sitemon_adapters.bus.memory import InMemoryStatusBus
from sitemon_core.models import CheckResult
from tests.unit.fakes import ManualClock, ScriptedProber, site


async def _results(count: int) -> list[CheckResult]:
    prober = ScriptedProber(ManualClock())
    return [await prober.probe(site(f"s{i}")) for i in range(count)]


async def test_a_read_gathers_what_arrives_within_the_linger() -> None:
    bus = InMemoryStatusBus(linger_s=0.5)
    publisher, subscriber = bus.publisher(), bus.subscriber()
    first, *rest = await _results(3)
    await publisher.publish(first)

    async def later() -> None:
        await asyncio.sleep(0.05)
        for result in rest:
            await publisher.publish(result)

    feeding = asyncio.create_task(later())
    batch = await subscriber.receive(max_results=3, timeout_s=1.0)
    await feeding
    assert len(batch.results) == 3  # without the linger: only the first


async def test_a_full_batch_does_not_wait_and_a_partial_one_waits_at_most_the_linger() -> None:
    bus = InMemoryStatusBus(linger_s=0.2)
    publisher, subscriber = bus.publisher(), bus.subscriber()
    for result in await _results(2):
        await publisher.publish(result)
    began = time.monotonic()
    assert len((await subscriber.receive(max_results=2, timeout_s=1.0)).results) == 2
    assert time.monotonic() - began < 0.1
    bus2 = InMemoryStatusBus(linger_s=0.2)
    await bus2.publisher().publish((await _results(1))[0])
    began = time.monotonic()
    assert len((await bus2.subscriber().receive(max_results=5, timeout_s=1.0)).results) == 1
    assert 0.15 < time.monotonic() - began < 1.0
