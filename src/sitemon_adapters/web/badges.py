"""Shields-style SVG badges for READMEs: status, uptime per window, response time.

Only a fixed label and a computed value are drawn (never the site id or URL), and both are
XML-escaped anyway; answers are cacheable for a minute.
"""

from __future__ import annotations

from datetime import timedelta
from html import escape

from aiohttp import web

from sitemon_adapters.web.api import QUERIES, SITE
from sitemon_adapters.web.options import OPTIONS
from sitemon_core.queries import QueryError, SiteState, UnknownSiteError, Window
from sitemon_core.rollup import HOUR

CACHE_CONTROL = "public, max-age=60"
COLOURS = {
    "green": "#2da44e",
    "yellow": "#bf8700",
    "red": "#cf222e",
    "grey": "#6e7781",
}
STATE_COLOURS = {
    SiteState.UP: "green",
    SiteState.DEGRADED: "yellow",
    SiteState.DOWN: "red",
    SiteState.UNKNOWN: "grey",
}
CHAR_WIDTH = 7  # Verdana 11px averages about this; exactness does not matter for a badge


def badge_svg(label: str, value: str, colour: str) -> str:
    """A two-part flat badge."""
    left, right = 10 + CHAR_WIDTH * len(label), 10 + CHAR_WIDTH * len(value)
    label_text, value_text = escape(label), escape(value)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + right}" height="20" '
        f'role="img" aria-label="{label_text}: {value_text}">'
        f"<title>{label_text}: {value_text}</title>"
        f'<rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{COLOURS[colour]}"/>'
        '<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11" '
        'text-anchor="middle">'
        f'<text x="{left / 2}" y="14">{label_text}</text>'
        f'<text x="{left + right / 2}" y="14">{value_text}</text></g></svg>'
    )


def _svg(label: str, value: str, colour: str) -> web.Response:
    return web.Response(
        text=badge_svg(label, value, colour),
        content_type="image/svg+xml",
        headers={"Cache-Control": CACHE_CONTROL},
    )


def uptime_colour(ratio: float | None) -> str:
    """Green from 99.9 %, yellow from 99 %, red below; grey without data."""
    if ratio is None:
        return "grey"
    return "green" if ratio >= 0.999 else "yellow" if ratio >= 0.99 else "red"


async def status_badge(request: web.Request) -> web.Response:
    """GET /badge/{site_id}/status.svg"""
    queries, options = request.app[QUERIES], request.app[OPTIONS]
    site_id = request.match_info["site_id"]
    summary = await queries.site(site_id, now=options.clock.utcnow())
    if summary is None:
        raise UnknownSiteError(site_id)
    return _svg("status", summary.state.value, STATE_COLOURS[summary.state])


async def uptime_badge(request: web.Request) -> web.Response:
    """GET /badge/{site_id}/uptime/{window}.svg"""
    queries, options = request.app[QUERIES], request.app[OPTIONS]
    try:
        window = Window(request.match_info["window"])
    except ValueError:
        raise QueryError("window", f"must be one of {', '.join(w.value for w in Window)}") from None
    uptime = await queries.uptime(request.match_info["site_id"], now=options.clock.utcnow())
    figure = next(f for f in uptime.overall if f.window is window)
    ratio = figure.ratio
    value = "no data" if ratio is None else f"{ratio * 100:.2f}%"
    return _svg(f"uptime {window.value}", value, uptime_colour(ratio))


async def response_time_badge(request: web.Request) -> web.Response:
    """GET /badge/{site_id}/response-time.svg: mean total time over the last 24 h."""
    queries, options = request.app[QUERIES], request.app[OPTIONS]
    now = options.clock.utcnow()
    points = await queries.latency(
        request.match_info["site_id"], start=now - timedelta(days=1), end=now, bucket=HOUR
    )
    checks = sum(p.checks for p in points)
    total = sum((p.mean_ms or 0.0) * p.checks for p in points)
    value = "no data" if not checks else f"{total / checks:.0f} ms"
    return _svg("response time", value, "grey" if not checks else "green")


def add_routes(app: web.Application) -> None:
    """Register the badges on ``app``."""
    app.router.add_get(f"/badge/{SITE}/status.svg", status_badge)
    app.router.add_get(f"/badge/{SITE}/uptime/{{window}}.svg", uptime_badge)
    app.router.add_get(f"/badge/{SITE}/response-time.svg", response_time_badge)
