"""Probers and targets of the TCP and DNS kinds, for the generic prober rules and their own
tests: a TLS listener with a private CA's certificate (``tests/e2e/tls.py``), plain TCP
listeners, and dnsmasq (``dns_server``)."""

from __future__ import annotations

import contextlib
import functools
import ssl
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

from sitemon_adapters.clock import SystemClock
from sitemon_adapters.probe.aiohttp.tls import verified_tls_context
from sitemon_adapters.probe.dns import DnsSiteProber
from sitemon_adapters.probe.tcp import TcpSiteProber
from sitemon_core.models import DnsSpec, Site, TcpSpec
from sitemon_core.ports import Clock
from tests.contract import targets
from tests.contract.dns_server import dns_servers
from tests.contract.probers import REGION
from tests.e2e.tls import CertificateAuthority, KeyPair


@functools.cache
def test_ca() -> tuple[CertificateAuthority, KeyPair]:
    """A private CA and its server certificate for localhost / 127.0.0.1 (made once)."""
    ca = CertificateAuthority.create(Path(tempfile.mkdtemp(prefix="sitemon-kinds-ca-")))
    return ca, ca.issue("server", common_name="localhost")


def tcp_prober(*, clock: Clock | None = None, cafile: str | None = None) -> TcpSiteProber:
    """The TCP prober trusting the test CA (or ``cafile``)."""
    context = verified_tls_context(cafile or str(test_ca()[0].cert))
    return TcpSiteProber(REGION, clock or SystemClock(), ssl_context=context)


def dns_prober(*, clock: Clock | None = None, cafile: str | None = None) -> DnsSiteProber:
    """The DNS prober."""
    return DnsSiteProber(REGION, clock or SystemClock())


def tcp_site(address: str, timeout_s: float, *, tls: bool = True) -> Site:
    """A ``tls://`` (or ``tcp://``) site aimed at ``host:port``."""
    host, _, port = address.rpartition(":")
    spec = TcpSpec(host=host, port=int(port), tls=tls)
    return Site(id="tcp-1", interval_s=60.0, timeout_s=timeout_s, spec=spec)


def dns_tcp_site(address: str, timeout_s: float) -> Site:
    """A DNS-over-TCP site asking the server at ``host:port`` for www.sitemon.test."""
    host, _, port = address.rpartition(":")
    spec = DnsSpec(name="www.sitemon.test", server=host, port=int(port), tcp=True)
    return Site(id="dns-1", interval_s=60.0, timeout_s=timeout_s, spec=spec)


@contextlib.asynccontextmanager
async def tls_listener(pair: KeyPair | None = None) -> AsyncIterator[str]:
    """A TLS server presenting ``pair`` (default: the test CA's server certificate) that
    completes handshakes and then waits for the client to close; yields ``host:port``."""
    chosen = pair or test_ca()[1]
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(chosen.cert, chosen.key)
    async with targets.raw_server(targets.silent, ssl_context=context) as url:
        yield urlsplit(url).netloc


@contextlib.asynccontextmanager
async def tcp_listener() -> AsyncIterator[str]:
    """A plain TCP server that accepts and waits; yields ``host:port``."""
    async with targets.raw_server(targets.silent) as url:
        yield urlsplit(url).netloc


@contextlib.asynccontextmanager
async def dns_target() -> AsyncIterator[str]:
    """dnsmasq on a loopback port (UDP and TCP); yields ``host:port``."""
    with (
        tempfile.TemporaryDirectory(prefix="sitemon-dns-") as directory,
        dns_servers(Path(directory)) as server,
    ):
        yield server.address
