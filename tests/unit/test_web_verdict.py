"""The verdict (up | degraded | down) and the certificate's days left in the API and on the
pages, every API answer validated against the OpenAPI document."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import attrs
import pytest
from aiohttp.test_utils import TestClient, TestServer

from sitemon_adapters.store.memory_queries import InMemoryStatusQueries
from sitemon_adapters.web import WebOptions, create_app
from sitemon_core.alerting import Incident, IncidentKind
from sitemon_core.queries import RegionStatus, SiteState, certificate_of, state_of
from tests.web_fixtures import (
    NOW,
    FakeIncidents,
    FixedClock,
    OpenApiContract,
    make_result,
    make_site,
)

CONTRACT = OpenApiContract()
Client = TestClient  # type: ignore[type-arg]


async def verdict_queries() -> InMemoryStatusQueries:
    """slow: healthy but degraded, certificate 3 days off (within its 14 days); fine: up,
    certificate 90 days off; split: up in eu, down in us; gone: down everywhere, expired."""
    sites = [make_site(s, "web") for s in ("slow", "fine", "split", "gone")]
    sites[1] = attrs.evolve(sites[1], tls_expiry_warning_s=7 * 86400.0)
    queries = InMemoryStatusQueries(sites)

    def tls(result, days: float):  # type: ignore[no-untyped-def]
        return attrs.evolve(result, tls_not_after=NOW + timedelta(days=days))

    await queries.save(
        [
            tls(attrs.evolve(make_result("slow", 1), degraded=True), 3.5),
            tls(make_result("fine", 1), 90),
            make_result("split", 1, region="eu"),
            make_result("split", 1, region="us", ok=False, message="HTTP 500"),
            tls(make_result("gone", 1, ok=False, message="certificate expired"), -2.5),
        ]
    )
    return queries


WARNING = Incident(
    id="cert-1",
    site_id="slow",
    url="https://slow.example/",
    opened_at=NOW - timedelta(hours=1),
    error_kind="certificate",
    error_message="certificate expires soon (3 days left)",
    regions=("eu",),
    kind=IncidentKind.CERTIFICATE,
    tls_not_after=NOW + timedelta(days=3.5),
)


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    app = create_app(
        await verdict_queries(),
        WebOptions(clock=FixedClock()),
        incident_repository=FakeIncidents([WARNING]),  # type: ignore[arg-type]
    )
    client: Client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def get(client: Client, path: str) -> dict:  # type: ignore[type-arg]
    response = await client.get(path)
    body = json.loads(await response.text())
    CONTRACT.validate(path.split("?", maxsplit=1)[0], response.status, body)
    assert response.status == 200
    return body  # type: ignore[no-any-return]


async def test_states_and_verdicts_in_the_api(client: Client) -> None:
    body = await get(client, "/api/v1/sites")
    by_id = {s["site_id"]: s for s in body["items"]}
    assert {k: s["state"] for k, s in by_id.items()} == {
        "slow": "degraded", "fine": "up", "split": "degraded", "gone": "down"
    }  # fmt: skip
    assert by_id["slow"]["latest"]["verdict"] == "degraded"
    assert by_id["slow"]["latest"]["outcome"] == "degraded"
    assert by_id["slow"]["regions"][0]["state"] == "degraded"
    assert [r["state"] for r in by_id["split"]["regions"]] == ["up", "down"]
    degraded = await get(client, "/api/v1/sites?state=degraded")
    assert sorted(s["site_id"] for s in degraded["items"]) == ["slow", "split"]


async def test_the_certificate_days_left_in_the_api(client: Client) -> None:
    slow = await get(client, "/api/v1/sites/slow")
    assert slow["certificate"] == {
        "not_after": (NOW + timedelta(days=3.5)).isoformat(),
        "days_left": 3,
        "expiring": True,
    }
    assert slow["latest"]["tls_not_after"] == (NOW + timedelta(days=3.5)).isoformat()
    fine = await get(client, "/api/v1/sites/fine")
    assert (fine["certificate"]["days_left"], fine["certificate"]["expiring"]) == (90, False)
    gone = await get(client, "/api/v1/sites/gone")
    assert gone["certificate"]["days_left"] == -3  # expired 2.5 days ago
    split = await get(client, "/api/v1/sites/split")
    assert split["certificate"] is None and split["latest"]["tls_not_after"] is None


async def test_a_certificate_warning_is_an_incident_of_its_kind(client: Client) -> None:
    body = await get(client, "/api/v1/incidents?state=open")
    [item] = body["items"]
    assert (item["kind"], item["tls_not_after"]) == (
        "certificate",
        WARNING.tls_not_after.isoformat(),
    )  # type: ignore[union-attr]


async def test_pages_show_degraded_and_the_days_left(client: Client) -> None:
    index = await (await client.get("/")).text()
    assert 'class="site state-degraded" data-site="slow"' in index
    assert ">DEGRADED<" in index
    assert '<span class="cert cert-expiring">certificate: 3 days left</span>' in index
    assert '<span class="cert cert-ok">certificate: 90 days left</span>' in index
    assert "certificate expired 3 days ago" in index
    detail = await (await client.get("/sites/slow")).text()
    assert 'class="detail state-degraded"' in detail and "certificate: 3 days left" in detail
    assert '<li class="region state-degraded">' in detail
    assert '<span class="kind">certificate</span>' in index


def test_the_state_is_up_only_when_every_region_is_up() -> None:
    up, slow = make_result("a", 1), attrs.evolve(make_result("a", 1, region="us"), degraded=True)
    down = make_result("a", 1, region="ap", ok=False)

    def state(*results):  # type: ignore[no-untyped-def]
        return state_of(tuple(RegionStatus(region=r.region, latest=r) for r in results))

    assert state() is SiteState.UNKNOWN
    assert state(up) is SiteState.UP
    assert state(up, slow) is SiteState.DEGRADED
    assert state(slow) is SiteState.DEGRADED
    assert state(up, down) is SiteState.DEGRADED
    assert state(down) is SiteState.DOWN
    regions = (RegionStatus(region="eu", latest=up),)
    assert certificate_of(regions, NOW) is None
