"""History retention: rounds on the clock, chunked deletes, latest statuses kept, rollups
kept for their own (longer) window."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest

from sitemon_adapters.store.memory import InMemoryStatusRepository
from sitemon_adapters.store.memory_queries import InMemoryStatusQueries
from sitemon_core.errors import RepositoryError
from sitemon_core.models import CheckResult
from sitemon_core.retention import HistoryRetention
from tests.unit.fakes import EPOCH, ManualClock, settle

HOUR = 3600.0


def result(site_id: str, at: datetime, n: int) -> CheckResult:
    return CheckResult(
        check_id=f"{site_id}-{n}",
        site_id=site_id,
        url="http://x/",
        region="r",
        started_at=at,
        ok=True,
        total_ms=1.0,
    )


async def history_hours(repository: InMemoryStatusRepository, site_id: str) -> list[float]:
    return sorted(
        (r.started_at - EPOCH).total_seconds() / HOUR
        for r in await repository.history(site_id, limit=10_000)
    )


async def test_each_round_deletes_what_left_the_window_in_chunks() -> None:
    clock, repository = ManualClock(), InMemoryStatusRepository()
    # One check an hour for 10 hours before the clock's start.
    await repository.save([result("a", EPOCH - timedelta(hours=h), h) for h in range(1, 11)])
    calls: list[int] = []
    prune = repository.prune_history

    async def counting(before: datetime, *, max_rows: int) -> int:
        calls.append(max_rows)
        return await prune(before, max_rows=max_rows)

    repository.prune_history = counting  # type: ignore[method-assign]
    retention = HistoryRetention(repository, clock, keep_s=4.5 * HOUR, every_s=HOUR, chunk=2)
    task = asyncio.create_task(retention.run())
    await settle()
    # First round at once: the 6 checks older than 4.5 h go, 2 per call (+1 empty call).
    assert await history_hours(repository, "a") == [-4, -3, -2, -1]
    assert calls == [2, 2, 2, 2]
    await clock.advance(HOUR)  # the window moves one hour: one more check leaves it
    assert await history_hours(repository, "a") == [-3, -2, -1]
    assert retention.stats.rounds == 2 and retention.stats.deleted == 7
    retention.request_stop()
    await asyncio.wait_for(task, 1)
    assert [s.site_id for s in await repository.latest()] == ["a"]  # latest kept


async def test_a_failed_round_is_counted_and_the_next_one_runs() -> None:
    clock, repository = ManualClock(), InMemoryStatusRepository()
    await repository.save([result("a", EPOCH - timedelta(hours=5), 1)])
    failures = [RepositoryError("database down", retriable=True)]
    prune = repository.prune_history

    async def flaky(before: datetime, *, max_rows: int) -> int:
        if failures:
            raise failures.pop()
        return await prune(before, max_rows=max_rows)

    repository.prune_history = flaky  # type: ignore[method-assign]
    retention = HistoryRetention(repository, clock, keep_s=HOUR, every_s=60)
    task = asyncio.create_task(retention.run())
    await settle()
    assert retention.stats.failures == 1 and await history_hours(repository, "a") == [-5]
    await clock.advance(60)
    assert retention.stats.deleted == 1 and await history_hours(repository, "a") == []
    retention.request_stop()
    await asyncio.wait_for(task, 1)


def test_window_and_period_must_be_positive() -> None:
    with pytest.raises(ValueError, match="must be > 0"):
        HistoryRetention(InMemoryStatusRepository(), ManualClock(), keep_s=0)


class RollupKeepingRepository(InMemoryStatusRepository):
    """History here, rollups in the read side's store, as the SQL stores keep both."""

    def __init__(self) -> None:
        super().__init__()
        self.queries = InMemoryStatusQueries(keep_rollups=timedelta(days=400))

    async def save(self, results: Sequence[CheckResult]) -> None:
        await super().save(results)
        await self.queries.save(results)

    async def prune_rollups(self, period_before: datetime, *, max_rows: int) -> int:
        return await self.queries.prune_rollups(period_before, max_rows=max_rows)


async def test_each_window_prunes_its_own_data_rollups_by_whole_hours() -> None:
    clock, repository = ManualClock(), RollupKeepingRepository()
    # A check at half past each of the 10 hours before the clock's start.
    await repository.save(
        [result("a", EPOCH - timedelta(hours=h, minutes=-30), h) for h in range(1, 11)]
    )
    retention = HistoryRetention(
        repository, clock, keep_s=2 * HOUR, rollup_keep_s=5.5 * HOUR, every_s=HOUR, chunk=3
    )
    await retention.prune_once()
    assert await history_hours(repository, "a") == [-1.5, -0.5]
    # The cutoff (-5.5 h) is inside the -6 h rollup: it stays, the 4 before it go.
    hours = sorted((r.start - EPOCH) / timedelta(hours=1) for r in repository.queries.rollups())
    assert hours == [-6, -5, -4, -3, -2, -1]
    assert (retention.stats.deleted, retention.stats.rollups_deleted) == (8, 4)


def test_rollups_are_not_kept_shorter_than_history() -> None:
    with pytest.raises(ValueError, match="rollup_keep_s must not be shorter"):
        HistoryRetention(
            InMemoryStatusRepository(), ManualClock(), keep_s=2 * HOUR, rollup_keep_s=HOUR
        )
