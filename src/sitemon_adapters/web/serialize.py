"""The read models as JSON-ready dicts, shaped as the OpenAPI document describes them.

Every URL and error message goes through ``redact_url`` here, once, so neither the API nor
the pages (which are filled from these same dicts) can ever show ``user:password@``.
Non-finite floats become null: JSON has no NaN.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sitemon_core.models import CheckResult
from sitemon_core.queries import (
    Certificate,
    CheckPage,
    LatencyPoint,
    SitePage,
    SiteSummary,
    SiteUptime,
    UptimeFigure,
    redact_url,
)

Json = dict[str, Any]


def number(value: float | None) -> float | None:
    """A float JSON can carry (None for NaN and infinities)."""
    return value if value is not None and math.isfinite(value) else None


def timestamp(value: datetime) -> str:
    """An RFC 3339 timestamp."""
    return value.isoformat()


def check(result: CheckResult) -> Json:
    """One check result, credentials removed."""
    timings = result.timings
    return {
        "check_id": result.check_id,
        "site_id": result.site_id,
        "url": redact_url(result.url),
        "region": result.region,
        "started_at": timestamp(result.started_at),
        "ok": result.ok,
        "verdict": result.verdict,
        "outcome": result.outcome,
        "total_ms": number(result.total_ms),
        "status_code": result.status_code,
        "timings": {
            "dns_ms": number(timings.dns_ms),
            "connect_ms": number(timings.connect_ms),
            "tls_ms": number(timings.tls_ms),
            "ttfb_ms": number(timings.ttfb_ms),
            "transfer_ms": number(timings.transfer_ms),
        },
        "regex_matched": result.regex_matched,
        "bytes_read": result.bytes_read,
        "final_url": None if result.final_url is None else redact_url(result.final_url),
        "error_kind": result.error_kind.value,
        "error_message": redact_url(result.error_message),
        "tls_not_after": None if result.tls_not_after is None else timestamp(result.tls_not_after),
    }


def figure(value: UptimeFigure) -> Json:
    """Uptime over one window."""
    return {
        "window": value.window.value,
        "checks": value.checks,
        "ok": value.ok,
        "ratio": value.ratio,
    }


def site(summary: SiteSummary) -> Json:
    """A site with its state, per-region latest results, uptime and uptime bar."""
    return {
        "site_id": summary.site_id,
        "url": redact_url(summary.url),
        "tags": sorted(summary.tags),
        "state": summary.state.value,
        "latest": None if summary.latest is None else check(summary.latest),
        "regions": [
            {
                "region": r.region,
                "state": r.latest.verdict,
                "latest": check(r.latest),
            }
            for r in summary.regions
        ],
        "uptime": [figure(f) for f in summary.uptime],
        "bar": list(summary.bar),
        "certificate": certificate(summary.certificate),
    }


def certificate(value: Certificate | None) -> Json | None:
    """The certificate's expiry and days left (None: no TLS check result)."""
    if value is None:
        return None
    return {
        "not_after": timestamp(value.not_after),
        "days_left": value.days_left,
        "expiring": value.expiring,
    }


def site_page(page: SitePage) -> Json:
    """A page of sites."""
    return {
        "items": [site(s) for s in page.items],
        "total": page.total,
        "offset": page.offset,
        "limit": page.limit,
    }


def check_page(page: CheckPage) -> Json:
    """A page of checks and the cursor to the next (older) one."""
    return {"items": [check(r) for r in page.items], "next_cursor": page.next_cursor}


def uptime(value: SiteUptime, windows: set[str] | None = None) -> Json:
    """Uptime overall and per region, limited to ``windows`` when given."""

    def keep(figures: tuple[UptimeFigure, ...]) -> list[Json]:
        return [figure(f) for f in figures if windows is None or f.window.value in windows]

    return {
        "overall": keep(value.overall),
        "regions": [{"region": region, "windows": keep(f)} for region, f in value.regions],
    }


def latency(points: tuple[LatencyPoint, ...], bucket_s: int) -> Json:
    """Latency points (percentiles and mean phases per bucket)."""
    return {
        "bucket_s": bucket_s,
        "points": [
            {
                "start": timestamp(p.start),
                "checks": p.checks,
                "p50_ms": number(p.p50_ms),
                "p95_ms": number(p.p95_ms),
                "p99_ms": number(p.p99_ms),
                "mean_ms": number(p.mean_ms),
                "phases_ms": {name: number(v) for name, v in p.phases_ms},
            }
            for p in points
        ],
    }


def error(parameter: str | None, message: str) -> Json:
    """The body of every 4xx/5xx answer."""
    return {"error": {"parameter": parameter, "message": message}}
