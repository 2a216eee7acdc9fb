"""The StatusQueries contract over every adapter: memory, SQLite and PostgreSQL.

Each factory yields a ``Store``: a ``save`` (the repository's, which maintains the rollups),
the ``StatusQueries`` reading them, and the stored rollups of a site (for the brute-force
law: rollups equal ``fold`` of the raw history the same store returns).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sitemon_adapters.store.memory_queries import InMemoryStatusQueries
from sitemon_core.models import CheckResult, ErrorKind, PhaseTimings, Site
from sitemon_core.queries import (
    QueryError,
    SiteQuery,
    SiteState,
    StatusQueries,
    UnknownSiteError,
    Window,
    window_range,
)
from sitemon_core.rollup import (
    HISTOGRAM_BUCKETS,
    HOUR,
    MAX_MS,
    Rollup,
    bucket_lower_ms,
    fold,
    percentile_ms,
)

NOW = datetime(2026, 3, 31, 12, 30, tzinfo=UTC)
FAR_PAST = datetime(2000, 1, 1, tzinfo=UTC)


@attrs.frozen
class Store:
    """What a test drives: writes, the port under test, the stored rollups."""

    save: Callable[[Sequence[CheckResult]], Awaitable[None]]
    queries: StatusQueries
    set_sites: Callable[[list[Site]], None]
    rollups: Callable[[str], Awaitable[list[Rollup]]]


@asynccontextmanager
async def memory_store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """The in-process reference."""
    queries = InMemoryStatusQueries()

    async def rollups(site_id: str) -> list[Rollup]:
        return [r for r in queries.rollups() if r.site_id == site_id]

    yield Store(queries.save, queries, queries.set_sites, rollups)


@asynccontextmanager
async def sqlite_store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """A fresh SQLite file; the queries share the repository's connection."""
    from sitemon_adapters.store.sqlite.queries import SqliteRollupReads, sqlite_status_queries
    from sitemon_adapters.store.sqlite.repository import SqliteStatusRepository

    path = request.getfixturevalue("tmp_path") / "sitemon.db"
    async with SqliteStatusRepository(str(path)) as repo:
        await repo.migrate()
        queries = sqlite_status_queries(repo)
        reads = SqliteRollupReads(repo)
        yield Store(
            repo.save,
            queries,
            queries.set_sites,
            lambda site_id: reads.rollups(site_id, FAR_PAST, NOW + 400 * HOUR),
        )


@asynccontextmanager
async def postgres_store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """A schema of its own on the real PostgreSQL, dropped after the test."""
    import asyncpg

    from sitemon_adapters.store.postgres import PostgresStatusRepository
    from sitemon_adapters.store.postgres.queries import (
        PostgresRollupReads,
        postgres_status_queries,
    )

    dsn = request.getfixturevalue("pg_dsn")
    schema = f"queries_{uuid.uuid4().hex[:12]}"
    try:
        async with PostgresStatusRepository(dsn, schema=schema) as repo:
            await repo.migrate()
            queries = postgres_status_queries(repo)
            reads = PostgresRollupReads(repo)
            yield Store(
                repo.save,
                queries,
                queries.set_sites,
                lambda site_id: reads.rollups(site_id, FAR_PAST, NOW + 400 * HOUR),
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


def site(site_id: str, *tags: str) -> Site:
    return Site.http(
        id=site_id,
        url=f"https://{site_id}.example/",
        interval_s=60,
        timeout_s=5,
        tags=frozenset(tags),
    )


def result(
    site_id: str,
    minutes_ago: float,
    *,
    ok: bool = True,
    region: str = "eu",
    total: float = 10.0,
    check_id: str | None = None,
) -> CheckResult:
    return CheckResult(
        check_id=check_id or f"{site_id}-{region}-{minutes_ago}",
        site_id=site_id,
        url=f"https://{site_id}.example/",
        region=region,
        started_at=NOW - timedelta(minutes=minutes_ago),
        ok=ok,
        total_ms=total,
        status_code=200 if ok else 500,
        timings=PhaseTimings(dns_ms=1.0, connect_ms=2.0, ttfb_ms=5.0, transfer_ms=2.0),
        error_kind=ErrorKind.NONE,
        error_message="" if ok else "HTTP 500",
    )


def ids(page: object) -> list[str]:
    return [s.site_id for s in page.items]  # type: ignore[attr-defined]


async def test_sites_filter_by_tag_state_and_search_then_page(store: Store) -> None:
    store.set_sites([site("a", "web"), site("b", "api"), site("c", "web")])
    await store.save([result("a", 1), result("b", 1, ok=False), result("x", 2)])
    q = store.queries
    assert ids(await q.sites(SiteQuery(now=NOW))) == ["a", "b", "c", "x"]
    assert ids(await q.sites(SiteQuery(now=NOW, tag="web"))) == ["a", "c"]
    assert ids(await q.sites(SiteQuery(now=NOW, state=SiteState.DOWN))) == ["b"]
    assert ids(await q.sites(SiteQuery(now=NOW, state=SiteState.UNKNOWN))) == ["c"]
    assert ids(await q.sites(SiteQuery(now=NOW, search="X.EXAMPLE"))) == ["x"]
    page = await q.sites(SiteQuery(now=NOW, offset=1, limit=2))
    assert (ids(page), page.total) == (["b", "c"], 4)


async def test_a_site_summary_has_its_regions_state_uptime_and_bar(store: Store) -> None:
    store.set_sites([site("a")])
    await store.save(
        [
            result("a", 30, region="eu"),
            result("a", 5, region="us", ok=False),
            result("a", 60 * 24 * 3, region="eu", ok=False),
        ]
    )
    summary = await store.queries.site("a", now=NOW)
    assert summary is not None
    assert summary.state is SiteState.DEGRADED
    assert [(r.region, r.latest.ok) for r in summary.regions] == [("eu", True), ("us", False)]
    assert summary.latest is not None and summary.latest.region == "us"
    assert [(f.window, f.checks, f.ok) for f in summary.uptime] == [
        (Window.DAY, 2, 1),
        (Window.WEEK, 3, 1),
        (Window.MONTH, 3, 1),
    ]
    assert summary.bar[-1] == 0.5 and summary.bar[-4] == 0.0 and summary.bar[-2] is None
    assert await store.queries.site("nobody", now=NOW) is None


async def test_a_slow_site_is_degraded_and_its_certificate_days_are_counted(
    store: Store,
) -> None:
    """The verdict and the certificate come through the per-region latest table as saved:
    the state filter (the light scan) and the summary (the full rows) agree."""
    site = Site.http(id="slow", url="https://slow.example/", interval_s=60, timeout_s=5)
    store.set_sites([attrs.evolve(site, tls_expiry_warning_s=7 * 86400.0)])
    not_after = NOW + timedelta(days=5, hours=1)
    await store.save(
        [
            attrs.evolve(result("slow", 3, region="eu"), degraded=True, tls_not_after=not_after),
            attrs.evolve(
                result("slow", 2, region="us"), tls_not_after=not_after + timedelta(days=30)
            ),
            result("fast", 2, region="eu"),
        ]
    )
    degraded = await store.queries.sites(SiteQuery(now=NOW, state=SiteState.DEGRADED))
    assert [s.site_id for s in degraded.items] == ["slow"]
    up = await store.queries.sites(SiteQuery(now=NOW, state=SiteState.UP))
    assert [s.site_id for s in up.items] == ["fast"]
    summary = await store.queries.site("slow", now=NOW)
    assert summary is not None and summary.state is SiteState.DEGRADED
    assert [r.latest.verdict for r in summary.regions] == ["degraded", "up"]
    assert summary.certificate is not None
    assert summary.certificate.not_after == not_after  # the soonest of the regions
    assert (summary.certificate.days_left, summary.certificate.expiring) == (5, True)
    fast = await store.queries.site("fast", now=NOW)
    assert fast is not None and fast.certificate is None and fast.state is SiteState.UP


async def test_checks_are_paged_by_cursor_newest_first_without_gap_or_repeat(
    store: Store,
) -> None:
    saved = [result("a", m, check_id=f"c{m % 3}-{m}") for m in range(25)]
    saved += [result("a", 7, check_id="c-same-time")]  # ties resolve by check id
    await store.save(saved)
    seen: list[CheckResult] = []
    cursor = None
    while True:
        page = await store.queries.checks(
            "a", start=NOW - HOUR, end=NOW + HOUR, limit=4, cursor=cursor
        )
        seen.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    expected = sorted(saved, key=lambda r: (r.started_at, r.check_id), reverse=True)
    assert seen == expected
    window = await store.queries.checks("a", start=NOW - timedelta(minutes=10), end=NOW)
    assert window.items[0].check_id == "c1-1"  # minute 0 is at `end`: excluded


async def test_bad_parameters_and_unknown_sites_are_query_errors(store: Store) -> None:
    await store.save([result("a", 1)])
    q = store.queries
    with pytest.raises(QueryError) as bad_cursor:
        await q.checks("a", start=NOW - HOUR, end=NOW, cursor="not-a-cursor")
    assert bad_cursor.value.parameter == "cursor"
    with pytest.raises(QueryError) as bad_range:
        await q.checks("a", start=NOW, end=NOW - HOUR)
    assert bad_range.value.parameter == "from"
    with pytest.raises(QueryError) as bad_limit:
        await q.sites(SiteQuery(now=NOW, limit=10**9))
    assert bad_limit.value.parameter == "limit"
    for call in (
        q.uptime("nobody", now=NOW),
        q.latency("nobody", start=NOW - HOUR, end=NOW, bucket=HOUR),
        q.checks("nobody", start=NOW - HOUR, end=NOW),
    ):
        with pytest.raises(UnknownSiteError):
            await call


async def test_a_replayed_batch_counts_once(store: Store) -> None:
    batch = [result("a", m, ok=m % 2 == 0) for m in range(0, 200, 7)]
    await store.save(batch)
    once = sorted(await store.rollups("a"), key=lambda r: r.key)
    await store.save(batch)
    await store.save(list(reversed(batch[:5])))
    assert sorted(await store.rollups("a"), key=lambda r: r.key) == once
    assert sum(r.checks for r in once) == len(batch)


# --- the law: whatever was saved, in whatever batches and repeats, the answers equal a
# brute-force computation from the raw history the store returns ---

_RESULTS = st.lists(
    st.builds(
        lambda site_id, region, minutes, ok, total, n: result(
            site_id, minutes, ok=ok, region=region, total=total, check_id=f"{site_id}/{n}"
        ),
        st.sampled_from(["s1", "s2"]),
        st.sampled_from(["eu", "us"]),
        st.floats(min_value=0, max_value=60 * 24 * 32, allow_nan=False),
        st.booleans(),
        st.floats(min_value=0, max_value=30_000, allow_nan=False),
        st.integers(min_value=0, max_value=60),  # collisions: the same check saved twice
    ),
    max_size=40,
)


async def _raw(store: Store, site_id: str) -> list[CheckResult]:
    page = await store.queries.checks(site_id, start=FAR_PAST, end=NOW + HOUR, limit=500)
    return list(page.items)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(results=_RESULTS, cut=st.integers(min_value=0, max_value=40))
async def test_rollups_and_answers_equal_a_brute_force_from_raw_history(
    store: Store, results: list[CheckResult], cut: int
) -> None:
    prefix = uuid.uuid4().hex[:8]  # one store for every example: sites of their own
    results = [
        attrs.evolve(r, site_id=prefix + r.site_id, check_id=prefix + r.check_id) for r in results
    ]
    await store.save(results[:cut])
    await store.save(results[cut:])
    await store.save(results[: cut // 2])  # a replay
    for site_id in {r.site_id for r in results}:
        raw = await _raw(store, site_id)
        stored = {r.key: r for r in await store.rollups(site_id)}
        assert stored == fold(raw)
        uptime = await store.queries.uptime(site_id, now=NOW)
        for figure in uptime.overall:
            start, end = window_range(figure.window, NOW, HOUR)
            inside = [r for r in raw if start <= r.started_at < end]
            assert (figure.checks, figure.ok) == (len(inside), sum(r.ok for r in inside))
        points = await store.queries.latency(
            site_id, start=NOW - timedelta(hours=24), end=NOW, bucket=HOUR
        )
        for point in points:
            inside = [r for r in raw if point.start <= r.started_at < point.start + HOUR]
            merged = fold(attrs.evolve(r, region="*") for r in inside).values()
            histogram = next(iter(merged)).histogram if inside else ()
            assert point.checks == len(inside)
            assert point.p99_ms == percentile_ms(histogram, 0.99)


async def test_times_on_histogram_edges_land_in_the_buckets_python_computes(store: Store) -> None:
    # The SQL fold must agree with bucket_of/to_us bit for bit, also where float rounding
    # could tip a value across an edge, and for clamped times.
    edges = [bucket_lower_ms(i) for i in (1, 2, 17, 50, 100, 150, HISTOGRAM_BUCKETS - 1)]
    totals = [0.0, 0.05, -1.0, MAX_MS, 2 * MAX_MS, 0.0005, 0.0015, 12.3455]
    totals += edges + [math.nextafter(edge, 0.0) for edge in edges]
    results = [
        result("edges", 1, total=total, check_id=f"edge-{n}") for n, total in enumerate(totals)
    ]
    for at in range(0, len(results), 5):  # several batches into one rollup row
        await store.save(results[at : at + 5])
    stored = {r.key: r for r in await store.rollups("edges")}
    assert stored == fold(await _raw(store, "edges"))
    assert stored == fold(results)


async def test_uptime_lists_every_region_that_reported(store: Store) -> None:
    await store.save(
        [
            result("a", 5, region="eu"),
            result("a", 10, region="us", ok=False),
            result("a", 60 * 24 * 40, region="ap"),  # silent for 40 days: zeros
        ]
    )
    uptime = await store.queries.uptime("a", now=NOW)
    assert [(region, [f.checks for f in figures]) for region, figures in uptime.regions] == [
        ("ap", [0, 0, 0, 0]),
        ("eu", [1, 1, 1, 1]),
        ("us", [1, 1, 1, 1]),
    ]
    assert [(f.window, f.checks, f.ok) for f in uptime.overall] == [
        (Window.HOUR, 2, 1),
        (Window.DAY, 2, 1),
        (Window.WEEK, 2, 1),
        (Window.MONTH, 2, 1),
    ]


async def test_a_reader_is_ready_only_once_the_schema_is_current(pg_dsn: str) -> None:
    """PostgreSQL read by ``sitemon-run web`` (``check_schema``): ping fails, naming the
    schema, its version and ``sitemon-run migrate``, while the schema is absent or older;
    the check itself creates nothing."""
    import asyncpg

    from sitemon_adapters.store.postgres import PostgresStatusRepository
    from sitemon_adapters.store.postgres.migrations import LEDGER, latest_version
    from sitemon_adapters.store.postgres.queries import postgres_status_queries
    from sitemon_core.errors import RepositoryError

    schema = f"reader_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_dsn)
    try:
        async with PostgresStatusRepository(pg_dsn, schema=schema) as repo:
            queries = postgres_status_queries(repo, check_schema=True)
            with pytest.raises(RepositoryError, match="has no sitemon tables") as absent:
                await queries.ping()
            assert f'schema "{schema}"' in str(absent.value) and absent.value.retriable
            assert "sitemon-run migrate" in str(absent.value)
            exists = "SELECT 1 FROM pg_namespace WHERE nspname = $1"
            assert await admin.fetchval(exists, schema) is None
            await repo.migrate()
            await queries.ping()
            newest = latest_version()
            await admin.execute(f'DELETE FROM "{schema}".{LEDGER} WHERE version = $1', newest)
            with pytest.raises(RepositoryError, match=f"is at version {newest - 1}, this release"):
                await queries.ping()
            await postgres_status_queries(repo).ping()  # the writers' queries do not check
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()
