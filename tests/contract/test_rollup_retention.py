"""Rollup retention over every store (memory, SQLite, PostgreSQL): each cutoff prunes its
own data only. History retention (PostgreSQL: whole partitions dropped) leaves rollups
intact; rollups older than their window go, newer ones and the raw history stay.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from sitemon_core.errors import RepositoryError
from sitemon_core.models import CheckResult
from sitemon_core.rollup import HOUR, Rollup

pytestmark = pytest.mark.timeout(120)

D0 = datetime(2026, 3, 10, tzinfo=UTC)  # a midnight: day partitions start on it
DAY = timedelta(days=1)
# A check of sites a and b at 10:30 on each of these days before D0.
DAYS_AGO = (400, 300, 40, 20, 2)


@attrs.frozen
class Store:
    """What a test drives: writes, both prunings, what is stored."""

    save: Callable[[Sequence[CheckResult]], Awaitable[None]]
    prune_history: Callable[[datetime], Awaitable[int]]  # whole window, partitions included
    prune_rollups: Callable[..., Awaitable[int]]  # (period_before, *, max_rows)
    rollups: Callable[[], Awaitable[list[Rollup]]]
    history: Callable[[str], Awaitable[list[CheckResult]]]


@asynccontextmanager
async def memory_store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """The repository keeps history, the read side keeps rollups: both get every save."""
    from sitemon_adapters.store.memory import InMemoryStatusRepository
    from sitemon_adapters.store.memory_queries import InMemoryStatusQueries

    repo, queries = InMemoryStatusRepository(), InMemoryStatusQueries(keep_rollups=400 * DAY)

    async def save(results: Sequence[CheckResult]) -> None:
        await repo.save(results)
        await queries.save(results)

    async def rollups() -> list[Rollup]:
        return queries.rollups()

    yield Store(
        save,
        lambda cutoff: repo.prune_history(cutoff, max_rows=10**6),
        queries.prune_rollups,
        rollups,
        repo.history,
    )


@asynccontextmanager
async def sqlite_store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """A fresh SQLite file."""
    from sitemon_adapters.store.sqlite.queries import SqliteRollupReads
    from sitemon_adapters.store.sqlite.repository import SqliteStatusRepository

    path = request.getfixturevalue("tmp_path") / "sitemon.db"
    async with SqliteStatusRepository(str(path)) as repo:
        await repo.migrate()
        reads = SqliteRollupReads(repo)

        async def rollups() -> list[Rollup]:
            return [r for s in ("a", "b") for r in await reads.rollups(s, D0 - 999 * DAY, D0)]

        yield Store(
            repo.save,
            lambda cutoff: repo.prune_history(cutoff, max_rows=10**6),
            repo.prune_rollups,
            rollups,
            repo.history,
        )


@asynccontextmanager
async def postgres_store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """A schema of its own, with day partitions over the test's days, dropped afterwards."""
    import asyncpg  # type: ignore[import-untyped]

    from sitemon_adapters.store.postgres import PostgresStatusRepository
    from sitemon_adapters.store.postgres.queries import PostgresRollupReads

    dsn = request.getfixturevalue("pg_dsn")
    schema = f"rollret_{uuid.uuid4().hex[:12]}"
    try:
        async with PostgresStatusRepository(dsn, schema=schema, partitions_ahead_s=0) as repo:
            await repo.migrate()
            for days in DAYS_AGO:  # a day partition for each day the tests write
                await repo.ensure_partitions(D0 - days * DAY)
            reads = PostgresRollupReads(repo)

            async def prune_history(cutoff: datetime) -> int:
                dropped = await repo.drop_partitions(cutoff)
                assert dropped, "the history sits in day partitions: whole ones must go"
                return await repo.prune_history(cutoff, max_rows=10**6)

            async def rollups() -> list[Rollup]:
                return [r for s in ("a", "b") for r in await reads.rollups(s, D0 - 999 * DAY, D0)]

            yield Store(
                repo.save,
                prune_history,
                repo.prune_rollups,
                rollups,
                repo.history,
            )
    finally:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


FACTORIES: dict[str, Callable[[pytest.FixtureRequest], AbstractAsyncContextManager[Store]]] = {
    "memory": memory_store,
    "sqlite": sqlite_store,
    "postgres": postgres_store,
}


@pytest.fixture(params=sorted(FACTORIES))
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """An empty store of each adapter."""
    async with FACTORIES[request.param](request) as opened:
        yield opened


def result(site_id: str, at: datetime) -> CheckResult:
    return CheckResult(
        check_id=uuid.uuid4().hex,
        site_id=site_id,
        url=f"https://{site_id}.example/",
        region="eu",
        started_at=at,
        ok=True,
        total_ms=12.5,
        status_code=200,
    )


async def fill(store: Store) -> None:
    await store.save([result(s, D0 - d * DAY + 10.5 * HOUR) for d in DAYS_AGO for s in ("a", "b")])


async def rollup_days(store: Store) -> list[int]:
    return sorted({-(r.start - D0).days for r in await store.rollups()}, reverse=True)


async def test_history_retention_leaves_every_rollup(store: Store) -> None:
    await fill(store)
    before = sorted(await store.rollups(), key=lambda r: r.key)
    await store.prune_history(D0 - 10 * DAY)  # drops every day partition but the last
    assert [len(await store.history(s)) for s in ("a", "b")] == [1, 1]
    assert sorted(await store.rollups(), key=lambda r: r.key) == before
    assert await rollup_days(store) == [400, 300, 40, 20, 2]


async def test_rollups_older_than_their_window_go_newer_stay_history_untouched(
    store: Store,
) -> None:
    await fill(store)
    cutoff = D0 - 30 * DAY
    # Chunks: 6 rollups are older (3 days x 2 sites), 4 at most per call.
    assert [await store.prune_rollups(cutoff, max_rows=4) for _ in range(3)] == [4, 2, 0]
    assert await rollup_days(store) == [20, 2]
    assert [len(await store.history(s)) for s in ("a", "b")] == [5, 5]


async def test_a_rollup_whose_period_starts_at_the_cutoff_stays(store: Store) -> None:
    hour = D0 - 20 * DAY + 10 * HOUR
    await store.save([result("a", hour + HOUR / 2)])
    assert await store.prune_rollups(hour, max_rows=100) == 0
    assert await store.prune_rollups(hour + timedelta(microseconds=1), max_rows=0) == 0
    assert await store.prune_rollups(hour + timedelta(microseconds=1), max_rows=100) == 1
    assert await store.rollups() == []


async def test_a_naive_cutoff_is_refused(store: Store) -> None:
    with pytest.raises((RepositoryError, ValueError)):
        await store.prune_rollups(datetime(2026, 1, 1), max_rows=10)
