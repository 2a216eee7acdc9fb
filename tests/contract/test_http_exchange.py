"""Both HTTP engines record the same thing for the same exchange (issue 14, item 17).

Each scenario is checked once with every prober adapter, against the same loopback
server; the results must agree with each other and with what is expected. When a check
ends after one or more redirects but before a final response (a redirect loop, a
``Location`` that is not HTTP, a next hop that refuses), the status is that of the last
response read: the redirect that could not be followed; the final URL is where the
check was: the last response's own URL when no more redirects were allowed, else the URL
it was redirected to (libcurl's "effective URL").
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import attrs
import pytest

from sitemon_adapters.clock import SystemClock
from sitemon_cli.targets import start_target_server
from sitemon_core.models import CheckResult, ErrorKind, Site
from sitemon_core.ports import SiteProber
from tests.contract import targets

pytestmark = pytest.mark.timeout(30)


@attrs.frozen
class Seen:
    """What both engines must record for a scenario (``{url}``: the server's base URL)."""

    status: int | None
    final_url: str | None
    kind: ErrorKind


def _aiohttp() -> AbstractAsyncContextManager[SiteProber]:
    from sitemon_adapters.probe.aiohttp.prober import AiohttpSiteProber

    return AiohttpSiteProber("exchange-test", SystemClock())


def _curl() -> AbstractAsyncContextManager[SiteProber]:
    from sitemon_adapters.probe.curl.prober import CurlSiteProber

    return CurlSiteProber("exchange-test", SystemClock())


ENGINES: dict[str, Callable[[], AbstractAsyncContextManager[SiteProber]]] = {
    "aiohttp": _aiohttp,
    "curl": _curl,
}


def make_site(url: str, **overrides: Any) -> Site:
    """A site with a 2 s timeout (a loopback exchange takes milliseconds)."""
    return Site.http(
        **({"id": "site-1", "url": url, "interval_s": 60.0, "timeout_s": 2.0} | overrides)
    )


@asynccontextmanager
async def _target() -> AsyncIterator[str]:
    runner, url = await start_target_server()
    try:
        yield url
    finally:
        await runner.cleanup()


def _redirect_to(location: str) -> Callable[[], AbstractAsyncContextManager[str]]:
    raw = f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
    return lambda: targets.raw_server(targets._answer(raw.encode()))


DEAD = f"http://127.0.0.1:{targets.closed_port()}/next"

# name -> (server, path and site overrides, expected)
SCENARIOS: dict[
    str, tuple[Callable[[], AbstractAsyncContextManager[str]], str, dict[str, int], Seen]
] = {
    "redirect loop": (
        _target,
        "/loop",
        {},
        Seen(302, "{url}/loop", ErrorKind.TOO_MANY_REDIRECTS),
    ),
    "redirect chain too long": (
        _target,
        "/redirect/3",
        {"max_redirects": 2},
        Seen(302, "{url}/redirect/1", ErrorKind.TOO_MANY_REDIRECTS),
    ),
    "redirect to a non-HTTP URL": (
        _redirect_to("ftp://127.0.0.1/file"),
        "/start",
        {},
        Seen(302, "ftp://127.0.0.1/file", ErrorKind.PROTOCOL),
    ),
    "redirect chain followed": (
        _target,
        "/redirect/2",
        {},
        Seen(200, "{url}/ok", ErrorKind.NONE),
    ),
    "redirect not followed": (
        _target,
        "/redirect/1",
        {"follow_redirects": False},
        Seen(302, "{url}/redirect/1", ErrorKind.NONE),
    ),
}


async def _probe_all(site: Site) -> dict[str, CheckResult]:
    results: dict[str, CheckResult] = {}
    for engine, make in ENGINES.items():
        async with make() as prober:
            results[engine] = await prober.probe(site)
    return results


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_both_engines_record_the_same_exchange(name: str) -> None:
    serve, path, overrides, seen = SCENARIOS[name]
    async with serve() as url:
        results = await _probe_all(make_site(f"{url}{path}", **overrides))
    recorded = {engine: (r.status_code, r.final_url, r.error_kind) for engine, r in results.items()}
    final_url = None if seen.final_url is None else seen.final_url.format(url=url)
    assert recorded == dict.fromkeys(results, (seen.status, final_url, seen.kind))


async def test_a_dead_next_hop_reports_the_redirect_and_the_failure() -> None:
    async with _redirect_to(DEAD)() as url:
        results = await _probe_all(make_site(f"{url}/start"))
    assert {e: (r.status_code, r.error_kind) for e, r in results.items()} == dict.fromkeys(
        results, (302, ErrorKind.CONNECT)
    )
    assert all(not r.ok for r in results.values())
    assert {r.final_url for r in results.values()} == {DEAD}


async def test_both_engines_stamp_the_site_tags_sorted() -> None:
    async with _target() as url:
        site = make_site(f"{url}/ok", tags=frozenset({"team=web", "prod", "ünï"}))
        results = await _probe_all(site)
        untagged = await _probe_all(make_site(f"{url}/ok"))
    assert {r.tags for r in results.values()} == {("prod", "team=web", "ünï")}
    assert {r.tags for r in untagged.values()} == {()}
