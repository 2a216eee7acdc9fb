"""``StatusQueries`` over a database that keeps rollups: the logic shared by SQLite and
PostgreSQL, which differ only in the handful of reads of ``RollupReads``.

Uptime, the uptime bar and latency come from the hourly rollups (summed by the database);
states come from the per-region latest results; raw history is read only by ``checks``,
one keyset page at a time. The catalogue (ids, URLs, tags) comes from the configuration.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol

from sitemon_core.models import DEFAULT_TLS_EXPIRY_WARNING_S, CheckResult, Site
from sitemon_core.queries import (
    BAR_BUCKETS,
    DAY,
    CheckPage,
    LatencyPoint,
    RegionStatus,
    SitePage,
    SiteQuery,
    SiteState,
    SiteSummary,
    SiteUptime,
    UnknownSiteError,
    UptimeFigure,
    Window,
    certificate_of,
    check_bucket,
    check_limit,
    check_range,
    decode_cursor,
    encode_cursor,
    redact_url,
    state_from,
    state_of,
    window_range,
)
from sitemon_core.rollup import (
    HOUR,
    Rollup,
    combine_all,
    percentile_ms,
    period_start,
    phase_means_ms,
)

SUMMARY_WINDOWS = (Window.DAY, Window.WEEK, Window.MONTH)


class RegionState(NamedTuple):
    """The little the site list needs of one site's region: its verdict, when, which URL.

    A named tuple, built straight from a database row: the site list reads one per site
    and region on every request (10,000 sites: an attrs class's ``__init__`` was a fifth
    of the list's CPU)."""

    site_id: str
    region: str
    ok: bool
    started_at: datetime
    url: str
    degraded: bool = False

    @property
    def verdict(self) -> str:
        """``up``, ``degraded`` or ``down``, as ``CheckResult.verdict``."""
        if self.ok:
            return "degraded" if self.degraded else "up"
        return "down"


def warning_window(site: Site | None) -> float:
    """The site's ``tls_expiry_warning`` (the default for a site not in the catalogue)."""
    return DEFAULT_TLS_EXPIRY_WARNING_S if site is None else site.tls_expiry_warning_s


class RollupReads(Protocol):
    """The reads a database answers for ``RollupStatusQueries``."""

    async def ping(self) -> None:
        """Return when the database answers; raise ``RepositoryError`` otherwise."""
        ...

    async def region_states(self) -> list[RegionState]:
        """Every site's per-region latest state (one light scan)."""
        ...

    async def region_latest(self, site_ids: Sequence[str]) -> list[CheckResult]:
        """The newest result per region of ``site_ids``."""
        ...

    async def window_sums(
        self, site_ids: Sequence[str], starts: Sequence[datetime], end: datetime
    ) -> list[tuple[str, str, tuple[tuple[int, int], ...]]]:
        """Per site and region, (checks, ok) of the rollups in ``[start, end)`` for each
        of ``starts``."""
        ...

    async def bucket_sums(
        self, site_ids: Sequence[str], start: datetime, end: datetime, step: timedelta
    ) -> list[tuple[str, datetime, int, int]]:
        """Per site and ``step`` bucket (UTC-midnight aligned) in ``[start, end)``:
        (site, bucket start, checks, ok), all regions together."""
        ...

    async def rollups(self, site_id: str, start: datetime, end: datetime) -> list[Rollup]:
        """The hourly rollups of ``site_id`` with a start in ``[start, end)``."""
        ...

    async def checks_page(
        self,
        site_id: str,
        start: datetime,
        end: datetime,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[CheckResult]:
        """Up to ``limit`` checks in ``[start, end)`` older than ``after``, newest first."""
        ...


class RollupStatusQueries:
    """``StatusQueries`` over ``RollupReads`` and a catalogue of configured sites."""

    def __init__(self, reads: RollupReads, sites: Iterable[Site] = ()) -> None:
        self._reads = reads
        self._catalogue: dict[str, Site] = {}
        self.set_sites(sites)

    def set_sites(self, sites: Iterable[Site]) -> None:
        """Replace the catalogue (ids, URLs, tags); results of other sites stay listed."""
        self._catalogue = {site.id: site for site in sites}

    async def ping(self) -> None:
        """Whether the database answers."""
        await self._reads.ping()

    async def sites(self, query: SiteQuery) -> SitePage:
        """Filter every known site on the light per-region scan, summarise one page."""
        check_limit(query.limit)
        states: dict[str, list[RegionState]] = {}
        for state in await self._reads.region_states():
            states.setdefault(state.site_id, []).append(state)
        known = sorted(self._catalogue.keys() | states.keys())
        filtered = query.tag is not None or query.state is not None or query.search
        matches = (
            [s for s in known if self._matches(s, states.get(s, []), query)] if filtered else known
        )
        page = matches[query.offset : query.offset + query.limit]
        items = await self._summaries(page, query.now, query.bar_bucket)
        return SitePage(items=items, total=len(matches), offset=query.offset, limit=query.limit)

    async def site(
        self, site_id: str, *, now: datetime, bar_bucket: timedelta = DAY
    ) -> SiteSummary | None:
        """One site's summary, None when unknown."""
        items = await self._summaries([site_id], now, bar_bucket)
        return items[0] if items[0].regions or site_id in self._catalogue else None

    async def checks(
        self,
        site_id: str,
        *,
        start: datetime,
        end: datetime,
        limit: int = 100,
        cursor: str | None = None,
    ) -> CheckPage:
        """A keyset page of raw history, newest first."""
        check_range(start, end)
        check_limit(limit)
        after = decode_cursor(cursor) if cursor is not None else None
        await self._require(site_id)
        rows = await self._reads.checks_page(site_id, start, end, after, limit + 1)
        items = tuple(rows[:limit])
        last = items[-1] if items else None
        more = len(rows) > limit and last is not None
        return CheckPage(
            items=items,
            next_cursor=encode_cursor(last.started_at, last.check_id) if more and last else None,
        )

    async def uptime(self, site_id: str, *, now: datetime) -> SiteUptime:
        """Every window, per region and overall, from the database's sums of rollups; every
        region that ever reported is listed (with zeros when silent in every window)."""
        await self._require(site_id)
        ranges = [window_range(w, now, HOUR) for w in Window]
        rows = await self._reads.window_sums([site_id], [s for s, _ in ranges], ranges[0][1])
        sums_of = {region: sums for _, region, sums in rows}
        for latest in await self._reads.region_latest([site_id]):
            sums_of.setdefault(latest.region, ((0, 0),) * len(ranges))
        regions = sorted(sums_of.items())
        overall = [
            (sum(s[i][0] for _, s in regions), sum(s[i][1] for _, s in regions))
            for i in range(len(ranges))
        ]
        return SiteUptime(
            overall=_figures(Window, overall),
            regions=tuple((region, _figures(Window, sums)) for region, sums in regions),
        )

    async def latency(
        self, site_id: str, *, start: datetime, end: datetime, bucket: timedelta
    ) -> tuple[LatencyPoint, ...]:
        """One point per bucket, merged from the hourly rollups of every region."""
        check_range(start, end)
        check_bucket(bucket, start, end)
        await self._require(site_id)
        starts = [period_start(start, bucket)]
        while starts[-1] + bucket < end:
            starts.append(starts[-1] + bucket)
        groups: dict[datetime, list[Rollup]] = {}
        for rollup in await self._reads.rollups(site_id, starts[0], starts[-1] + bucket):
            groups.setdefault(period_start(rollup.start, bucket), []).append(rollup)
        return tuple(latency_point(site_id, at, groups.get(at, [])) for at in starts)

    async def _require(self, site_id: str) -> None:
        if site_id not in self._catalogue and not await self._reads.region_latest([site_id]):
            raise UnknownSiteError(site_id)

    def _url(self, site_id: str, states: Sequence[RegionState]) -> str:
        site = self._catalogue.get(site_id)
        if site is not None or not states:
            return site.target if site is not None else ""
        return max(states, key=lambda s: s.started_at).url

    def _matches(self, site_id: str, states: list[RegionState], query: SiteQuery) -> bool:
        site = self._catalogue.get(site_id)
        if query.tag is not None and (site is None or query.tag not in site.tags):
            return False
        if query.state is not None and _state(states) is not query.state:
            return False
        if query.search:
            haystack = f"{site_id}\n{redact_url(self._url(site_id, states))}".casefold()
            return query.search.casefold() in haystack
        return True

    async def _summaries(
        self, site_ids: list[str], now: datetime, bar_bucket: timedelta
    ) -> tuple[SiteSummary, ...]:
        if not site_ids:
            return ()
        ranges = [window_range(w, now, HOUR) for w in SUMMARY_WINDOWS]
        last = period_start(now, bar_bucket)
        first = last - (BAR_BUCKETS - 1) * bar_bucket
        # Three independent reads, at once (each on its own pooled connection).
        latest_rows, window_rows, bar_rows = await asyncio.gather(
            self._reads.region_latest(site_ids),
            self._reads.window_sums(site_ids, [s for s, _ in ranges], ranges[0][1]),
            self._reads.bucket_sums(site_ids, first, last + bar_bucket, bar_bucket),
        )
        latest: dict[str, list[CheckResult]] = {s: [] for s in site_ids}
        for result in latest_rows:
            latest[result.site_id].append(result)
        windows: dict[str, list[tuple[int, int]]] = {}
        for site_id, _, sums in window_rows:
            total = windows.setdefault(site_id, [(0, 0)] * len(ranges))
            windows[site_id] = [(a + c, b + o) for (a, b), (c, o) in zip(total, sums, strict=True)]
        bars: dict[str, list[tuple[int, int]]] = {s: [(0, 0)] * BAR_BUCKETS for s in site_ids}
        for site_id, at, checks, ok in bar_rows:
            bars[site_id][(at - first) // bar_bucket] = (checks, ok)
        return tuple(
            self._summary(s, latest[s], windows.get(s, [(0, 0)] * len(ranges)), bars[s], now)
            for s in site_ids
        )

    def _summary(
        self,
        site_id: str,
        latest: list[CheckResult],
        windows: Sequence[tuple[int, int]],
        bar: Sequence[tuple[int, int]],
        now: datetime,
    ) -> SiteSummary:
        regions = tuple(
            RegionStatus(region=r.region, latest=r) for r in sorted(latest, key=lambda r: r.region)
        )
        site = self._catalogue.get(site_id)
        newest = max((r.latest for r in regions), key=lambda r: r.started_at, default=None)
        return SiteSummary(
            site_id=site_id,
            url=site.target if site is not None else (newest.url if newest else ""),
            tags=site.tags if site else frozenset(),
            state=state_of(regions),
            latest=newest,
            regions=regions,
            uptime=_figures(SUMMARY_WINDOWS, windows),
            bar=tuple(ok / checks if checks else None for checks, ok in bar),
            certificate=certificate_of(regions, now, warning_window(site)),
        )


def _state(states: Sequence[RegionState]) -> SiteState:
    return state_from(s.verdict for s in states)


def _figures(
    windows: Iterable[Window], sums: Sequence[tuple[int, int]]
) -> tuple[UptimeFigure, ...]:
    return tuple(
        UptimeFigure(window=w, checks=c, ok=o) for w, (c, o) in zip(windows, sums, strict=True)
    )


def latency_point(site_id: str, start: datetime, rollups: list[Rollup]) -> LatencyPoint:
    """The latency of one bucket from the rollups that fall in it (every region)."""
    total = combine_all(rollups, key=(site_id, "*", start))
    return LatencyPoint(
        start=start,
        checks=total.checks,
        p50_ms=percentile_ms(total.histogram, 0.50),
        p95_ms=percentile_ms(total.histogram, 0.95),
        p99_ms=percentile_ms(total.histogram, 0.99),
        mean_ms=total.total_sum_us / total.checks / 1000.0 if total.checks else None,
        phases_ms=tuple(phase_means_ms(total).items()),
    )
