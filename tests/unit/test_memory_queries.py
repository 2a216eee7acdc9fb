"""The in-memory StatusQueries: filters, pages, cursors, uptime and latency from rollups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitemon_adapters.store.memory_queries import InMemoryStatusQueries
from sitemon_core.models import CheckResult, ErrorKind, PhaseTimings, Site
from sitemon_core.queries import (
    BAR_BUCKETS,
    QueryError,
    SiteQuery,
    SiteState,
    UnknownSiteError,
    Window,
    window_range,
)
from sitemon_core.rollup import HOUR, fold

NOW = datetime(2026, 3, 31, 12, 30, tzinfo=UTC)


def site(site_id: str, *tags: str, url: str = "") -> Site:
    return Site.http(
        id=site_id,
        url=url or f"https://{site_id}.example/",
        interval_s=60,
        timeout_s=5,
        tags=frozenset(tags),
    )


def result(
    site_id: str, minutes_ago: float, *, ok: bool = True, region: str = "eu", total: float = 10.0
) -> CheckResult:
    return CheckResult(
        check_id=f"{site_id}-{region}-{minutes_ago}",
        site_id=site_id,
        url=f"https://{site_id}.example/",
        region=region,
        started_at=NOW - timedelta(minutes=minutes_ago),
        ok=ok,
        total_ms=total,
        status_code=200 if ok else 500,
        timings=PhaseTimings(dns_ms=1.0, connect_ms=2.0, ttfb_ms=5.0, transfer_ms=2.0),
        error_kind=ErrorKind.NONE,
    )


async def test_sites_filter_by_tag_state_and_search_then_page() -> None:
    queries = InMemoryStatusQueries([site("a", "web"), site("b", "api"), site("c", "web")])
    await queries.save([result("a", 1), result("b", 1, ok=False)])

    def ids(page: object) -> list[str]:
        return [s.site_id for s in page.items]  # type: ignore[attr-defined]

    assert ids(await queries.sites(SiteQuery(now=NOW))) == ["a", "b", "c"]
    assert ids(await queries.sites(SiteQuery(now=NOW, tag="web"))) == ["a", "c"]
    assert ids(await queries.sites(SiteQuery(now=NOW, state=SiteState.DOWN))) == ["b"]
    assert ids(await queries.sites(SiteQuery(now=NOW, state=SiteState.UNKNOWN))) == ["c"]
    assert ids(await queries.sites(SiteQuery(now=NOW, search="B.EXAMPLE"))) == ["b"]
    page = await queries.sites(SiteQuery(now=NOW, offset=1, limit=1))
    assert (ids(page), page.total) == (["b"], 3)


async def test_search_never_matches_the_credentials_of_a_url() -> None:
    queries = InMemoryStatusQueries([site("a", url="https://bob:hunter2@a.example/")])
    assert (await queries.sites(SiteQuery(now=NOW, search="hunter2"))).total == 0
    assert (await queries.sites(SiteQuery(now=NOW, search="a.example"))).total == 1


async def test_a_site_is_degraded_when_only_some_regions_fail() -> None:
    queries = InMemoryStatusQueries([site("a")])
    await queries.save([result("a", 2, region="eu"), result("a", 1, region="us", ok=False)])
    summary = await queries.site("a", now=NOW)
    assert summary is not None
    assert summary.state is SiteState.DEGRADED
    assert [r.region for r in summary.regions] == ["eu", "us"]
    assert summary.latest is not None and summary.latest.region == "us"
    assert await queries.site("nope", now=NOW) is None


async def test_a_replayed_check_is_counted_once() -> None:
    queries = InMemoryStatusQueries()
    await queries.save([result("a", 1)])
    await queries.save([result("a", 1)])
    uptime = await queries.uptime("a", now=NOW)
    assert [f.checks for f in uptime.overall] == [1, 1, 1, 1]


async def test_the_uptime_bar_has_90_buckets_ending_with_now() -> None:
    queries = InMemoryStatusQueries()
    await queries.save([result("a", 1), result("a", 2 * 24 * 60, ok=False)])
    summary = await queries.site("a", now=NOW)
    assert summary is not None
    assert len(summary.bar) == BAR_BUCKETS
    assert summary.bar[-1] == 1.0
    assert summary.bar[-3] == 0.0
    assert summary.bar[-2] is None


async def test_checks_pages_with_a_cursor_newest_first_each_once() -> None:
    queries = InMemoryStatusQueries()
    await queries.save([result("a", m) for m in range(25)])
    seen: list[CheckResult] = []
    cursor = None
    while True:
        page = await queries.checks(
            "a", start=NOW - timedelta(days=1), end=NOW + HOUR, limit=10, cursor=cursor
        )
        seen.extend(page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(seen) == 25
    assert [r.started_at for r in seen] == sorted((r.started_at for r in seen), reverse=True)


@pytest.mark.parametrize(
    ("call", "parameter"),
    [
        ({"start": NOW, "end": NOW - HOUR}, "from"),
        ({"start": NOW - HOUR, "end": NOW, "limit": 10**9}, "limit"),
        ({"start": NOW - HOUR, "end": NOW, "cursor": "not-a-cursor!"}, "cursor"),
    ],
)
async def test_bad_parameters_name_themselves(call: dict[str, object], parameter: str) -> None:
    queries = InMemoryStatusQueries([site("a")])
    with pytest.raises(QueryError) as caught:
        await queries.checks("a", **call)  # type: ignore[arg-type]
    assert caught.value.parameter == parameter


async def test_unknown_sites_are_reported_as_such() -> None:
    queries = InMemoryStatusQueries()
    with pytest.raises(UnknownSiteError):
        await queries.uptime("ghost", now=NOW)
    with pytest.raises(UnknownSiteError):
        await queries.latency("ghost", start=NOW - HOUR, end=NOW, bucket=HOUR)


async def test_latency_has_one_point_per_bucket_with_phases() -> None:
    queries = InMemoryStatusQueries()
    await queries.save([result("a", m, total=float(m + 1)) for m in range(0, 180, 10)])
    points = await queries.latency("a", start=NOW - 24 * HOUR, end=NOW, bucket=HOUR)
    assert len(points) == 25  # the hour holding "from" through the one holding "to"
    assert sum(p.checks for p in points) == 18
    busy = [p for p in points if p.checks]
    assert all(p.p50_ms is not None and p.p99_ms is not None for p in busy)
    assert dict(busy[0].phases_ms) == {
        "dns": 1.0,
        "connect": 2.0,
        "tls": None,
        "ttfb": 5.0,
        "transfer": 2.0,
    }
    with pytest.raises(QueryError) as caught:
        await queries.latency("a", start=NOW - HOUR, end=NOW, bucket=timedelta(minutes=5))
    assert caught.value.parameter == "bucket"


MINUTES = st.integers(0, 45 * 24 * 60)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(MINUTES, st.booleans(), st.sampled_from(["eu", "us"])), max_size=40))
async def test_uptime_equals_a_brute_force_count_over_raw_results(
    checks: list[tuple[int, bool, str]],
) -> None:
    queries = InMemoryStatusQueries()
    raw = [
        attrs.evolve(result("a", m, ok=ok, region=region), check_id=str(i))
        for i, (m, ok, region) in enumerate(checks)
    ]
    await queries.save(raw + raw[:3])  # replays change nothing
    if not raw:
        return
    uptime = await queries.uptime("a", now=NOW)
    for figure in uptime.overall:
        start, end = window_range(figure.window, NOW, HOUR)
        inside = [r for r in raw if start <= r.started_at < end]
        assert (figure.checks, figure.ok) == (len(inside), sum(r.ok for r in inside))
    assert sorted(queries.rollups(), key=lambda r: r.key) == sorted(
        fold(raw).values(), key=lambda r: r.key
    )
    assert [w for w, _ in uptime.regions] == sorted({r.region for r in raw})
    assert [f.window for f in uptime.overall] == list(Window)


async def test_memory_stays_bounded_newest_checks_and_recent_rollups_kept() -> None:
    queries = InMemoryStatusQueries(max_checks_per_site=20, keep_rollups=timedelta(days=1))
    for day in range(5):
        queries.record(result("a", day * 24 * 60 + m) for m in range(0, 24 * 60, 30))
    page = await queries.checks("a", start=NOW - 10 * 24 * HOUR, end=NOW + HOUR, limit=500)
    assert 20 <= len(page.items) <= 22
    assert page.items[0].started_at == NOW  # the newest are the ones kept
    starts = {r.start for r in queries.rollups()}
    assert min(starts) >= NOW - 4 * 24 * HOUR  # the oldest days went
    assert len(starts) <= 2 * 24 + 1 + 24


async def test_observe_feeds_it_like_save() -> None:
    queries = InMemoryStatusQueries()
    queries.observe(result("a", 1), 0.1)
    assert (await queries.site("a", now=NOW)) is not None
