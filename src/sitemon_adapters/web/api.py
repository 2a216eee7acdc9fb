"""The JSON API under ``/api/v1`` (described by ``openapi.json`` next to this module)."""

from __future__ import annotations

import json
from datetime import timedelta
from importlib import resources

from aiohttp import web

from sitemon_adapters.web import params, serialize
from sitemon_adapters.web.options import OPTIONS, WebOptions
from sitemon_core.queries import (
    QueryError,
    SiteQuery,
    StatusQueries,
    UnknownSiteError,
)

QUERIES: web.AppKey[StatusQueries] = web.AppKey("queries", StatusQueries)
OPENAPI = resources.files("sitemon_adapters.web").joinpath("openapi.json")
DAY = timedelta(days=1)
# Paths whose next segment is a site id: a request under one that matches no route most
# likely carries an id with a raw "/" (an id is one segment, its "/" sent as %2F).
SITE_PATHS = ("/api/v1/sites/", "/badge/", "/sites/")
# A site id in a route: one segment of anything (aiohttp's default also refuses { and }).
# Routes match before %2F is decoded (aiohttp >= 3.10.6), so an encoded "/" stays inside.
SITE = "{site_id:[^/]+}"


class SiteRouteError(QueryError):
    """A path under a site's routes matched none: the site id was not one encoded segment."""

    def __init__(self) -> None:
        super().__init__(
            "site",
            "no such route: a site id is one path segment, percent-encoded "
            "(the site a/b is /sites/a%2Fb)",
        )


def site_route_error(path: str) -> SiteRouteError | None:
    """The error for an unmatched ``path`` (decoded) under a site's routes, else ``None``."""
    return SiteRouteError() if path.startswith(SITE_PATHS) else None


def json_response(body: object, status: int = 200) -> web.Response:
    """A JSON answer (compact; ``</`` escaped so a body is inert even if sniffed as HTML)."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    return web.Response(text=text, status=status, content_type="application/json")


def _context(request: web.Request) -> tuple[StatusQueries, WebOptions]:
    return request.app[QUERIES], request.app[OPTIONS]


async def list_sites(request: web.Request) -> web.Response:
    """GET /api/v1/sites"""
    queries, options = _context(request)
    q = request.query
    page = await queries.sites(
        SiteQuery(
            now=options.clock.utcnow(),
            tag=params.text(q, "tag"),
            state=params.state(q),
            search=params.text(q, "q"),
            offset=params.offset(q),
            limit=params.limit(q),
            bar_bucket=options.bar_bucket,
        )
    )
    return json_response(serialize.site_page(page))


async def get_site(request: web.Request) -> web.Response:
    """GET /api/v1/sites/{site_id}"""
    queries, options = _context(request)
    site_id = request.match_info["site_id"]
    summary = await queries.site(site_id, now=options.clock.utcnow(), bar_bucket=options.bar_bucket)
    if summary is None:
        raise UnknownSiteError(site_id)
    return json_response(serialize.site(summary))


async def list_checks(request: web.Request) -> web.Response:
    """GET /api/v1/sites/{site_id}/checks"""
    queries, options = _context(request)
    q = request.query
    start, end = params.time_range(q, options.clock.utcnow(), DAY)
    page = await queries.checks(
        request.match_info["site_id"],
        start=start,
        end=end,
        limit=params.limit(q, default=100),
        cursor=q.get("cursor"),
    )
    return json_response(serialize.check_page(page))


async def get_uptime(request: web.Request) -> web.Response:
    """GET /api/v1/sites/{site_id}/uptime"""
    queries, options = _context(request)
    windows = params.windows(request.query.getall("window", []))
    value = await queries.uptime(request.match_info["site_id"], now=options.clock.utcnow())
    return json_response(serialize.uptime(value, windows))


async def get_latency(request: web.Request) -> web.Response:
    """GET /api/v1/sites/{site_id}/latency"""
    queries, options = _context(request)
    q = request.query
    start, end = params.time_range(q, options.clock.utcnow(), DAY)
    bucket = params.bucket(q)
    points = await queries.latency(
        request.match_info["site_id"], start=start, end=end, bucket=bucket
    )
    return json_response(serialize.latency(points, int(bucket.total_seconds())))


async def openapi(_request: web.Request) -> web.Response:
    """GET /api/v1/openapi.json"""
    return web.Response(body=OPENAPI.read_bytes(), content_type="application/json")


def error_response(exc: QueryError) -> web.Response:
    """404 for an unknown site (or a site path matching no route), 400 for any other bad
    parameter."""
    status = 404 if isinstance(exc, UnknownSiteError | SiteRouteError) else 400
    return json_response(serialize.error(exc.parameter, exc.problem), status)


def add_routes(app: web.Application) -> None:
    """Register the API on ``app``."""
    base = "/api/v1"
    app.router.add_get(f"{base}/openapi.json", openapi)
    app.router.add_get(f"{base}/sites", list_sites)
    app.router.add_get(f"{base}/sites/{SITE}", get_site)
    app.router.add_get(f"{base}/sites/{SITE}/checks", list_checks)
    app.router.add_get(f"{base}/sites/{SITE}/uptime", get_uptime)
    app.router.add_get(f"{base}/sites/{SITE}/latency", get_latency)
