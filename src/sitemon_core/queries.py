"""The read side: what the web API and status page ask of the stored results.

``StatusQueries`` is the port; its answers are the frozen models below. Uptime and latency come
from rollups (``sitemon_core.rollup``), never from a scan of raw history, so every adapter
returns the same figures for the same results. Parameters are checked here (``check_*``) so
every adapter rejects the same bad input with the same ``QueryError``.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import math
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Protocol

import attrs

from sitemon_core.errors import SitemonError
from sitemon_core.models import DEFAULT_TLS_EXPIRY_WARNING_S, CheckResult
from sitemon_core.rollup import HOUR, period_start

MAX_PAGE = 500  # sites or checks per page
MAX_POINTS = 2000  # latency buckets per answer
BAR_BUCKETS = 90
# Far above any real check id's cursor; bounds the work a hostile one can ask for.
MAX_CURSOR = 16 * 1024
DAY = timedelta(days=1)


class QueryError(SitemonError):
    """A read was asked with a bad parameter; ``parameter`` names it (for a 4xx answer)."""

    def __init__(self, parameter: str, problem: str) -> None:
        self.parameter = parameter
        self.problem = problem
        super().__init__(f"{parameter}: {problem}")


class UnknownSiteError(QueryError):
    """The site asked for has neither a catalogue entry nor a result."""

    def __init__(self, site_id: str) -> None:
        super().__init__("site", f"unknown site {site_id!r}")
        self.site_id = site_id


class Window(enum.Enum):
    """An uptime window, named as in the API."""

    HOUR = "1h"
    DAY = "24h"
    WEEK = "7d"
    MONTH = "30d"

    @property
    def duration(self) -> timedelta:
        """How far back the window reaches (hour-aligned; see ``window_range``)."""
        return {"1h": timedelta(hours=1), "24h": DAY, "7d": 7 * DAY, "30d": 30 * DAY}[self.value]


class SiteState(enum.Enum):
    """A site's state from the verdict (``up | degraded | down``) of each region's latest
    result."""

    UP = "up"  # every region's latest check was up
    DEGRADED = "degraded"  # reachable but slow somewhere, or down in some regions only
    DOWN = "down"  # every region's latest check failed
    UNKNOWN = "unknown"  # no result yet


@attrs.frozen(kw_only=True)
class RegionStatus:
    """The newest result of a site in one region."""

    region: str
    latest: CheckResult


@attrs.frozen(kw_only=True)
class UptimeFigure:
    """Checks and ok checks over one window; ``ratio`` is None without checks."""

    window: Window
    checks: int
    ok: int

    @property
    def ratio(self) -> float | None:
        """ok / checks."""
        return self.ok / self.checks if self.checks else None


@attrs.frozen(kw_only=True)
class Certificate:
    """The TLS certificate a site serves, as its latest checks saw it: the soonest
    ``not_after`` over the regions, the whole days left at the time of the query (negative
    once expired), and whether that is within the site's ``tls_expiry_warning``."""

    not_after: datetime
    days_left: int
    expiring: bool


@attrs.frozen(kw_only=True)
class SiteSummary:
    """One site as the status page lists it.

    ``latest`` is the newest result over all regions; ``uptime`` covers 24h, 7d and 30d;
    ``bar`` has ``BAR_BUCKETS`` uptime ratios, oldest first, the last one containing ``now``
    (None: no check in that bucket).
    """

    site_id: str
    url: str
    tags: frozenset[str]
    state: SiteState
    latest: CheckResult | None
    regions: tuple[RegionStatus, ...]
    uptime: tuple[UptimeFigure, ...]
    bar: tuple[float | None, ...]
    certificate: Certificate | None = None


@attrs.frozen(kw_only=True)
class SiteQuery:
    """Which sites to list: filters, then a page of the matches ordered by site id."""

    now: datetime
    tag: str | None = None
    state: SiteState | None = None
    search: str | None = None  # case-insensitive, in the id or the (redacted) URL
    offset: int = 0
    limit: int = 50
    bar_bucket: timedelta = DAY


@attrs.frozen(kw_only=True)
class SitePage:
    """A page of sites and how many matched in all."""

    items: tuple[SiteSummary, ...]
    total: int
    offset: int
    limit: int


@attrs.frozen(kw_only=True)
class CheckPage:
    """Checks newest first; ``next_cursor`` continues with older ones (None: no more)."""

    items: tuple[CheckResult, ...]
    next_cursor: str | None


@attrs.frozen(kw_only=True)
class SiteUptime:
    """Uptime over every window, overall and per region."""

    overall: tuple[UptimeFigure, ...]
    regions: tuple[tuple[str, tuple[UptimeFigure, ...]], ...]


@attrs.frozen(kw_only=True)
class LatencyPoint:
    """Latency of one time bucket (all regions): percentiles of the total time from the
    histogram (±5 %), mean total and mean per phase (None: not measured / no check)."""

    start: datetime
    checks: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    mean_ms: float | None
    phases_ms: tuple[tuple[str, float | None], ...]


class StatusQueries(Protocol):
    """Read-only queries over the stored results, catalogue and rollups."""

    async def ping(self) -> None:
        """Return when the store answers; raise ``RepositoryError`` when it cannot."""
        ...

    async def sites(self, query: SiteQuery) -> SitePage:
        """Sites matching ``query``, ordered by id, with their latest status and uptime."""
        ...

    async def site(
        self, site_id: str, *, now: datetime, bar_bucket: timedelta = DAY
    ) -> SiteSummary | None:
        """One site with its per-region latest results; None when the site is unknown."""
        ...

    async def checks(
        self,
        site_id: str,
        *,
        start: datetime,
        end: datetime,
        limit: int = 100,
        cursor: str | None = None,
    ) -> CheckPage:
        """Checks started in ``[start, end)``, newest first, at most ``limit``; ``cursor`` is
        a previous page's ``next_cursor``. Raises ``QueryError`` for a bad range, limit or
        cursor, ``UnknownSiteError`` for a site without catalogue entry or result."""
        ...

    async def uptime(self, site_id: str, *, now: datetime) -> SiteUptime:
        """Uptime over every ``Window`` ending at ``now``, overall and per region.
        Raises ``UnknownSiteError``."""
        ...

    async def latency(
        self, site_id: str, *, start: datetime, end: datetime, bucket: timedelta
    ) -> tuple[LatencyPoint, ...]:
        """One point per ``bucket`` (whole hours) from ``start`` (rounded down) to ``end``,
        empty buckets included. Raises ``QueryError`` for a bad range or bucket,
        ``UnknownSiteError``."""
        ...


def window_range(window: Window, now: datetime, step: timedelta) -> tuple[datetime, datetime]:
    """``[start, end)`` of an uptime window on ``step``-aligned rollups: from the step that
    contains ``now - window`` to the end of the step containing ``now`` (so a window reaches
    up to one step further back than its name)."""
    return period_start(now - window.duration, step), period_start(now, step) + step


def check_limit(limit: int, maximum: int = MAX_PAGE) -> int:
    """``limit`` if within ``1..maximum``, else ``QueryError('limit')``."""
    if not 1 <= limit <= maximum:
        raise QueryError("limit", f"must be between 1 and {maximum}, got {limit}")
    return limit


def check_range(start: datetime, end: datetime) -> None:
    """Reject ``start`` after ``end`` or naive datetimes."""
    for name, value in (("from", start), ("to", end)):
        if value.utcoffset() is None:
            raise QueryError(name, "must carry a UTC offset")
    if start > end:
        raise QueryError("from", "must not be after 'to'")


def check_bucket(bucket: timedelta, start: datetime, end: datetime) -> None:
    """Reject a bucket that is not whole hours dividing a day, or too many of them."""
    hours, rest = divmod(bucket, HOUR)
    if rest or hours < 1 or 24 % hours:
        raise QueryError("bucket", "must be 1, 2, 3, 4, 6, 8, 12 or 24 hours")
    if (end - start) / bucket > MAX_POINTS:
        raise QueryError("bucket", f"more than {MAX_POINTS} buckets in the range")


def encode_cursor(started_at: datetime, check_id: str) -> str:
    """An opaque token for 'the checks older than this one'."""
    raw = json.dumps([started_at.isoformat(), check_id], ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position in a cursor; ``QueryError('cursor')`` when it is not one of ours."""
    if len(cursor) > MAX_CURSOR:
        raise QueryError("cursor", "malformed cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        started, check_id = json.loads(raw)
        at = datetime.fromisoformat(started)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, RecursionError) as exc:
        # RecursionError: JSON nested thousands deep (never ours) exhausts the parser's stack.
        raise QueryError("cursor", "malformed cursor") from exc
    if not isinstance(check_id, str) or at.utcoffset() is None:
        raise QueryError("cursor", "malformed cursor")
    return at, check_id


# Greedy up to the authority's last "@": a password with a raw "@" in it is removed whole.
_CREDENTIALS = re.compile(r"(?i)([a-z][a-z0-9+.-]*://)[^/?#\s]*@")


def redact_url(text: str) -> str:
    """``text`` with any ``user:password@`` of the URLs in it removed."""
    return _CREDENTIALS.sub(r"\1", text)


def state_from(verdicts: Iterable[str]) -> SiteState:
    """The state the verdicts of a site's regions add up to: ``up`` when all are up,
    ``down`` when all are down, ``degraded`` otherwise (slow, or down in some regions)."""
    seen = set(verdicts)
    if not seen:
        return SiteState.UNKNOWN
    if seen == {"up"}:
        return SiteState.UP
    return SiteState.DOWN if seen == {"down"} else SiteState.DEGRADED


def state_of(regions: tuple[RegionStatus, ...]) -> SiteState:
    """The state a site's regions add up to (see ``state_from``)."""
    return state_from(r.latest.verdict for r in regions)


def certificate_of(
    regions: tuple[RegionStatus, ...],
    now: datetime,
    warning_s: float = DEFAULT_TLS_EXPIRY_WARNING_S,
) -> Certificate | None:
    """The certificate the regions' latest results saw (the soonest to expire), or None
    when none of them carries one."""
    found = [r.latest.tls_not_after for r in regions if r.latest.tls_not_after is not None]
    if not found:
        return None
    not_after = min(found)
    return Certificate(
        not_after=not_after,
        days_left=math.floor((not_after - now) / DAY),
        expiring=(not_after - now).total_seconds() < warning_s,
    )
