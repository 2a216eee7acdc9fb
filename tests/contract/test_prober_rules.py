"""Rules every ``SiteProber`` obeys, whatever its kind: a failing target is a classified
result, the site's timeout bounds the whole check, and no exception escapes (cancellation
aside, which must).

Parametrised over ``KINDS``: one ``Kind`` per prober under test: HTTP through each engine
and through the kind router, TCP (with TLS) and DNS (over TCP, with dnsmasq as the healthy
server); a new probe kind joins by adding one ``pytest.param(Kind(...))`` that says how to
aim its sites at a loopback address.
The rules of HTTP itself (statuses, regex, redirects, TLS) are in ``test_site_prober.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from urllib.parse import urlsplit

import attrs
import pytest

from sitemon_adapters.clock import SystemClock
from sitemon_cli.targets import start_target_server
from sitemon_core.models import ErrorKind, Site
from sitemon_core.ports import SiteProber
from tests.contract import kinds, targets
from tests.contract.probers import ProberFactory, aiohttp_prober, check, curl_prober, routed

pytestmark = pytest.mark.timeout(30)


@attrs.frozen
class Kind:
    """How the generic rules exercise the prober of one kind."""

    open: ProberFactory  # (clock=...) -> async context manager yielding the prober
    site: Callable[[str, float], Site]  # ("host:port", timeout_s) -> a site aimed there
    healthy: Callable[[], AbstractAsyncContextManager[str]]  # a target that is up: "host:port"
    # What a refused connection and an unresolvable name are classified as.
    refused: ErrorKind = ErrorKind.CONNECT
    unresolvable: ErrorKind = ErrorKind.DNS


def http_site(address: str, timeout_s: float) -> Site:
    """An HTTP site on ``address``'s page that the target app serves as healthy."""
    return Site.http(id="site-1", url=f"http://{address}/ok", interval_s=60.0, timeout_s=timeout_s)


@contextlib.asynccontextmanager
async def http_target() -> AsyncIterator[str]:
    """The target app on a free loopback port."""
    runner, url = await start_target_server()
    try:
        yield urlsplit(url).netloc
    finally:
        await runner.cleanup()


def http_via(engine: ProberFactory) -> Kind:
    """The HTTP kind checked by ``engine``."""
    return Kind(open=engine, site=http_site, healthy=http_target)


KINDS = [
    pytest.param(http_via(aiohttp_prober), id="http-aiohttp"),
    pytest.param(http_via(curl_prober), id="http-curl"),
    pytest.param(http_via(routed(aiohttp_prober)), id="http-router"),
    # TCP with its TLS handshake (a plain connect succeeds on every listener, so the
    # timeout and cancellation rules need the handshake to hang on); ``test_tcp_prober.py``
    # covers plain tcp://.
    pytest.param(
        Kind(open=kinds.tcp_prober, site=kinds.tcp_site, healthy=kinds.tls_listener), id="tls"
    ),
    # DNS over TCP, so the byte-level servers below are its peers too; dnsmasq is healthy.
    pytest.param(
        Kind(open=kinds.dns_prober, site=kinds.dns_tcp_site, healthy=kinds.dns_target), id="dns"
    ),
]
# Byte-level servers that are no valid peer of any protocol: whatever a prober makes of
# them, it must come back with a result.
HOSTILE = ("garbage", "reset", "reset_on_accept", "close_early")


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> Kind:
    """One kind's prober (the test runs once per entry of ``KINDS``)."""
    chosen: Kind = request.param
    return chosen


@pytest.fixture
async def prober(kind: Kind) -> AsyncIterator[SiteProber]:
    """A ready prober of ``kind`` with the system clock."""
    async with kind.open() as ready:
        yield ready


@contextlib.asynccontextmanager
async def raw(behaviour: targets.Behaviour) -> AsyncIterator[str]:
    """``behaviour`` served on a free loopback port, as ``host:port``."""
    async with targets.raw_server(behaviour) as url:
        yield urlsplit(url).netloc


async def test_healthy_target_is_up(kind: Kind, prober: SiteProber) -> None:
    async with kind.healthy() as address:
        result = await check(prober, kind.site(address, 1.0))
    assert result.ok and result.error_kind is ErrorKind.NONE


async def test_refused_connection_is_classified(kind: Kind, prober: SiteProber) -> None:
    result = await check(prober, kind.site(f"127.0.0.1:{targets.closed_port()}", 1.0))
    assert not result.ok
    assert result.error_kind is kind.refused and result.error_message


async def test_unresolvable_name_is_classified(kind: Kind, prober: SiteProber) -> None:
    # The .invalid TLD never resolves (RFC 6761); resolvers fail it fast, even offline.
    result = await check(prober, kind.site("nonexistent.invalid:80", 1.0))
    assert not result.ok
    assert result.error_kind is kind.unresolvable and result.error_message


async def test_timeout_bounds_the_whole_check(prober: SiteProber, kind: Kind) -> None:
    async with raw(targets.silent) as address:
        result = await check(prober, kind.site(address, 0.5))
    assert not result.ok and result.error_kind is ErrorKind.TIMEOUT
    assert 450 <= result.total_ms <= 1500


@pytest.mark.parametrize("name", HOSTILE)
async def test_no_exception_escapes(prober: SiteProber, kind: Kind, name: str) -> None:
    async with raw(targets.MISBEHAVIOURS[name]) as address:
        result = await check(prober, kind.site(address, 0.5))
    # ``internal`` would mean sitemon failed itself rather than judged the target.
    assert result.error_kind is not ErrorKind.INTERNAL, result.error_message


class FixedWallClock(SystemClock):
    """Real monotonic time, a fixed wall time."""

    NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)

    def utcnow(self) -> datetime:
        return self.NOW


async def test_started_at_comes_from_the_clock(kind: Kind) -> None:
    async with kind.open(clock=FixedWallClock()) as clocked, kind.healthy() as address:
        result = await check(clocked, kind.site(address, 1.0))
    assert result.started_at == FixedWallClock.NOW


async def test_every_check_has_its_own_id(prober: SiteProber, kind: Kind) -> None:
    async with kind.healthy() as address:
        site = kind.site(address, 1.0)
        results = await asyncio.gather(*(prober.probe(site) for _ in range(5)))
    assert len({r.check_id for r in results}) == 5
    assert all(r.ok for r in results)


async def test_cancellation_propagates(prober: SiteProber, kind: Kind) -> None:
    connected = asyncio.Event()

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connected.set()
        await targets.silent(reader, writer)

    async with raw(hold) as address:
        task = asyncio.create_task(prober.probe(kind.site(address, 5.0)))
        await asyncio.wait_for(connected.wait(), timeout=5)  # the check is in flight
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
