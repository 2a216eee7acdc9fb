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

from sitemon_adapters.store.sqlite.repository import MIGRATIONS, SqliteStatusRepository
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
async def postgres_repository(
    request: pytest.FixtureRequest, *, through: str = "pg_dsn", cache: int = 100
) -> AsyncIterator[StatusRepository]:
    """A schema of its own on the real PostgreSQL, dropped after the test; reached
    through the DSN of the fixture named ``through``."""
    import asyncpg

    from sitemon_adapters.store.postgres import PostgresStatusRepository

    dsn = request.getfixturevalue("pg_dsn")
    schema = f"contract_{uuid.uuid4().hex[:12]}"
    try:
        async with PostgresStatusRepository(
            request.getfixturevalue(through), schema=schema, statement_cache_size=cache
        ) as repo:
            await repo.migrate()
            await repo.ensure_partitions(datetime.now(UTC))
            yield repo
    finally:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


@asynccontextmanager
async def pgbouncer_repository(request: pytest.FixtureRequest) -> AsyncIterator[StatusRepository]:
    """The PostgreSQL repository through a real PgBouncer in transaction mode (statement
    cache off, as it must be there)."""
    async with postgres_repository(request, through="pgbouncer_dsn", cache=0) as repo:
        yield repo


@asynccontextmanager
async def memory_repository(request: pytest.FixtureRequest) -> AsyncIterator[StatusRepository]:
    """The in-process reference repository (the unit tests' fake)."""
    from sitemon_adapters.store.memory import InMemoryStatusRepository

    yield InMemoryStatusRepository()


FACTORIES: dict[str, RepositoryFactory] = {
    "sqlite": sqlite_repository,
    "postgres": postgres_repository,
    "postgres-pgbouncer": pgbouncer_repository,
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
        tags=("prod", "team=web", "ünï ✓", ""),
    )
    await repository.save([full])
    assert await repository.history("full") == [full]
    assert (await repository.latest())[0].latest == full


# One result per outcome the model computes: up, bad_status, regex_miss, an error kind.
OUTCOMES = {
    "up": {},
    "bad_status": {"ok": False, "status_code": 404},
    "regex_miss": {"ok": False, "regex_matched": False},
    "timeout": {"ok": False, "status_code": None, "error_kind": ErrorKind.TIMEOUT},
}


async def test_outcome_and_tags_are_read_back(repository: StatusRepository) -> None:
    batch = [
        result(f"site-{name}", tags=(name, "prod"), **fields) for name, fields in OUTCOMES.items()
    ]
    assert [r.outcome for r in batch] == list(OUTCOMES)
    await repository.save(batch)
    latest = [s.latest for s in await repository.latest()]
    by_site = sorted(batch, key=lambda r: r.site_id)
    assert [(r.outcome, r.tags) for r in latest] == [(r.outcome, r.tags) for r in by_site]
    for r in batch:
        assert await repository.history(r.site_id) == [r]


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
        versions = conn.execute("SELECT version FROM schema_version ORDER BY version")
        assert versions.fetchall() == [(v,) for v in range(1, len(MIGRATIONS) + 1)]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_sqlite_version_1_database_is_upgraded_in_place(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "v1.db")
    kept = result(started_at=T0)
    _old_sqlite_database(path, 1, [kept])  # as the first release left it
    async with SqliteStatusRepository(path) as repo:
        await repo.migrate()
        assert await repo.history("site-a") == [kept]  # survives the upgrade
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT max(version) FROM schema_version").fetchone() == (6,)
        # Version 5 seeds the per-region latest results from the latest per site.
        assert conn.execute("SELECT check_id FROM site_region_status").fetchall() == [
            (kept.check_id,)
        ]
        indexes = {row[1] for row in conn.execute("PRAGMA index_list(check_history)")}
        assert "check_history_started" in indexes


def _old_sqlite_database(path: str, version: int, results: list[CheckResult]) -> None:
    """A database at schema ``version`` (1 or 2), holding ``results`` in both tables as
    that release stored them (no outcome, no tags)."""
    from sitemon_adapters.store.sqlite.rows import result_to_row

    old_columns = _V2_COLUMNS
    placeholders = ", ".join("?" * len(old_columns))
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for number, statements in enumerate(MIGRATIONS[:version], start=1):
            for statement in statements:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version VALUES (?)", (number,))
        rows = [result_to_row(r)[: len(old_columns)] for r in results]
        for table in ("check_history", "site_status"):
            conn.executemany(
                f"INSERT INTO {table} ({', '.join(old_columns)}) VALUES ({placeholders})", rows
            )
        conn.commit()


# The columns of schema versions 1 and 2, which the current ones extend at the end.
_V2_COLUMNS = (
    "check_id", "site_id", "url", "region", "started_at", "ok", "total_ms", "status_code",
    "dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "transfer_ms", "regex_matched",
    "bytes_read", "final_url", "error_kind", "error_message",
)  # fmt: skip


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


def _sqlite_columns(path: str, table: str) -> list[tuple[str, str]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return [(row[1], row[2]) for row in conn.execute(f"PRAGMA table_info({table})")]


async def test_sqlite_tables_have_the_declared_fields(tmp_path: pathlib.Path) -> None:
    # Fails when a field is added to store.fields without a migration adding its column.
    from sitemon_adapters.store.fields import FIELDS
    from sitemon_adapters.store.sqlite.rows import SQL_TYPES

    path = str(tmp_path / "fields.db")
    async with SqliteStatusRepository(path) as repo:
        await repo.migrate()
    declared = [(f.column, SQL_TYPES[f.type]) for f in FIELDS]
    assert _sqlite_columns(path, "check_history") == declared
    assert _sqlite_columns(path, "site_status") == declared


async def test_sqlite_stores_the_outcome_and_json_tags(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "outcome.db")
    batch = [result(f"s-{name}", tags=(name, "x"), **f) for name, f in OUTCOMES.items()]
    async with SqliteStatusRepository(path) as repo:
        await repo.migrate()
        await repo.save(batch)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        for table in ("check_history", "site_status"):
            rows = conn.execute(f"SELECT site_id, outcome, tags FROM {table} ORDER BY site_id")
            assert rows.fetchall() == sorted(
                (r.site_id, r.outcome, f'["{r.tags[0]}", "x"]') for r in batch
            )


async def test_sqlite_version_2_database_gets_outcome_and_tags(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "v2.db")
    old = [result(f"s-{name}", **fields) for name, fields in OUTCOMES.items()]
    _old_sqlite_database(path, 2, old)  # as the previous release left it
    async with SqliteStatusRepository(path) as repo:
        await repo.migrate()
        assert [s.latest for s in await repo.latest()] == sorted(old, key=lambda r: r.site_id)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        for table in ("check_history", "site_status"):
            rows = conn.execute(f"SELECT site_id, outcome, tags FROM {table} ORDER BY site_id")
            assert rows.fetchall() == sorted((r.site_id, r.outcome, "[]") for r in old)
