"""The TCP prober beyond the generic rules: plain ``tcp://`` connects, and the certificate
details of ``tls://`` checks (a good one, an expired one, a TLS-less peer)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest

from sitemon_adapters.probe.tcp import TcpSiteProber
from sitemon_core.models import ErrorKind
from tests.contract import kinds, targets
from tests.contract.probers import check
from tests.e2e.tls import issue_expired

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def prober() -> AsyncIterator[TcpSiteProber]:
    async with kinds.tcp_prober() as ready:
        yield ready


async def test_a_plain_connect_is_up(prober: TcpSiteProber) -> None:
    async with kinds.tcp_listener() as address:
        result = await check(prober, kinds.tcp_site(address, 1.0, tls=False))
    assert result.ok and result.url == f"tcp://{address}"
    assert result.timings.connect_ms is not None and result.timings.tls_ms is None
    assert result.tls_not_after is None


async def test_a_refused_connect(prober: TcpSiteProber) -> None:
    address = f"127.0.0.1:{targets.closed_port()}"
    result = await check(prober, kinds.tcp_site(address, 1.0, tls=False))
    assert (result.error_kind, result.error_message) == (ErrorKind.CONNECT, "connection refused")


@pytest.fixture
def full_backlog() -> Iterator[str]:
    """A listener that never accepts, its backlog filled: the kernel drops further SYNs,
    so a connect hangs (a firewalled port)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    address = listener.getsockname()
    fillers = []
    for _ in range(4):  # Linux queues backlog + 1 connections; more than enough
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(address)
        fillers.append(filler)
    try:
        yield f"{address[0]}:{address[1]}"
    finally:
        for sock in [*fillers, listener]:
            sock.close()


async def test_a_connect_that_hangs_times_out(prober: TcpSiteProber, full_backlog: str) -> None:
    result = await check(prober, kinds.tcp_site(full_backlog, 0.5, tls=False))
    assert result.error_kind is ErrorKind.TIMEOUT
    assert result.error_message == "timed out after 0.5s connecting"


async def test_tls_records_the_certificate(prober: TcpSiteProber) -> None:
    async with kinds.tls_listener() as address:
        result = await check(prober, kinds.tcp_site(address, 2.0))
    assert result.ok and result.url == f"tls://{address}", result.error_message
    assert result.tls_issuer == "CN=sitemon-test-ca"
    assert result.tls_version in {"TLSv1.2", "TLSv1.3"}
    assert result.tls_not_after is not None and result.tls_not_after > datetime.now(UTC)
    assert result.timings.tls_ms is not None and result.timings.connect_ms is not None


async def test_an_expired_certificate_says_when(prober: TcpSiteProber) -> None:
    ca, _ = kinds.test_ca()
    expired = issue_expired(ca, "tcp-expired", common_name="localhost")
    async with kinds.tls_listener(expired) as address:
        result = await check(prober, kinds.tcp_site(address, 2.0))
    assert result.error_kind is ErrorKind.TLS and "expired" in result.error_message
    assert result.tls_not_after == datetime(2020, 1, 2, tzinfo=UTC)


async def test_a_peer_without_tls(prober: TcpSiteProber) -> None:
    async with kinds.tcp_listener() as address:
        result = await check(prober, kinds.tcp_site(address, 0.5))
    assert result.error_kind is ErrorKind.TIMEOUT  # a silent peer: the handshake waits
    assert result.error_message == "timed out after 0.5s in the TLS handshake"


async def test_the_sites_own_tls_settings() -> None:
    from sitemon_adapters.clock import SystemClock
    from sitemon_core.models import Site, TcpSpec, TlsSettings

    ca, _ = kinds.test_ca()
    async with TcpSiteProber("r", SystemClock()) as system_only, kinds.tls_listener() as address:
        host, _, port = address.rpartition(":")

        def site(settings: TlsSettings | None) -> Site:
            spec = TcpSpec(host=host, port=int(port), tls=True, tls_settings=settings)
            return Site(id="t", interval_s=60.0, timeout_s=2.0, spec=spec)

        untrusted = await system_only.probe(site(None))
        trusted = await system_only.probe(site(TlsSettings(ca_file=str(ca.cert))))
        unverified = await system_only.probe(site(TlsSettings(verify=False)))
    assert untrusted.error_kind is ErrorKind.TLS
    assert trusted.ok, trusted.error_message
    assert unverified.ok and unverified.tls_issuer == "CN=sitemon-test-ca"
