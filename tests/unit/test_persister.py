"""The persister use case: save, then acknowledge; retry with backoff; stop cleanly."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from sitemon_adapters.bus.memory import InMemoryStatusBus
from sitemon_adapters.store.memory import InMemoryStatusRepository
from sitemon_core.errors import RepositoryError
from sitemon_core.models import CheckResult
from sitemon_core.persister import Backoff, Persister
from tests.unit.fakes import ManualClock, ScriptedProber, settle, site


class FlakyRepository(InMemoryStatusRepository):
    """Fails the next ``failures`` saves with a retriable (or fatal) error."""

    def __init__(self, failures: int = 0, retriable: bool = True) -> None:
        super().__init__()
        self.failures = failures
        self.retriable = retriable
        self.attempts = 0

    async def save(self, results: Sequence[CheckResult]) -> None:
        self.attempts += 1
        if self.failures > 0:
            self.failures -= 1
            raise RepositoryError("database unavailable", retriable=self.retriable)
        await super().save(results)


async def results(clock: ManualClock, n: int) -> list[CheckResult]:
    prober = ScriptedProber(clock)
    return [await prober.probe(site(f"s{i % 3}")) for i in range(n)]


async def publish(bus: InMemoryStatusBus, items: list[CheckResult]) -> None:
    publisher = bus.publisher()
    for item in items:
        await publisher.publish(item)


async def test_saves_everything_then_acknowledges() -> None:
    clock, bus, repo = ManualClock(), InMemoryStatusBus(), InMemoryStatusRepository()
    items = await results(clock, 10)
    await publish(bus, items)
    persister = Persister(bus.subscriber("p"), repo, clock, batch_size=4, poll_timeout_s=0.01)
    task = asyncio.create_task(persister.run())
    await settle(50)
    persister.request_stop()
    stats = await task
    assert (stats.saved, stats.batches) == (10, 3)
    assert bus.committed("p") == 10
    assert {s.site_id for s in await repo.latest()} == {"s0", "s1", "s2"}


async def test_retries_with_backoff_and_acknowledges_only_after_the_save() -> None:
    clock, bus = ManualClock(), InMemoryStatusBus()
    repo = FlakyRepository(failures=3)
    await publish(bus, await results(clock, 2))
    persister = Persister(
        bus.subscriber("p"),
        repo,
        clock,
        poll_timeout_s=0.01,
        backoff=Backoff(initial_s=1, maximum_s=3, factor=2),
    )
    task = asyncio.create_task(persister.run())
    await settle()
    assert repo.attempts == 1 and bus.committed("p") == 0
    await clock.advance(1)  # first retry after 1 s
    assert repo.attempts == 2 and bus.committed("p") == 0
    await clock.advance(2)  # then 2 s
    assert repo.attempts == 3
    await clock.advance(3)  # capped at 3 s
    assert repo.attempts == 4
    await settle()
    assert bus.committed("p") == 2
    persister.request_stop()
    stats = await task
    assert stats.retries == 3 and stats.saved == 2


async def test_stop_during_an_outage_leaves_the_batch_unacknowledged() -> None:
    clock, bus = ManualClock(), InMemoryStatusBus()
    repo = FlakyRepository(failures=100)
    await publish(bus, await results(clock, 3))
    persister = Persister(bus.subscriber("p"), repo, clock, poll_timeout_s=0.01)
    task = asyncio.create_task(persister.run())
    await settle()
    persister.request_stop()
    await task
    assert bus.committed("p") == 0
    # A restarted persister gets the same results again and stores them.
    fresh = InMemoryStatusRepository()
    again = Persister(bus.subscriber("p"), fresh, clock, poll_timeout_s=0.01)
    again_task = asyncio.create_task(again.run())
    await settle()
    again.request_stop(drain=True)
    assert (await again_task).saved == 3


async def test_a_non_retriable_error_stops_the_loop_loudly() -> None:
    clock, bus = ManualClock(), InMemoryStatusBus()
    await publish(bus, await results(clock, 1))
    persister = Persister(
        bus.subscriber("p"), FlakyRepository(1, retriable=False), clock, poll_timeout_s=0.01
    )
    with pytest.raises(RepositoryError, match="unavailable"):
        await persister.run()
    assert bus.committed("p") == 0


@pytest.mark.parametrize("attempt,expected", [(1, 0.2), (2, 0.4), (3, 0.8), (10, 5.0)])
def test_backoff_law(attempt: int, expected: float) -> None:
    assert Backoff().delay(attempt) == pytest.approx(expected)


class GatedRepository(InMemoryStatusRepository):
    """The first save waits for ``gate``; later saves go straight through."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.calls = 0

    async def save(self, results: Sequence[CheckResult]) -> None:
        self.calls += 1
        if self.calls == 1:
            await self.gate.wait()
        await super().save(results)


async def test_batches_save_concurrently_but_are_acknowledged_in_order() -> None:
    clock, bus, repo = ManualClock(), InMemoryStatusBus(), GatedRepository()
    await publish(bus, await results(clock, 6))
    persister = Persister(
        bus.subscriber("p"), repo, clock, batch_size=3, poll_timeout_s=0.01, max_in_flight=2
    )
    task = asyncio.create_task(persister.run())
    # Both batches are already on the bus: receiving and saving them takes event-loop
    # rounds only, no time on any clock.
    await settle(50)
    assert repo.calls == 2 and repo.saves == 1  # the second saved while the first waits
    assert bus.committed("p") == 0  # the second batch waits for the first
    repo.gate.set()
    persister.request_stop(drain=True)
    stats = await task
    assert bus.committed("p") == 6 and stats.saved == 6
