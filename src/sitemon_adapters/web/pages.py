"""The status page and the site detail page, server-rendered with Jinja2 (autoescaped).

Pages are filled from the same dicts the API returns (``serialize``), so a credential removed
from the API is removed from the page too. ``static/status.js`` then refreshes them from the
API without a reload; nothing is loaded from outside the process.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from aiohttp import web

from sitemon_adapters.web import incidents, params, serialize
from sitemon_adapters.web.api import QUERIES, SITE
from sitemon_adapters.web.options import OPTIONS, WebOptions
from sitemon_core.queries import SiteQuery, SiteState, UnknownSiteError
from sitemon_core.rollup import PHASES

STATIC = resources.files("sitemon_adapters.web").joinpath("static")
STATIC_TYPES = {
    "status.js": "text/javascript",
    "status.css": "text/css",
    "favicon.svg": "image/svg+xml",
}
UNTAGGED = "untagged"
NO_DATA = "\u2013"  # an en dash


def percent(ratio: float | None) -> str:
    """An uptime ratio as text (an en dash for no data)."""
    return NO_DATA if ratio is None else f"{ratio * 100:.2f}%"


def bar_class(ratio: float | None) -> str:
    """The colour class of one uptime bar."""
    if ratio is None:
        return "b-none"
    return "b-up" if ratio >= 0.999 else "b-down" if ratio < 0.9 else "b-partial"


def when(iso: str) -> str:
    """An RFC 3339 timestamp as the page shows it (UTC, to the second)."""
    try:
        return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (ValueError, OverflowError):  # an instant at the very edge of the calendar
        return iso


def milliseconds(value: float | None) -> str:
    """A duration as text."""
    return NO_DATA if value is None else f"{value:.0f} ms"


def cert_text(certificate: Mapping[str, Any]) -> str:
    """``certificate: 12 days left`` or ``certificate expired 2 days ago`` (status.js says
    the same)."""
    left = int(certificate["days_left"])
    days = "1 day" if abs(left) == 1 else f"{abs(left)} days"
    return f"certificate expired {days} ago" if left < 0 else f"certificate: {days} left"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("sitemon_adapters.web", "templates"),
        autoescape=True,  # every template, whatever its name
        undefined=jinja2.StrictUndefined,
        enable_async=False,
    )
    env.filters.update(
        percent=percent,
        bar_class=bar_class,
        ms=milliseconds,
        cert_text=cert_text,
        when=when,
        pathpart=lambda value: quote(str(value), safe=""),
    )
    return env


ENVIRONMENT = _environment()


def render(name: str, **context: Any) -> web.Response:
    """A rendered template as an HTML answer."""
    html = ENVIRONMENT.get_template(name).render(**context)
    return web.Response(text=html, content_type="text/html")


def is_page(path: str) -> bool:
    """Whether ``path`` is a page for people (errors then answer in HTML, not JSON)."""
    return path == "/" or path.startswith("/sites/")


def error_page(request: web.Request, status: int, message: str) -> web.Response:
    """An error as a page."""
    options = request.app[OPTIONS]
    response = render(
        "error.html",
        title=options.title,
        refresh_s=options.refresh_s,
        now=options.clock.utcnow(),
        status=status,
        message=message,
    )
    response.set_status(status)
    return response


def _groups(items: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    # Each site appears once, under its first tag, so the page count equals the site count.
    groups: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        groups.setdefault(item["tags"][0] if item["tags"] else UNTAGGED, []).append(item)
    return sorted(groups.items(), key=lambda kv: (kv[0] == UNTAGGED, kv[0]))


def _site_query(query: Mapping[str, str], options: WebOptions) -> SiteQuery:
    state = query.get("state") or None  # the form's "any" is an empty value
    return SiteQuery(
        now=options.clock.utcnow(),
        tag=params.text(query, "tag"),
        state=params.state({"state": state} if state else {}),
        search=params.text(query, "q"),
        offset=params.offset(query),
        limit=options.page_size,
        bar_bucket=options.bar_bucket,
    )


async def index(request: web.Request) -> web.Response:
    """GET /: every site (a page of them), grouped by tag, filterable."""
    queries, options = request.app[QUERIES], request.app[OPTIONS]
    query = _site_query(request.query, options)
    page = await queries.sites(query)
    body = serialize.site_page(page)
    open_incidents = await incidents.find(
        request.app[incidents.INCIDENTS], site_id=None, open_only=True, since=query.now, limit=20
    )
    filters = {"q": query.search, "tag": query.tag, "state": query.state and query.state.value}
    kept = {k: v for k, v in filters.items() if v}
    size = options.page_size

    def at(position: int) -> str:
        return "/?" + urlencode({**kept, "offset": position})

    return render(
        "index.html",
        title=options.title,
        refresh_s=options.refresh_s,
        now=query.now,
        page=body,
        groups=_groups(body["items"]),
        incidents=[incidents.incident(i) for i in open_incidents],
        filters=filters,
        states=[s.value for s in SiteState],
        api_url="/api/v1/sites?" + urlencode({**kept, "offset": query.offset, "limit": size}),
        prev_url=at(max(0, query.offset - size)) if query.offset > 0 else None,
        next_url=at(query.offset + size) if query.offset + size < page.total else None,
    )


async def site_page(request: web.Request) -> web.Response:
    """GET /sites/{site_id}: one site, its regions and its response-time chart."""
    queries, options = request.app[QUERIES], request.app[OPTIONS]
    site_id, now = request.match_info["site_id"], options.clock.utcnow()
    summary = await queries.site(site_id, now=now, bar_bucket=options.bar_bucket)
    if summary is None:
        raise UnknownSiteError(site_id)
    path = quote(site_id, safe="")
    recent = await incidents.find(
        request.app[incidents.INCIDENTS],
        site_id=site_id,
        open_only=False,
        since=now - incidents.RECENT,
        limit=10,
    )
    return render(
        "site.html",
        title=options.title,
        refresh_s=options.refresh_s,
        now=now,
        site=serialize.site(summary),
        incidents=[incidents.incident(i) for i in recent],
        phases=PHASES,
        site_api=f"/api/v1/sites/{path}",
        latency_api=f"/api/v1/sites/{path}/latency?bucket=1h",
        badge_base=f"/badge/{path}",
    )


async def static(request: web.Request) -> web.Response:
    """GET /static/{name}: the page's own CSS, JS and icon (and nothing else)."""
    name = request.match_info["name"]
    if name not in STATIC_TYPES:
        raise web.HTTPNotFound()
    return web.Response(
        body=STATIC.joinpath(name).read_bytes(),
        content_type=STATIC_TYPES[name],
        headers={"Cache-Control": f"public, max-age={int(timedelta(minutes=5).total_seconds())}"},
    )


def add_routes(app: web.Application) -> None:
    """Register the pages on ``app``."""
    app.router.add_get("/", index)
    app.router.add_get(f"/sites/{SITE}", site_page)
    app.router.add_get("/static/{name}", static)
