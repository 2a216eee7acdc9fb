"""Incidents in the API: open ones, recent ones, a site's — read through the alerting port.

The web app works without alerting: with no ``IncidentRepository`` the answers are empty and
say ``enabled: false``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from sitemon_adapters.web import params, serialize
from sitemon_adapters.web.api import QUERIES, SITE, json_response
from sitemon_adapters.web.options import OPTIONS
from sitemon_core.alerting.models import Incident
from sitemon_core.alerting.ports import IncidentRepository
from sitemon_core.queries import QueryError, UnknownSiteError, redact_url

INCIDENTS: web.AppKey[IncidentRepository | None] = web.AppKey("incidents")
RECENT = timedelta(days=30)
STATES = ("open", "all")


def incident(value: Incident) -> dict[str, Any]:
    """One incident, credentials removed."""
    return {
        "id": value.id,
        "site_id": value.site_id,
        "url": redact_url(value.url),
        "open": value.is_open,
        "opened_at": serialize.timestamp(value.opened_at),
        "resolved_at": None if value.resolved_at is None else value.resolved_at.isoformat(),
        "error_kind": value.error_kind,
        "error_message": redact_url(value.error_message),
        "status_code": value.status_code,
        "regions": list(value.regions),
        "tags": list(value.tags),
        "kind": value.kind.value,
        "tls_not_after": None if value.tls_not_after is None else value.tls_not_after.isoformat(),
    }


async def find(
    repository: IncidentRepository | None,
    *,
    site_id: str | None,
    open_only: bool,
    since: datetime,
    limit: int,
) -> list[Incident]:
    """Incidents newest first: the open ones, or every one opened (or open) since ``since``."""
    if repository is None:
        return []
    if open_only:
        found = [i for i in await repository.open_incidents() if site_id in (None, i.site_id)]
        return sorted(found, key=lambda i: i.opened_at, reverse=True)[:limit]
    return await repository.incidents(site_id=site_id, since=since, limit=limit)


def _state(query: Any) -> bool:
    raw = query.get("state", "all")
    if raw not in STATES:
        raise QueryError("state", f"must be one of {', '.join(STATES)}")
    return bool(raw == "open")


async def list_incidents(request: web.Request) -> web.Response:
    """GET /api/v1/incidents"""
    return await _answer(request, request.query.get("site") or None)


async def site_incidents(request: web.Request) -> web.Response:
    """GET /api/v1/sites/{site_id}/incidents"""
    site_id = request.match_info["site_id"]
    options = request.app[OPTIONS]
    if await request.app[QUERIES].site(site_id, now=options.clock.utcnow()) is None:
        raise UnknownSiteError(site_id)
    return await _answer(request, site_id)


async def _answer(request: web.Request, site_id: str | None) -> web.Response:
    q, repository = request.query, request.app[INCIDENTS]
    now = request.app[OPTIONS].clock.utcnow()
    found = await find(
        repository,
        site_id=site_id,
        open_only=_state(q),
        since=params.instant(q, "since", now - RECENT),
        limit=params.limit(q, default=50),
    )
    return json_response({"enabled": repository is not None, "items": [incident(i) for i in found]})


def add_routes(app: web.Application) -> None:
    """Register the incident routes on ``app``."""
    app.router.add_get("/api/v1/incidents", list_incidents)
    app.router.add_get(f"/api/v1/sites/{SITE}/incidents", site_incidents)
