"""The JSON API over the memory adapter: answers, errors naming parameters, auth, secrets
never returned — every response validated against the OpenAPI document."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import jsonschema
import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from sitemon_adapters.web import WebAuth, WebOptions, create_app
from tests.web_fixtures import (
    HOSTILE_ID,
    SECRET,
    FixedClock,
    OpenApiContract,
    sample_incidents,
    sample_queries,
)

CONTRACT = OpenApiContract()


async def start(options: WebOptions | None = None, incidents: object = True) -> TestClient:  # type: ignore[type-arg]
    app = create_app(
        await sample_queries(),
        options or WebOptions(clock=FixedClock()),
        incident_repository=sample_incidents() if incidents else None,  # type: ignore[arg-type]
    )
    client: TestClient = TestClient(TestServer(app))  # type: ignore[type-arg]
    await client.start_server()
    return client


@pytest.fixture
async def client() -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    client = await start()
    try:
        yield client
    finally:
        await client.close()


async def get(client: TestClient, path: str) -> tuple[int, object]:  # type: ignore[type-arg]
    """GET ``path``; check the answer against the contract; return status and JSON body."""
    response: ClientResponse = await client.get(path)
    body = json.loads(await response.text())
    CONTRACT.validate(path.split("?", maxsplit=1)[0], response.status, body)
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    return response.status, body


def site_path(site_id: str, tail: str = "") -> str:
    return f"/api/v1/sites/{quote(site_id, safe='')}{tail}"


async def test_the_site_list_filters_and_pages(client: TestClient) -> None:  # type: ignore[type-arg]
    status, body = await get(client, "/api/v1/sites?tag=web&limit=2")
    assert status == 200
    assert body["total"] == 3  # type: ignore[index]
    assert [s["site_id"] for s in body["items"]] == ["alpha", HOSTILE_ID]  # type: ignore[index]
    _, down = await get(client, "/api/v1/sites?state=down")
    assert {s["site_id"] for s in down["items"]} == {"beta", "secret", HOSTILE_ID}  # type: ignore[index]
    _, found = await get(client, "/api/v1/sites?q=BETA")
    assert [s["site_id"] for s in found["items"]] == ["beta"]  # type: ignore[index]


async def test_a_site_has_its_regions_uptime_and_bar(client: TestClient) -> None:  # type: ignore[type-arg]
    status, body = await get(client, site_path("alpha"))
    assert status == 200
    assert [r["region"] for r in body["regions"]] == ["eu", "us"]  # type: ignore[index]
    assert [u["window"] for u in body["uptime"]] == ["24h", "7d", "30d"]  # type: ignore[index]
    assert len(body["bar"]) == 90  # type: ignore[index]


async def test_checks_page_through_with_the_cursor(client: TestClient) -> None:  # type: ignore[type-arg]
    seen: list[str] = []
    path = site_path("alpha", "/checks?limit=7&from=2026-03-31T00:00:00Z")
    while True:
        status, body = await get(client, path)
        assert status == 200
        seen += [c["check_id"] for c in body["items"]]  # type: ignore[index]
        cursor = body["next_cursor"]  # type: ignore[index]
        if cursor is None:
            break
        path = site_path("alpha", f"/checks?limit=7&from=2026-03-31T00:00:00Z&cursor={cursor}")
    assert len(seen) == len(set(seen)) == 50  # 12.5 h x 2 per hour x 2 regions


async def test_uptime_and_latency(client: TestClient) -> None:  # type: ignore[type-arg]
    _, uptime = await get(client, site_path("beta", "/uptime?window=24h&window=7d"))
    assert [f["window"] for f in uptime["overall"]] == ["24h", "7d"]  # type: ignore[index]
    _, latency = await get(client, site_path("alpha", "/latency?bucket=2h"))
    points = latency["points"]  # type: ignore[index]
    assert latency["bucket_s"] == 7200  # type: ignore[index]
    assert len(points) == 13
    busy = [p for p in points if p["checks"]]
    assert all(set(p["phases_ms"]) == {"dns", "connect", "tls", "ttfb", "transfer"} for p in busy)


@pytest.mark.parametrize(
    ("path", "status", "parameter"),
    [
        (site_path("alpha", "/uptime?window=2y"), 400, "window"),
        (
            site_path("alpha", "/checks?from=2026-03-31T10:00:00Z&to=2026-03-30T10:00:00Z"),
            400,
            "from",
        ),
        (site_path("alpha", "/checks?limit=1000000000"), 400, "limit"),
        ("/api/v1/sites?limit=1000000000", 400, "limit"),
        (site_path("alpha", "/checks?cursor=%25%25not-ours"), 400, "cursor"),
        (site_path("alpha", "/checks?cursor=WzEsMl0"), 400, "cursor"),
        (site_path("alpha", "/checks?from=yesterday"), 400, "from"),
        (site_path("alpha", "/checks?from=2026-03-31T10:00:00"), 400, "from"),
        (site_path("alpha", "/latency?bucket=5m"), 400, "bucket"),
        (site_path("alpha", "/latency?to=0001-01-01T00:00:00%2B00:00"), 400, "to"),
        (site_path("alpha", "/latency?from=2020-01-01T00:00:00Z&bucket=1h"), 400, "bucket"),
        ("/api/v1/sites?state=sideways", 400, "state"),
        ("/api/v1/sites?offset=-1", 400, "offset"),
        (site_path("ghost"), 404, "site"),
        (site_path("ghost", "/checks"), 404, "site"),
        (site_path("ghost", "/uptime"), 404, "site"),
        (site_path("ghost", "/latency"), 404, "site"),
    ],
)
async def test_bad_parameters_get_a_4xx_naming_them(
    client: TestClient,  # type: ignore[type-arg]
    path: str,
    status: int,
    parameter: str,
) -> None:
    got, body = await get(client, path)
    assert (got, body["error"]["parameter"]) == (status, parameter)  # type: ignore[index]


async def test_credentials_and_headers_are_never_returned(client: TestClient) -> None:  # type: ignore[type-arg]
    for path in [
        "/api/v1/sites?limit=500",
        site_path("secret"),
        site_path("secret", "/checks"),
        "/api/v1/sites?q=hunter2",
    ]:
        response = await client.get(path)
        text = await response.text()
        assert response.status == 200
        assert SECRET not in text and "bob" not in text, path
    _, body = await get(client, site_path("secret"))
    assert body["url"] == "https://secret.example/path"  # type: ignore[index]


async def test_hostile_strings_come_back_as_inert_json(client: TestClient) -> None:  # type: ignore[type-arg]
    response = await client.get(site_path(HOSTILE_ID))
    assert response.content_type == "application/json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    text = await response.text()
    assert "</script>" not in text  # "</" is escaped, so not even a sniffing browser sees a tag
    assert json.loads(text)["site_id"] == HOSTILE_ID


def test_the_document_is_valid_openapi_3_1() -> None:
    meta = json.loads(Path("tests/data/openapi-3.1-schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(meta).validate(CONTRACT.document)
    for schema in CONTRACT.document["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)


async def test_every_api_route_is_documented(client: TestClient) -> None:  # type: ignore[type-arg]
    served = {
        r.canonical
        for r in client.app.router.resources()  # type: ignore[union-attr]
        if r.canonical.startswith(("/api", "/healthz", "/readyz"))
    }
    assert served == set(CONTRACT.document["paths"])


@pytest.mark.parametrize(
    "auth", [WebAuth(token="s3cret-token"), WebAuth(username="ops", password="pa:ss")]
)
async def test_auth_guards_everything_but_healthz(auth: WebAuth) -> None:
    client = await start(WebOptions(auth=auth, clock=FixedClock()))
    try:
        assert (await client.get("/healthz")).status == 200
        for path in ["/readyz", "/api/v1/sites", "/api/v1/openapi.json"]:
            refused = await client.get(path)
            assert refused.status == 401
            CONTRACT.validate(path, 401, await refused.json())
            assert refused.headers["WWW-Authenticate"].startswith(auth.scheme)
            wrong = await client.get(path, headers={"Authorization": auth.scheme + " nope"})
            assert wrong.status == 401
            ok = await client.get(path, headers={"Authorization": auth.expected_header()})
            assert ok.status == 200
    finally:
        await client.close()


async def test_health_and_readiness(client: TestClient) -> None:  # type: ignore[type-arg]
    assert await get(client, "/healthz") == (200, {"status": "alive"})
    assert await get(client, "/readyz") == (200, {"status": "ready"})


async def test_incidents_open_recent_and_per_site(client: TestClient) -> None:  # type: ignore[type-arg]
    _, open_ = await get(client, "/api/v1/incidents?state=open")
    ids = [i["site_id"] for i in open_["items"]]  # type: ignore[index]
    assert ids == ["beta", HOSTILE_ID]  # newest first
    assert all(i["open"] for i in open_["items"])  # type: ignore[index]
    _, recent = await get(client, "/api/v1/incidents")
    assert len(recent["items"]) == 4  # type: ignore[index]  # the 40-day-old one is out
    _, alpha = await get(client, site_path("alpha", "/incidents?since=2026-01-01T00:00:00Z"))
    assert [i["open"] for i in alpha["items"]] == [False, False]  # type: ignore[index]
    _, secret = await get(client, site_path("secret", "/incidents"))
    assert secret["items"][0]["url"] == "https://secret.example/path"  # type: ignore[index]
    assert SECRET not in json.dumps(secret)
    status, body = await get(client, "/api/v1/incidents?state=sideways")
    assert (status, body["error"]["parameter"]) == (400, "state")  # type: ignore[index]
    status, body = await get(client, site_path("ghost", "/incidents"))
    assert (status, body["error"]["parameter"]) == (404, "site")  # type: ignore[index]


async def test_without_alerting_incidents_are_empty_and_say_so() -> None:
    client = await start(incidents=False)
    try:
        assert await get(client, "/api/v1/incidents") == (200, {"enabled": False, "items": []})
    finally:
        await client.close()
