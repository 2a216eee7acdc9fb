"""Hypothesis over every documented endpoint: arbitrary ids and parameters (plausible and
junk) never get a 5xx, and every answer is one the OpenAPI document describes."""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sitemon_adapters.web import WebOptions, create_app
from tests.web_fixtures import (
    HOSTILE_ID,
    FixedClock,
    OpenApiContract,
    sample_incidents,
    sample_queries,
)

CONTRACT = OpenApiContract()
SITE_IDS = st.sampled_from(["alpha", "beta", "secret", HOSTILE_ID, "ghost"]) | st.text(
    st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20
)
INSTANTS = st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat())
PLAUSIBLE = {
    "tag": st.sampled_from(["web", "api", "none"]),
    "state": st.sampled_from(["up", "down", "degraded", "unknown", "open", "all"]),
    "site": st.sampled_from(["alpha", "beta", HOSTILE_ID, "ghost", ""]),
    "since": INSTANTS,
    "q": st.sampled_from(["a", "EXAMPLE", "<script>"]),
    "offset": st.integers(-5, 10**8).map(str),
    "limit": st.integers(-5, 10**9).map(str),
    "from": INSTANTS,
    "to": INSTANTS,
    "cursor": st.text(max_size=30),
    "window": st.sampled_from(["1h", "24h", "7d", "30d", "1y"]),
    "bucket": st.sampled_from(["1h", "2h", "24h", "5m", ""]),
}


def _query_names(template: str) -> list[str]:
    names = []
    shared = CONTRACT.document["components"]["parameters"]
    for declared in CONTRACT.document["paths"][template]["get"].get("parameters", []):
        parameter = shared[declared["$ref"].split("/")[-1]] if "$ref" in declared else declared
        if parameter["in"] == "query":
            names.append(parameter["name"])
    return names


@st.composite
def requests(draw: st.DrawFn) -> str:
    template = draw(st.sampled_from(sorted(CONTRACT.document["paths"])))
    path = template.replace("{site_id}", quote(draw(SITE_IDS), safe=""))
    query = []
    for name in _query_names(template):
        if draw(st.booleans()):
            junk = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
            query.append((name, draw(PLAUSIBLE[name] | junk)))
    return f"{path}?{urlencode(query)}" if query else path


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(requests(), min_size=1, max_size=8))
async def test_no_endpoint_answers_5xx_or_off_contract(paths: list[str]) -> None:
    app = create_app(
        await sample_queries(),
        WebOptions(clock=FixedClock()),
        incident_repository=sample_incidents(),  # type: ignore[arg-type]
    )
    async with TestClient(TestServer(app)) as client:
        for path in paths:
            response = await client.get(path)
            assert response.status < 500, (path, await response.text())
            if response.status == 404 and CONTRACT.template_of(response.url.raw_path) is None:
                continue  # a site id with '/' cannot name a route: aiohttp's plain 404
            CONTRACT.validate(
                response.url.raw_path, response.status, json.loads(await response.text())
            )


PAGES = st.sampled_from(
    [
        "/",
        "/sites/{id}",
        "/badge/{id}/status.svg",
        "/badge/{id}/uptime/{window}.svg",
        "/badge/{id}/response-time.svg",
    ]
)
JUNK = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)


@st.composite
def page_requests(draw: st.DrawFn) -> str:
    path = draw(PAGES).format(
        id=quote(draw(SITE_IDS), safe=""),
        window=quote(draw(PLAUSIBLE["window"] | JUNK), safe=""),
    )
    names = st.sampled_from(["q", "tag", "state", "offset"])
    query = draw(st.lists(st.tuples(names, PLAUSIBLE["state"] | PLAUSIBLE["offset"] | JUNK)))
    return f"{path}?{urlencode(query)}" if query else path


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(page_requests(), min_size=1, max_size=8))
async def test_no_page_or_badge_answers_5xx(paths: list[str]) -> None:
    app = create_app(await sample_queries(), WebOptions(clock=FixedClock(), page_size=2))
    async with TestClient(TestServer(app)) as client:
        for path in paths:
            response = await client.get(path)
            assert response.status < 500, (path, await response.text())
