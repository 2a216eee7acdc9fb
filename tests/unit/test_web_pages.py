"""Status page, detail page, badges and static files: content, pagination, hostile strings
inert (parsed, not grepped), credentials absent, cache and security headers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from html.parser import HTMLParser
from importlib import resources
from urllib.parse import quote
from xml.etree import ElementTree

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sitemon_adapters.store.memory_queries import InMemoryStatusQueries
from sitemon_adapters.web import WebOptions, create_app
from tests.web_fixtures import (
    HOSTILE,
    HOSTILE_ID,
    SECRET,
    FixedClock,
    make_result,
    make_site,
    sample_incidents,
    sample_queries,
)

Client = TestClient  # type: ignore[type-arg]


async def start(incidents: object = None, **options: object) -> Client:
    app = create_app(
        await sample_queries(),
        WebOptions(clock=FixedClock(), **options),  # type: ignore[arg-type]
        incident_repository=incidents,  # type: ignore[arg-type]
    )
    client: Client = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    client = await start()
    try:
        yield client
    finally:
        await client.close()


class Elements(HTMLParser):
    """Every element and attribute of a page, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


async def page(client: Client, path: str) -> tuple[Elements, str]:
    response = await client.get(path)
    assert response.status == 200, path
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    html = await response.text()
    parsed = Elements()
    parsed.feed(html)
    return parsed, html


def assert_inert(parsed: Elements) -> None:
    scripts = [attrs for tag, attrs in parsed.elements if tag == "script"]
    assert scripts == [{"src": "/static/status.js", "defer": ""}]
    for tag, attrs in parsed.elements:
        assert tag != "img", attrs
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            assert not value.strip().lower().startswith("javascript:"), (tag, name, value)
        assert "style" not in attrs  # CSP forbids inline styles; none are needed


async def test_the_status_page_lists_every_site_grouped_by_tag(client: Client) -> None:
    parsed, _ = await page(client, "/")
    rows = [attrs["data-site"] for tag, attrs in parsed.elements if "data-site" in attrs]
    assert sorted(rows) == sorted(["alpha", "beta", "secret", HOSTILE_ID])
    groups = [a for t, a in parsed.elements if t == "section" and a.get("class") == "group"]
    assert len(groups) == 3  # the hostile tag, api, web: each site under its first tag
    assert_inert(parsed)


async def test_hostile_strings_are_text_on_both_pages(client: Client) -> None:
    for path in ["/", "/sites/" + quote(HOSTILE_ID, safe="")]:
        parsed, html = await page(client, path)
        assert_inert(parsed)
        assert any(HOSTILE in t for t in parsed.text)  # shown, as text
        assert "<script>alert" not in html and "<img src=x" not in html


async def test_credentials_are_never_on_a_page(client: Client) -> None:
    for path in ["/", "/sites/secret", "/?q=secret"]:
        _, html = await page(client, path)
        assert SECRET not in html and "bob" not in html
    parsed, _ = await page(client, "/sites/secret")
    assert "https://secret.example/path" in "".join(parsed.text)


async def test_the_page_is_paginated_and_filtered() -> None:
    client = await start(page_size=2)
    try:
        parsed, _ = await page(client, "/")
        rows = [a["data-site"] for _, a in parsed.elements if "data-site" in a]
        assert rows == ["beta", "alpha"]  # the page's sites by id, then grouped: api, web
        links = {a.get("rel"): a["href"] for t, a in parsed.elements if t == "a" and "rel" in a}
        assert links == {"next": "/?offset=2"}
        parsed, _ = await page(client, links["next"])
        assert sorted(a["data-site"] for _, a in parsed.elements if "data-site" in a) == [
            HOSTILE_ID,
            "secret",
        ]
        parsed, _ = await page(client, "/?state=down&q=sec")
        assert [a["data-site"] for _, a in parsed.elements if "data-site" in a] == ["secret"]
    finally:
        await client.close()


async def test_the_detail_page_shows_regions_and_a_chart_placeholder(client: Client) -> None:
    parsed, _ = await page(client, "/sites/alpha")
    regions = [
        a["class"] for t, a in parsed.elements if t == "li" and "region" in a.get("class", "")
    ]
    assert regions == ["region state-up", "region state-up"]
    body = next(a for t, a in parsed.elements if t == "body")
    assert body["data-latency-api"] == "/api/v1/sites/alpha/latency?bucket=1h"
    assert any(t == "svg" and a.get("id") == "chart" for t, a in parsed.elements)
    response = await client.get("/sites/ghost")
    assert response.status == 404
    assert response.content_type == "text/html"
    assert "unknown site &#39;ghost&#39;" in await response.text()
    response = await client.get("/sites/" + quote("<b>x</b>", safe=""))
    assert "<b>" not in await response.text()
    response = await client.get("/?state=sideways")
    assert response.status == 400 and "state: must be one of" in await response.text()


@pytest.mark.parametrize(
    ("tail", "label"),
    [
        ("status.svg", "status: up"),
        ("uptime/24h.svg", "uptime 24h: 100.00%"),
        ("uptime/30d.svg", "uptime 30d: 100.00%"),
        ("response-time.svg", "response time: 210 ms"),
    ],
)
async def test_badges_are_cacheable_svg(client: Client, tail: str, label: str) -> None:
    response = await client.get(f"/badge/alpha/{tail}")
    assert response.status == 200
    assert response.content_type == "image/svg+xml"
    assert response.headers["Cache-Control"] == "public, max-age=60"
    svg = ElementTree.fromstring(await response.text())
    assert svg.get("aria-label") == label


async def test_badges_of_a_hostile_site_are_inert_and_bad_windows_named(client: Client) -> None:
    base = "/badge/" + quote(HOSTILE_ID, safe="")
    for tail in ["status.svg", "uptime/7d.svg", "response-time.svg"]:
        response = await client.get(f"{base}/{tail}")
        text = await response.text()
        tags = {e.tag.split("}")[-1] for e in ElementTree.fromstring(text).iter()}
        assert tags <= {"svg", "title", "rect", "g", "text"}, tags
    response = await client.get("/badge/alpha/uptime/2y.svg")
    assert (response.status, (await response.json())["error"]["parameter"]) == (400, "window")
    response = await client.get("/badge/ghost/status.svg")
    assert response.status == 404


async def test_only_the_page_own_static_files_are_served(client: Client) -> None:
    response = await client.get("/static/status.js")
    assert response.content_type == "text/javascript"
    assert (await client.get("/static/..%2Fapi.py")).status == 404
    assert (await client.get("/static/openapi.json")).status == 404


def test_the_script_never_writes_markup() -> None:
    script = resources.files("sitemon_adapters.web").joinpath("static/status.js").read_text()
    for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("]:
        assert sink not in script
    for asset in resources.files("sitemon_adapters.web").joinpath("templates").iterdir():
        assert "http://" not in asset.read_text() and "https://" not in asset.read_text()


async def test_ten_thousand_sites_are_paged_fifty_at_a_time() -> None:
    queries = InMemoryStatusQueries([make_site(f"s{i:05d}", f"t{i % 20}") for i in range(10_000)])
    await queries.save([make_result(f"s{i:05d}", 1, ok=i % 50 != 0) for i in range(10_000)])
    app = create_app(queries, WebOptions(clock=FixedClock()))
    async with TestClient(TestServer(app)) as client:
        parsed, _ = await page(client, "/")
        assert len([a for _, a in parsed.elements if "data-site" in a]) == 50
        assert "10000 sites, 1\u201350 shown" in "".join(parsed.text)
        parsed, _ = await page(client, "/?offset=9950")
        rows = sorted(a["data-site"] for _, a in parsed.elements if "data-site" in a)
        assert rows[-1] == "s09999" and len(rows) == 50
        assert not any(a.get("rel") == "next" for _, a in parsed.elements)
        parsed, _ = await page(client, "/?state=down")
        assert "200 sites" in "".join(parsed.text)


async def test_open_incidents_on_the_status_page_recent_ones_on_the_detail_page() -> None:
    client = await start(incidents=sample_incidents())
    try:
        parsed, html = await page(client, "/")
        assert_inert(parsed)
        section = next(
            a for t, a in parsed.elements if t == "section" and a.get("id") == "incidents"
        )
        assert "hidden" not in section
        items = [
            a["class"] for t, a in parsed.elements if t == "li" and "incident" in a.get("class", "")
        ]
        assert items == ["incident open", "incident open"]
        assert "&lt;script&gt;alert(1)" in html
        parsed, _ = await page(client, "/sites/alpha")
        items = [
            a["class"] for t, a in parsed.elements if t == "li" and "incident" in a.get("class", "")
        ]
        assert items == ["incident resolved"]  # the one of 40 days ago is not recent
        _, html = await page(client, "/sites/secret")
        assert SECRET not in html
    finally:
        await client.close()
