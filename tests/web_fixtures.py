"""Shared by the web tests: a fixed clock, sample results (hostile ones included), and the
OpenAPI contract every response is validated against."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import jsonschema

from sitemon_adapters.store.memory_queries import InMemoryStatusQueries
from sitemon_core.alerting.models import Incident
from sitemon_core.models import CheckResult, ErrorKind, PhaseTimings, Site

NOW = datetime(2026, 3, 31, 12, 30, tzinfo=UTC)
HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>javascript:alert(3)'
HOSTILE_ID = "evil" + HOSTILE
SECRET = "hunter2-secret"


class FixedClock:
    """A Clock whose wall time is set by the test."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def monotonic(self) -> float:
        return self.now.timestamp()

    def utcnow(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make_site(site_id: str, *tags: str, url: str = "") -> Site:
    return Site.http(
        id=site_id,
        url=url or f"https://{site_id}.example/",
        interval_s=60,
        timeout_s=5,
        tags=frozenset(tags),
        headers={"Authorization": f"Bearer {SECRET}"},
    )


def make_result(
    site_id: str,
    minutes_ago: float,
    *,
    ok: bool = True,
    region: str = "eu",
    total: float = 120.0,
    message: str = "",
    url: str = "",
    now: datetime = NOW,
) -> CheckResult:
    return CheckResult(
        check_id=f"{site_id}|{region}|{minutes_ago}|{now.isoformat()}",
        site_id=site_id,
        url=url or f"https://{site_id}.example/",
        region=region,
        started_at=now - timedelta(minutes=minutes_ago),
        ok=ok,
        total_ms=total,
        status_code=200 if ok else 500,
        timings=PhaseTimings(
            dns_ms=total * 0.1,
            connect_ms=total * 0.2,
            tls_ms=total * 0.3,
            ttfb_ms=total * 0.3,
            transfer_ms=total * 0.1,
        ),
        final_url=url or None,
        error_kind=ErrorKind.NONE,
        error_message=message,
    )


def sample_sites() -> list[Site]:
    return [
        make_site("alpha", "web"),
        make_site("beta", "api"),
        make_site("secret", "web", url=f"https://bob:{SECRET}@secret.example/path"),
        make_site(HOSTILE_ID, "web", HOSTILE, url="javascript:alert(4)//" + HOSTILE),
    ]


async def sample_queries() -> InMemoryStatusQueries:
    """Four sites, two regions, a day of checks every 30 minutes; beta down lately."""
    queries = InMemoryStatusQueries(sample_sites())
    results = []
    for minutes in range(0, 24 * 60, 30):
        results += [
            make_result("alpha", minutes, region="eu"),
            make_result("alpha", minutes + 1, region="us", total=300.0),
            make_result("beta", minutes, ok=minutes > 60, message="HTTP 500 from upstream"),
            make_result(
                "secret",
                minutes,
                ok=False,
                url=f"https://bob:{SECRET}@secret.example/path",
                message=f"cannot connect to https://bob:{SECRET}@secret.example/path",
            ),
            make_result(
                HOSTILE_ID,
                minutes,
                ok=False,
                url="javascript:alert(4)//" + HOSTILE,
                message=HOSTILE,
            ),
        ]
    await queries.save(results)
    return queries


class FakeIncidents:
    """The read half of an IncidentRepository, over a list (alerting has no adapter yet)."""

    def __init__(self, incidents: list[Incident]) -> None:
        self._incidents = incidents

    async def open_incidents(self) -> list[Incident]:
        return [i for i in self._incidents if i.is_open]

    async def incidents(
        self, *, site_id: str | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[Incident]:
        found = [
            i
            for i in self._incidents
            if site_id in (None, i.site_id) and (since is None or i.opened_at >= since or i.is_open)
        ]
        return sorted(found, key=lambda i: i.opened_at, reverse=True)[:limit]


def sample_incidents() -> FakeIncidents:
    """beta: open; alpha: one resolved; the hostile site: open, hostile strings everywhere;
    secret: a URL and message with credentials."""

    def make(site_id: str, hours_ago: float, resolved: bool, **fields: object) -> Incident:
        opened = NOW - timedelta(hours=hours_ago)
        return Incident(
            id=f"{site_id}-{hours_ago}",
            site_id=site_id,
            url=str(fields.pop("url", f"https://{site_id}.example/")),
            opened_at=opened,
            resolved_at=opened + timedelta(minutes=20) if resolved else None,
            error_kind=str(fields.pop("error_kind", "none")),
            error_message=str(fields.pop("error_message", "HTTP 500")),
            status_code=500,
            regions=("eu",),
            tags=("web",),
        )

    return FakeIncidents(
        [
            make("beta", 1, False),
            make("alpha", 30, True),
            make("alpha", 24 * 40, True),
            make(
                HOSTILE_ID, 2, False, url="javascript:alert(4)//" + HOSTILE, error_message=HOSTILE
            ),
            make(
                "secret",
                3,
                True,
                url=f"https://bob:{SECRET}@secret.example/path",
                error_message=f"cannot connect to https://bob:{SECRET}@secret.example/",
            ),
        ]
    )


class OpenApiContract:
    """The served OpenAPI document: which operation a path is, and its response schemas."""

    def __init__(self) -> None:
        text = resources.files("sitemon_adapters.web").joinpath("openapi.json").read_text()
        self.document: dict[str, Any] = json.loads(text)
        self._routes = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), path)
            for path in self.document["paths"]
        ]

    def template_of(self, path: str) -> str | None:
        """The documented path template matching a concrete (percent-encoded) path."""
        for pattern, template in self._routes:
            if pattern.match(path):
                return template
        return None

    def validate(self, path: str, status: int, body: object) -> None:
        """Fail unless ``status`` is documented for ``path`` and ``body`` matches its schema."""
        template = self.template_of(path)
        assert template is not None, f"undocumented path {path}"
        responses = self.document["paths"][template]["get"]["responses"]
        assert str(status) in responses, f"undocumented status {status} for {template}: {body}"
        response = responses[str(status)]
        if "$ref" in response:
            response = self.document["components"]["responses"][response["$ref"].split("/")[-1]]
        schema = response["content"]["application/json"]["schema"]
        jsonschema.Draft202012Validator(
            {**schema, "components": self.document["components"]},
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
        ).validate(body)
