"""An in-process StatusQueries: the web tests' store and the embedded mode's read side.

It keeps the catalogue, every check (for the checks query), the latest result per site and
region, and hourly rollups it maintains as results are saved — uptime and latency are computed
from the rollups only, exactly as the SQL adapters will.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sitemon_adapters.store.rollup_queries import latency_point, warning_window
from sitemon_core.models import CheckResult, Site
from sitemon_core.queries import (
    BAR_BUCKETS,
    DAY,
    CheckPage,
    LatencyPoint,
    RegionStatus,
    SitePage,
    SiteQuery,
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
    state_of,
    window_range,
)
from sitemon_core.rollup import HOUR, Rollup, period_start

SUMMARY_WINDOWS = (Window.DAY, Window.WEEK, Window.MONTH)


class InMemoryStatusQueries:
    """Answers the read queries from dicts; ``save`` feeds it (idempotent per check id).

    Bounded for a long-running process: each site keeps its newest ``max_checks_per_site``
    raw checks (older ones leave the checks query and the replay guard) and the rollups of
    the last ``keep_rollups`` (enough for the 30-day uptime and the 90-day bar).
    """

    def __init__(
        self,
        sites: Iterable[Site] = (),
        *,
        max_checks_per_site: int = 10_000,
        keep_rollups: timedelta = timedelta(days=91),
    ) -> None:
        self._max_checks = max_checks_per_site
        self._keep_rollups = keep_rollups
        self._catalogue: dict[str, Site] = {}
        self._seen: set[str] = set()
        self._history: dict[str, list[CheckResult]] = {}
        self._latest: dict[str, dict[str, CheckResult]] = {}
        self._rollups: dict[str, dict[tuple[str, datetime], Rollup]] = {}
        self.set_sites(sites)

    def set_sites(self, sites: Iterable[Site]) -> None:
        """Replace the catalogue (ids, URLs, tags); results of other sites stay listed."""
        self._catalogue = {site.id: site for site in sites}

    async def save(self, results: Sequence[CheckResult]) -> None:
        """Count each unseen check once: history, latest per region, rollups."""
        self.record(results)

    def observe(self, result: CheckResult, _elapsed_s: float = 0.0) -> None:
        """``record`` one result; shaped as the scanner's check observer."""
        self.record((result,))

    def record(self, results: Iterable[CheckResult]) -> None:
        """``save`` without awaiting (for a synchronous caller such as an observer)."""
        touched: set[str] = set()
        for result in results:
            if result.check_id in self._seen:
                continue  # a replay must not count twice
            self._seen.add(result.check_id)
            self._history.setdefault(result.site_id, []).append(result)
            regions = self._latest.setdefault(result.site_id, {})
            current = regions.get(result.region)
            if current is None or (result.started_at, result.check_id) > (
                current.started_at,
                current.check_id,
            ):
                regions[result.region] = result
            single = Rollup.of(result)
            site_rollups = self._rollups.setdefault(result.site_id, {})
            key = (result.region, single.start)
            old = site_rollups.get(key)
            site_rollups[key] = single if old is None else old.merge(single)
            touched.add(result.site_id)
        for site_id in touched:
            self._trim(site_id)

    def _trim(self, site_id: str) -> None:
        history = self._history[site_id]
        # Amortised: sort and cut only once the list is a tenth over its bound.
        if len(history) > self._max_checks + self._max_checks // 10:
            history.sort(key=lambda r: (r.started_at, r.check_id))
            cut = len(history) - self._max_checks
            self._seen.difference_update(r.check_id for r in history[:cut])
            del history[:cut]
        rollups = self._rollups[site_id]
        if len(rollups) > 2 * 24 * self._keep_rollups.days:
            horizon = max(start for _, start in rollups) - self._keep_rollups
            for key in [k for k in rollups if k[1] < horizon]:
                del rollups[key]

    async def prune_rollups(self, period_before: datetime, *, max_rows: int) -> int:
        """Delete up to ``max_rows`` rollups whose period starts before ``period_before``
        (see ``StatusRepository.prune_rollups``); checks and latest results stay."""
        if period_before.utcoffset() is None:
            raise ValueError(f"naive datetime {period_before.isoformat()} as cutoff")
        old = [
            (site_id, key)
            for site_id, per_site in self._rollups.items()
            for key in per_site
            if key[1] < period_before
        ][: max(0, max_rows)]
        for site_id, key in old:
            del self._rollups[site_id][key]
        return len(old)

    def rollups(self) -> list[Rollup]:
        """Every rollup kept (for tests against a brute-force computation)."""
        return [r for per_site in self._rollups.values() for r in per_site.values()]

    async def ping(self) -> None:
        """Always reachable."""

    async def sites(self, query: SiteQuery) -> SitePage:
        """Filter every known site, then summarise only the requested page."""
        check_limit(query.limit)
        matches = [site_id for site_id in self._known() if self._matches(site_id, query)]
        page = matches[query.offset : query.offset + query.limit]
        items = tuple(self._summary(s, query.now, query.bar_bucket) for s in page)
        return SitePage(items=items, total=len(matches), offset=query.offset, limit=query.limit)

    async def site(
        self, site_id: str, *, now: datetime, bar_bucket: timedelta = DAY
    ) -> SiteSummary | None:
        """One site's summary, None when unknown."""
        if site_id not in self._catalogue and site_id not in self._latest:
            return None
        return self._summary(site_id, now, bar_bucket)

    async def checks(
        self,
        site_id: str,
        *,
        start: datetime,
        end: datetime,
        limit: int = 100,
        cursor: str | None = None,
    ) -> CheckPage:
        """Checks in ``[start, end)`` older than the cursor, newest first."""
        check_range(start, end)
        check_limit(limit)
        after = decode_cursor(cursor) if cursor is not None else None
        self._require(site_id)
        rows = sorted(
            (
                r
                for r in self._history.get(site_id, ())
                if start <= r.started_at < end
                and (after is None or (r.started_at, r.check_id) < after)
            ),
            key=lambda r: (r.started_at, r.check_id),
            reverse=True,
        )
        items = tuple(rows[:limit])
        more = len(rows) > limit
        last = items[-1] if items else None
        next_cursor = encode_cursor(last.started_at, last.check_id) if more and last else None
        return CheckPage(items=items, next_cursor=next_cursor)

    async def uptime(self, site_id: str, *, now: datetime) -> SiteUptime:
        """Every window, overall and per region, from the hourly rollups."""
        self._require(site_id)
        rollups = list(self._rollups.get(site_id, {}).values())
        regions = sorted({r.region for r in rollups})
        return SiteUptime(
            overall=tuple(_uptime(rollups, w, now) for w in Window),
            regions=tuple(
                (
                    region,
                    tuple(
                        _uptime([r for r in rollups if r.region == region], w, now) for w in Window
                    ),
                )
                for region in regions
            ),
        )

    async def latency(
        self, site_id: str, *, start: datetime, end: datetime, bucket: timedelta
    ) -> tuple[LatencyPoint, ...]:
        """One point per bucket from the rollups of every region."""
        check_range(start, end)
        check_bucket(bucket, start, end)
        self._require(site_id)
        first = period_start(start, bucket)
        groups: dict[datetime, list[Rollup]] = {}
        for rollup in self._rollups.get(site_id, {}).values():
            groups.setdefault(period_start(rollup.start, bucket), []).append(rollup)
        points = []
        at = first
        while at < end or at == first:
            points.append(latency_point(site_id, at, groups.get(at, [])))
            at += bucket
        return tuple(points)

    def _known(self) -> list[str]:
        return sorted(self._catalogue.keys() | self._latest.keys())

    def _require(self, site_id: str) -> None:
        if site_id not in self._catalogue and site_id not in self._latest:
            raise UnknownSiteError(site_id)

    def _url(self, site_id: str) -> str:
        site = self._catalogue.get(site_id)
        if site is not None:
            return site.target
        return max(self._latest[site_id].values(), key=lambda r: r.started_at).url

    def _regions(self, site_id: str) -> tuple[RegionStatus, ...]:
        latest = self._latest.get(site_id, {})
        return tuple(RegionStatus(region=k, latest=v) for k, v in sorted(latest.items()))

    def _matches(self, site_id: str, query: SiteQuery) -> bool:
        site = self._catalogue.get(site_id)
        if query.tag is not None and (site is None or query.tag not in site.tags):
            return False
        if query.state is not None and state_of(self._regions(site_id)) is not query.state:
            return False
        if query.search:
            needle = query.search.casefold()
            haystack = f"{site_id}\n{redact_url(self._url(site_id))}".casefold()
            return needle in haystack
        return True

    def _summary(self, site_id: str, now: datetime, bar_bucket: timedelta) -> SiteSummary:
        regions = self._regions(site_id)
        rollups = list(self._rollups.get(site_id, {}).values())
        site = self._catalogue.get(site_id)
        return SiteSummary(
            site_id=site_id,
            url=self._url(site_id),
            tags=site.tags if site else frozenset(),
            state=state_of(regions),
            latest=max((r.latest for r in regions), key=lambda r: r.started_at, default=None),
            regions=regions,
            uptime=tuple(_uptime(rollups, w, now) for w in SUMMARY_WINDOWS),
            bar=_bar(rollups, now, bar_bucket),
            certificate=certificate_of(regions, now, warning_window(site)),
        )


def _uptime(rollups: Iterable[Rollup], window: Window, now: datetime) -> UptimeFigure:
    start, end = window_range(window, now, HOUR)
    inside = [r for r in rollups if start <= r.start < end]
    return UptimeFigure(
        window=window, checks=sum(r.checks for r in inside), ok=sum(r.ok for r in inside)
    )


def _bar(rollups: Iterable[Rollup], now: datetime, bucket: timedelta) -> tuple[float | None, ...]:
    last = period_start(now, bucket)
    first = last - (BAR_BUCKETS - 1) * bucket
    checks = [0] * BAR_BUCKETS
    ok = [0] * BAR_BUCKETS
    for rollup in rollups:
        if first <= rollup.start < last + bucket:
            index = (period_start(rollup.start, bucket) - first) // bucket
            checks[index] += rollup.checks
            ok[index] += rollup.ok
    return tuple(o / c if c else None for o, c in zip(ok, checks, strict=True))
