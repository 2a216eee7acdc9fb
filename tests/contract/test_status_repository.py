"""The StatusRepository contract, run against every repository adapter.

To add an adapter, add an async-context-manager factory to ``FACTORIES``: it gets the
pytest request (to reach fixtures such as ``pg_dsn`` or ``tmp_path``) and yields an
open, migrated, empty repository.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import pathlib
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sitemon_adapters.store.sqlite.repository import SqliteStatusRepository
from sitemon_core.errors import RepositoryError
from sitemon_core.models import CheckResult, ErrorKind, PhaseTimings, SiteStatus
from sitemon_core.ordering import order_key
from sitemon_core.ports import StatusRepository
from tests.strategies import check_results

T0 = datetime(2026, 1, 1, tzinfo=UTC)

RepositoryFactory = Callable[[pytest.FixtureRequest], AbstractAsyncContextManager[StatusRepository]]


@asynccontextmanager
async def sqlite_repository(request: pytest.FixtureRequest) -> AsyncIterator[StatusRepository]:
    """A fresh SQLite file in the test's temporary directory."""
    tmp_path = request.getfixturevalue("tmp_path")
    async with SqliteStatusRepository(str(tmp_path / "sitemon.db")) as repo:
        await repo.migrate()
        yield repo


@asynccontextmanager
async def postgres_repository(request: pytest.FixtureRequest) -> AsyncIterator[StatusRepository]:
    """A schema of its own on the real PostgreSQL, dropped after the test."""
    import asyncpg

    from sitemon_adapters.store.postgres import PostgresStatusRepository

    dsn = request.getfixturevalue("pg_dsn")
    schema = f"contract_{uuid.uuid4().hex[:12]}"
    try:
        async with PostgresStatusRepository(dsn, schema=schema) as repo:
            await repo.migrate()
            yield repo
    finally:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


@asynccontextmanager
async def memory_repository(request: pytest.FixtureRequest) -> AsyncIterator[StatusRepository]:
    """The in-process reference repository (the unit tests' fake)."""
    from sitemon_adapters.store.memory import InMemoryStatusRepository

    yield InMemoryStatusRepository()


FACTORIES: dict[str, RepositoryFactory] = {
    "sqlite": sqlite_repository,
    "postgres": postgres_repository,
    "memory": memory_repository,
}


@pytest.fixture(params=sorted(FACTORIES))
async def repository(request: pytest.FixtureRequest) -> AsyncIterator[StatusRepository]:
    """An open, migrated, empty repository of each adapter."""
    async with FACTORIES[request.param](request) as repo:
        yield repo


def result(
    site_id: str = "site-a", seconds: float = 0, *, check_id: str | None = None, **fields: object
) -> CheckResult:
    """A result of ``site_id`` started ``seconds`` after T0 (check id derived from both)."""
    return CheckResult(
        **{  # type: ignore[arg-type]
            "check_id": check_id or f"{site_id}-{seconds}",
            "site_id": site_id,
            "url": f"https://{site_id}.example/",
            "region": "eu",
            "started_at": T0 + timedelta(seconds=seconds),
            "ok": True,
            "total_ms": 12.5,
            "status_code": 200,
            **fields,
        }
    )


async def test_saved_result_is_the_latest_status(repository: StatusRepository) -> None:
    r = result()
    await repository.save([r])
    assert await repository.latest() == [SiteStatus(site_id="site-a", latest=r)]


async def test_latest_is_one_status_per_site_ordered_by_site_id(
    repository: StatusRepository,
) -> None:
    await repository.save([result("b"), result("c"), result("a")])
    assert [s.site_id for s in await repository.latest()] == ["a", "b", "c"]


async def test_an_older_result_after_a_newer_one_leaves_latest_unchanged(
    repository: StatusRepository,
) -> None:
    newer, older = result(seconds=60), result(seconds=0, ok=False)
    await repository.save([newer])
    await repository.save([older])
    assert await repository.latest() == [SiteStatus(site_id="site-a", latest=newer)]
    assert await repository.history("site-a") == [newer, older]


async def test_a_newer_result_replaces_latest(repository: StatusRepository) -> None:
    await repository.save([result(seconds=0)])
    newer = result(seconds=1, ok=False, status_code=503)
    await repository.save([newer])
    assert (await repository.latest())[0].latest == newer


async def test_same_start_time_resolves_by_check_id_whatever_the_order(
    repository: StatusRepository,
) -> None:
    low, high = result(check_id="aaa"), result(check_id="bbb", ok=False)
    await repository.save([high])
    await repository.save([low])
    assert (await repository.latest())[0].latest == high


@pytest.mark.parametrize("arrival", list(itertools.permutations(range(3))), ids=str)
async def test_ties_resolve_by_the_core_rule_whatever_the_arrival(
    repository: StatusRepository, arrival: tuple[int, ...]
) -> None:
    # Same start time, ids whose code point order differs from most locales' collation
    # ("B" < "a" < "é" by code point): every store must pick the winner the core's
    # ordering picks, whether the tied results arrive in one batch or one by one.
    tied = [result(check_id=c, ok=c != "a") for c in ("a", "é", "B")]
    first, *rest = (tied[i] for i in arrival)
    await repository.save([first])
    await repository.save(rest)
    winner = max(tied, key=order_key)
    assert winner.check_id == "é"
    assert (await repository.latest())[0].latest == winner
    assert await repository.history("site-a") == sorted(tied, key=order_key, reverse=True)


async def test_replaying_a_batch_changes_nothing(repository: StatusRepository) -> None:
    batch = [result("a", 0), result("a", 1), result("b", 0)]
    await repository.save(batch)
    latest, history = await repository.latest(), await repository.history("a")
    await repository.save(batch)
    assert await repository.latest() == latest
    assert await repository.history("a") == history == [batch[1], batch[0]]


async def test_newest_of_a_site_wins_within_one_batch(repository: StatusRepository) -> None:
    old, new, middle = result(seconds=0), result(seconds=20), result(seconds=10)
    await repository.save([old, new, middle])
    assert (await repository.latest())[0].latest == new
    assert await repository.history("site-a") == [new, middle, old]


async def test_history_is_newest_first_filtered_and_limited(
    repository: StatusRepository,
) -> None:
    results = [result("a", s) for s in range(10)] + [result("b", 5)]
    await repository.save(results)

    assert await repository.history("a") == results[9::-1]
    assert await repository.history("a", since=T0 + timedelta(seconds=7)) == results[9:6:-1]
    assert await repository.history("a", limit=3) == results[9:6:-1]
    assert await repository.history("a", since=T0 + timedelta(seconds=2), limit=2) == [
        results[9],
        results[8],
    ]
    assert await repository.history("a", limit=0) == []
    assert await repository.history("nobody") == []


async def test_since_compares_instants_not_wall_clocks(repository: StatusRepository) -> None:
    r = result(seconds=3600)
    await repository.save([r])
    plus_two = datetime(2026, 1, 1, 3, 0, tzinfo=timezone(timedelta(hours=2)))
    assert plus_two == r.started_at  # the same instant, another wall clock
    assert await repository.history("site-a", since=plus_two) == [r]


async def test_an_empty_batch_is_fine(repository: StatusRepository) -> None:
    await repository.save([])
    assert await repository.latest() == []


async def test_a_thousand_sites_in_one_batch(repository: StatusRepository) -> None:
    batch = [result(f"site-{i:04}", i % 7) for i in range(1000)]
    await repository.save(batch)
    latest = await repository.latest()
    assert [s.latest for s in latest] == batch
    assert await repository.history("site-0999") == [batch[999]]


async def test_concurrent_saves_are_each_atomic(repository: StatusRepository) -> None:
    batches = [[result(f"s{i}", j) for j in range(20)] for i in range(5)]
    await asyncio.gather(*(repository.save(b) for b in batches))
    assert [s.latest for s in await repository.latest()] == [b[-1] for b in batches]


async def test_every_field_round_trips(repository: StatusRepository) -> None:
    full = result(
        "full",
        1.234567,
        status_code=None,
        regex_matched=False,
        bytes_read=2**62,
        final_url="https://full.example/é",
        error_kind=ErrorKind.BODY_TOO_LARGE,
        error_message="body over 1 MiB ✂",
        total_ms=-0.0,
        timings=PhaseTimings(
            dns_ms=0.1, connect_ms=None, tls_ms=3e-300, ttfb_ms=1e300, transfer_ms=7.0
        ),
    )
    await repository.save([full])
    assert await repository.history("full") == [full]
    assert (await repository.latest())[0].latest == full


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batch=st.lists(
        check_results(site_ids=st.sampled_from(["x", "y"])),
        max_size=8,
        unique_by=lambda r: r.check_id,
    )
)
async def test_arbitrary_results_round_trip(
    repository: StatusRepository, batch: list[CheckResult]
) -> None:
    # The repository lives across examples, so each example stores under its own ids.
    prefix = uuid.uuid4().hex
    batch = [
        attrs.evolve(r, site_id=prefix + r.site_id, check_id=prefix + r.check_id) for r in batch
    ]
    await repository.save(batch)

    latest = {s.site_id: s.latest for s in await repository.latest()}
    for site_id in {r.site_id for r in batch}:
        expected = sorted((r for r in batch if r.site_id == site_id), key=order_key, reverse=True)
        assert await repository.history(site_id) == expected
        assert latest[site_id] == expected[0]


# --- history retention ---


async def test_prune_deletes_only_checks_started_before_the_cutoff(
    repository: StatusRepository,
) -> None:
    results = [result("a", s) for s in range(10)] + [result("b", 0), result("b", 100)]
    await repository.save(results)
    deleted = await repository.prune_history(T0 + timedelta(seconds=5), max_rows=100)
    assert deleted == 6  # a: 0..4, b: 0
    assert await repository.history("a") == results[9:4:-1]
    assert await repository.history("b") == [results[11]]
    assert await repository.prune_history(T0 + timedelta(seconds=5), max_rows=100) == 0


async def test_prune_takes_at_most_max_rows_per_call(repository: StatusRepository) -> None:
    await repository.save([result("a", s) for s in range(25)])
    cutoff = T0 + timedelta(seconds=20)
    assert [await repository.prune_history(cutoff, max_rows=8) for _ in range(4)] == [8, 8, 4, 0]
    assert len(await repository.history("a")) == 5
    assert await repository.prune_history(cutoff, max_rows=0) == 0


async def test_prune_never_deletes_a_latest_status(repository: StatusRepository) -> None:
    await repository.save([result("old", 0), result("new", 0), result("new", 50)])
    await repository.prune_history(T0 + timedelta(days=1), max_rows=100)
    assert await repository.history("old") == [] == await repository.history("new")
    assert [(s.site_id, s.latest) for s in await repository.latest()] == [
        ("new", result("new", 50)),
        ("old", result("old", 0)),
    ]


async def test_prune_cutoff_is_an_instant(repository: StatusRepository) -> None:
    await repository.save([result("a", 0), result("a", 3600)])
    plus_two = datetime(2026, 1, 1, 3, 0, tzinfo=timezone(timedelta(hours=2)))  # = T0 + 1 h
    assert await repository.prune_history(plus_two, max_rows=10) == 1
    with pytest.raises(RepositoryError):
        await repository.prune_history(datetime(2026, 1, 1), max_rows=10)  # naive


# --- SQLite-specific behaviour (not part of the port's contract) ---


async def test_sqlite_migrate_is_idempotent(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "m.db")
    async with SqliteStatusRepository(path) as repo:
        await repo.migrate()
        await repo.save([result()])
        await repo.migrate()
        assert len(await repo.latest()) == 1
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall() == [
            (1,),
            (2,),
        ]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_sqlite_version_1_database_is_upgraded_in_place(tmp_path: pathlib.Path) -> None:
    from sitemon_adapters.store.sqlite.repository import MIGRATIONS

    path = str(tmp_path / "v1.db")
    kept = result()
    with contextlib.closing(sqlite3.connect(path)) as conn:  # as the first release left it
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for statement in MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version VALUES (1)")
        conn.commit()
    async with SqliteStatusRepository(path) as repo:
        await repo.save([kept])  # works on version 1 ...
        await repo.migrate()
        assert await repo.history("site-a") == [kept]  # ... and survives the upgrade
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT max(version) FROM schema_version").fetchone() == (2,)
        indexes = {row[1] for row in conn.execute("PRAGMA index_list(check_history)")}
        assert "check_history_started" in indexes


async def test_sqlite_locked_database_is_a_retriable_error(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "locked.db")
    async with SqliteStatusRepository(path, busy_timeout_s=0.05) as repo:
        await repo.migrate()
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")  # holds the write lock
            with pytest.raises(RepositoryError, match="locked") as caught:
                await repo.save([result()])
            assert caught.value.retriable
            other.execute("ROLLBACK")
        await repo.save([result()])  # and it works again once the lock is gone
        assert len(await repo.latest()) == 1


async def test_sqlite_unopened_repository_is_an_error(tmp_path: pathlib.Path) -> None:
    repo = SqliteStatusRepository(str(tmp_path / "never.db"))
    with pytest.raises(RepositoryError, match="not open"):
        await repo.latest()


async def test_sqlite_naive_datetime_is_a_non_retriable_error(tmp_path: pathlib.Path) -> None:
    with attrs.validators.disabled():  # the model refuses naive times; defence in depth
        naive = attrs.evolve(result(), started_at=datetime(2026, 1, 1))
    async with SqliteStatusRepository(str(tmp_path / "naive.db")) as repo:
        await repo.migrate()
        with pytest.raises(RepositoryError) as caught:
            await repo.save([result("other"), naive])
        assert not caught.value.retriable
        assert await repo.latest() == []  # the whole batch was rolled back
