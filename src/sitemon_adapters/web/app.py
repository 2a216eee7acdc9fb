"""The aiohttp application: routes, auth, security headers, errors as JSON, counters."""

from __future__ import annotations

import asyncio
import logging

import attrs
from aiohttp import web
from aiohttp.typedefs import Handler

from sitemon_adapters.web import api, badges, incidents, pages, serialize
from sitemon_adapters.web.options import OPTIONS, WebOptions
from sitemon_core.alerting.ports import IncidentRepository
from sitemon_core.errors import SitemonError
from sitemon_core.queries import QueryError, StatusQueries, redact_url

log = logging.getLogger("sitemon.web")

READY_TIMEOUT_S = 2.0
# Nothing from outside the process, no inline script or style, no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@attrs.define
class WebStats:
    """Counters of the web server."""

    requests: int = 0
    client_errors: int = 0  # 4xx answers: bad parameters, unknown sites, refused credentials
    errors: int = 0  # 5xx answers: the store failed or a bug


STATS: web.AppKey[WebStats] = web.AppKey("stats", WebStats)
UNAUTHENTICATED = frozenset({"/healthz"})


@web.middleware
async def _count(request: web.Request, handler: Handler) -> web.StreamResponse:
    stats = request.app[STATS]
    stats.requests += 1
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
    if response.status >= 500:
        stats.errors += 1
    elif response.status >= 400:
        stats.client_errors += 1
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


@web.middleware
async def _auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    auth = request.app[OPTIONS].auth
    if auth is None or request.path in UNAUTHENTICATED:
        return await handler(request)
    if auth.allows(request.headers.get("Authorization")):
        return await handler(request)
    response = api.json_response(serialize.error("Authorization", "credentials required"), 401)
    response.headers["WWW-Authenticate"] = f'{auth.scheme} realm="sitemon"'
    return response


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except QueryError as exc:
        return _query_error(request, exc)
    except web.HTTPNotFound as exc:
        missed = api.site_route_error(request.path)
        if missed is not None:
            return _query_error(request, missed)
        return api.json_response(serialize.error(None, exc.reason), exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return api.json_response(serialize.error(None, exc.reason), exc.status)
    except SitemonError as exc:
        log.warning("read failed", extra={"path": request.path, "error": str(exc)})
        return api.json_response(serialize.error(None, "the store could not answer"), 503)
    except Exception:
        log.exception("request failed", extra={"path": request.path})
        return api.json_response(serialize.error(None, "internal error"), 500)


def _query_error(request: web.Request, exc: QueryError) -> web.Response:
    if pages.is_page(request.path):
        return pages.error_page(request, api.error_response(exc).status, str(exc))
    return api.error_response(exc)


async def healthz(_request: web.Request) -> web.Response:
    """GET /healthz: the process answers."""
    return api.json_response({"status": "alive"})


async def readyz(request: web.Request) -> web.Response:
    """GET /readyz: the store answers within a short deadline."""
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            await request.app[api.QUERIES].ping()
    except (TimeoutError, SitemonError, OSError) as exc:
        # A driver's message can quote a DSN: never hand its password to the caller.
        message = "timed out" if isinstance(exc, TimeoutError) else redact_url(str(exc))
        return api.json_response({"status": "unavailable", "reason": message}, 503)
    return api.json_response({"status": "ready"})


def create_app(
    queries: StatusQueries,
    options: WebOptions | None = None,
    *,
    incident_repository: IncidentRepository | None = None,
) -> web.Application:
    """The web application serving ``queries`` (and incidents, when alerting stores them):
    API, health, status page and badges."""
    app = web.Application(middlewares=[_count, _auth, _errors])
    app[api.QUERIES] = queries
    app[OPTIONS] = options or WebOptions()
    app[STATS] = WebStats()
    app[incidents.INCIDENTS] = incident_repository
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    api.add_routes(app)
    incidents.add_routes(app)
    pages.add_routes(app)
    badges.add_routes(app)
    return app
