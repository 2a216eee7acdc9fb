"""The in-memory bus's ``linger_s``: a read waits briefly for a full batch, never longer."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine
from typing import Any

import pytest

from sitemon_adapters.bus.memory import InMemoryStatusBus
from sitemon_core.models import CheckResult
from sitemon_core.ports import Batch
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


async def _callbacks_while_publishing(bus: InMemoryStatusBus, count: int) -> int:
    """How many callbacks the loop schedules while ``count`` results are published one by
    one (as checks finish at low rates): each wake-up of a waiting read is one more."""
    loop = asyncio.get_running_loop()
    scheduled = 0
    call_soon = loop.call_soon

    def counting(*args: Any, **kwargs: Any) -> asyncio.Handle:
        nonlocal scheduled
        scheduled += 1
        return call_soon(*args, **kwargs)

    publisher = bus.publisher()
    results = await _results(count)
    loop.call_soon = counting  # type: ignore[method-assign]
    try:
        for result in results:
            await publisher.publish(result)
            await asyncio.sleep(0.001)
    finally:
        del loop.call_soon
    return scheduled


async def test_a_waiting_read_is_woken_once_when_its_linger_ends_not_per_publish() -> None:
    alone = await _callbacks_while_publishing(InMemoryStatusBus(linger_s=1.0), 40)
    bus = InMemoryStatusBus(linger_s=1.0)
    reading = asyncio.ensure_future(bus.subscriber().receive(max_results=100, timeout_s=1.0))
    await asyncio.sleep(0)
    with_reader = await _callbacks_while_publishing(bus, 40)
    assert len((await reading).results) == 40
    assert with_reader - alone <= 2  # not one wake-up (or more) per published result


async def test_a_waiting_read_is_woken_as_soon_as_its_batch_is_full() -> None:
    bus = InMemoryStatusBus(linger_s=30.0)
    publisher, subscriber = bus.publisher(), bus.subscriber()
    reading = asyncio.ensure_future(subscriber.receive(max_results=5, timeout_s=30.0))
    await asyncio.sleep(0)
    began = time.monotonic()
    for result in await _results(7):
        await publisher.publish(result)
    batch = await asyncio.wait_for(reading, 1.0)
    assert [r.site_id for r in batch.results] == [f"s{i}" for i in range(5)]
    assert time.monotonic() - began < 0.5
    rest = await subscriber.receive(max_results=2, timeout_s=1.0)
    assert [r.site_id for r in rest.results] == ["s5", "s6"]  # order kept across batches


async def test_a_full_bus_wakes_a_lingering_read_at_once() -> None:
    bus = InMemoryStatusBus(max_buffered=3, linger_s=30.0)
    publisher, subscriber = bus.publisher(), bus.subscriber()
    reading = asyncio.ensure_future(subscriber.receive(max_results=10, timeout_s=30.0))
    await asyncio.sleep(0)
    for result in await _results(3):
        await publisher.publish(result)
    assert len((await asyncio.wait_for(reading, 1.0)).results) == 3


async def test_an_empty_read_still_ends_at_its_timeout() -> None:
    bus = InMemoryStatusBus(linger_s=5.0)
    began = time.monotonic()
    batch = await bus.subscriber().receive(max_results=10, timeout_s=0.1)
    assert batch.results == () and batch.token is None
    assert 0.05 < time.monotonic() - began < 1.0


async def test_each_subscriber_lingers_for_its_own_time() -> None:
    bus = InMemoryStatusBus(linger_s=5.0)
    quick = bus.subscriber("alerter", linger_s=0.05)
    patient = bus.subscriber("persister", linger_s=0.4)
    default = bus.subscriber("other")
    assert default.linger_s == 5.0
    reads = [
        asyncio.ensure_future(timed(s.receive(max_results=10, timeout_s=1.0)))
        for s in (quick, patient)
    ]
    await asyncio.sleep(0)
    await bus.publisher().publish((await _results(1))[0])
    (quick_batch, quick_s), (patient_batch, patient_s) = await asyncio.gather(*reads)
    assert len(quick_batch.results) == len(patient_batch.results) == 1
    assert 0.03 < quick_s < 0.3 < patient_s < 2.0


async def test_a_cancelled_read_loses_nothing() -> None:
    bus = InMemoryStatusBus(linger_s=0.05)
    subscriber = bus.subscriber()
    reading = asyncio.ensure_future(subscriber.receive(max_results=10, timeout_s=30.0))
    await asyncio.sleep(0)
    reading.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reading
    await bus.publisher().publish((await _results(1))[0])
    assert len((await subscriber.receive(max_results=10, timeout_s=1.0)).results) == 1


def test_a_negative_linger_is_refused() -> None:
    with pytest.raises(ValueError, match="linger_s"):
        InMemoryStatusBus(linger_s=-1)
    with pytest.raises(ValueError, match="linger_s"):
        InMemoryStatusBus().subscriber("g", linger_s=-0.1)


async def timed(read: Coroutine[Any, Any, Batch]) -> tuple[Batch, float]:
    began = time.monotonic()
    batch = await read
    return batch, time.monotonic() - began
