"""Every site is addressable with its id as one percent-encoded path segment, whatever the id
holds (``/``, ``?``, ``#``, ``%``, spaces, non-ASCII, markup), and every link the pages emit
reaches the site it names; a path that splits an id gets a 404 naming the parameter."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given, settings
from hypothesis import strategies as st
from yarl import URL

from sitemon_adapters.store.memory_queries import InMemoryStatusQueries
from sitemon_adapters.web import WebOptions, create_app
from tests.web_fixtures import FixedClock, OpenApiContract, make_result, make_site

Client = TestClient  # type: ignore[type-arg]
CONTRACT = OpenApiContract()
IDS = [
    "a/b",
    "a b",
    "ü/x?y#z",
    "%2F",
    "%2f",
    "a%2Fb",
    "100%",
    "<script>alert(1)</script>",
    "example.com/health",
    "x:y",
    "/lead",
    "trail/",
    "a/../b",
]
# Each route under a site, with ``{}`` for the encoded id.
SITE_ROUTES = [
    "/api/v1/sites/{}",
    "/api/v1/sites/{}/checks",
    "/api/v1/sites/{}/uptime",
    "/api/v1/sites/{}/latency",
    "/api/v1/sites/{}/incidents",
    "/badge/{}/status.svg",
    "/badge/{}/uptime/24h.svg",
    "/badge/{}/response-time.svg",
    "/sites/{}",
]


def segment(site_id: str) -> str:
    """A site id as one path segment, as the pages write it."""
    return quote(site_id, safe="")


async def serve(ids: list[str]) -> Client:
    queries = InMemoryStatusQueries([make_site(i, "web") for i in ids])
    await queries.save([make_result(i, 1) for i in ids])
    client: Client = TestClient(TestServer(create_app(queries, WebOptions(clock=FixedClock()))))
    await client.start_server()
    return client


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    client = await serve(IDS)
    try:
        yield client
    finally:
        await client.close()


async def fetch(client: Client, path: str) -> ClientResponse:
    """GET ``path`` byte for byte as written (no requoting by the client)."""
    return await client.session.get(URL(str(client.make_url("")) + path, encoded=True))


class Links(HTMLParser):
    """The hrefs and the ``data-*api`` URLs of a page (what a browser or status.js follows)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self.site_names: list[str] = []
        self._in_name = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.urls += [v for k, v in values.items() if k == "href" or k.endswith("-api")]
        self._in_name = tag in ("a", "span") and values.get("class") == "name"

    def handle_data(self, data: str) -> None:
        if self._in_name:
            self.site_names.append(data)
            self._in_name = False


async def links(client: Client, path: str) -> Links:
    response = await fetch(client, path)
    assert response.status == 200, path
    parsed = Links()
    parsed.feed(await response.text())
    return parsed


@pytest.mark.parametrize("site_id", IDS)
async def test_every_route_of_a_site_answers_for_its_encoded_id(
    client: Client, site_id: str
) -> None:
    for route in SITE_ROUTES:
        path = route.format(segment(site_id))
        response = await fetch(client, path)
        assert response.status == 200, (site_id, path, await response.text())
    body = json.loads(await (await fetch(client, f"/api/v1/sites/{segment(site_id)}")).text())
    assert body["site_id"] == site_id
    checks = json.loads(
        await (await fetch(client, f"/api/v1/sites/{segment(site_id)}/checks")).text()
    )
    assert {c["site_id"] for c in checks["items"]} == {site_id}


@pytest.mark.parametrize("route", SITE_ROUTES)
async def test_an_unknown_encoded_id_is_a_404_naming_the_site(client: Client, route: str) -> None:
    response = await fetch(client, route.format(segment("a/nope")))
    assert response.status == 404
    text = await response.text()
    if route.startswith("/sites/"):
        assert "unknown site &#39;a/nope&#39;" in text  # the HTML error page
        return
    body = json.loads(text)
    assert body["error"] == {"parameter": "site", "message": "unknown site 'a/nope'"}
    if route.startswith("/api/"):
        CONTRACT.validate(route.format("x"), 404, body)


@pytest.mark.parametrize("route", SITE_ROUTES)
async def test_an_id_with_a_raw_slash_is_a_404_saying_to_encode_it(
    client: Client, route: str
) -> None:
    response = await fetch(client, route.format("a/b"))
    assert response.status == 404
    text = await response.text()
    assert "a%2Fb" in text
    if route.startswith("/sites/"):
        assert response.content_type == "text/html"
    else:
        assert json.loads(text)["error"]["parameter"] == "site"


async def test_every_link_of_the_list_and_detail_pages_reaches_its_site(client: Client) -> None:
    index = await links(client, "/")
    details = [u for u in index.urls if u.startswith("/sites/")]
    assert len(details) == len(IDS)
    for url in index.urls:
        assert (await fetch(client, url)).status == 200, url
    for url in details:
        page = await links(client, url)
        assert page.site_names and page.site_names[0] in IDS
        site_id = page.site_names[0]
        assert url == f"/sites/{segment(site_id)}"
        for link in page.urls:
            response = await fetch(client, link)
            assert response.status == 200, (site_id, link)
            if link.startswith("/api/v1/sites/") and link.count("/") == 4:
                assert json.loads(await response.text())["site_id"] == site_id


async def test_the_openapi_document_says_how_to_encode_an_id(client: Client) -> None:
    document = json.loads(await (await fetch(client, "/api/v1/openapi.json")).text())
    described = document["components"]["parameters"]["SiteId"]["description"]
    assert "a%2Fb" in described


# Dot segments ("." and "..") are removed by every URL parser, encoded or not (WHATWG URL
# treats %2E as a dot too): such an id cannot be a path segment. The config rules forbid
# them (an id starts with a letter or digit).
ANY_ID = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40).filter(
    lambda s: s not in (".", "..")
)


@settings(max_examples=40, deadline=None)
@given(ANY_ID)
def test_any_id_round_trips_through_its_encoded_segment(site_id: str) -> None:
    async def check() -> None:
        client = await serve([site_id])
        try:
            for route in ("/api/v1/sites/{}", "/sites/{}", "/badge/{}/status.svg"):
                response = await fetch(client, route.format(segment(site_id)))
                assert response.status == 200, route
            site = await fetch(client, f"/api/v1/sites/{segment(site_id)}")
            assert json.loads(await site.text())["site_id"] == site_id
        finally:
            await client.close()

    asyncio.run(check())
