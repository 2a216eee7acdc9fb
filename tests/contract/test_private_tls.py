"""A site's own ``tls`` settings on both HTTP engines: a private CA, mutual TLS, a
``server_name`` other than the URL's host, ``verify: false``. Certificates from a test CA
(``tests/e2e/tls.py``); real loopback servers."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from typing import Any

import pytest

from sitemon_cli.targets import start_target_server
from sitemon_core.models import ErrorKind, Site, TlsSettings
from tests.contract.probers import ADAPTERS, ProberFactory, check
from tests.e2e.tls import CertificateAuthority, KeyPair

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority.create(tmp_path_factory.mktemp("private-ca"))


@pytest.fixture(scope="module")
def client_pair(ca: CertificateAuthority) -> KeyPair:
    return ca.issue("client", common_name="sitemon-scanner", client=True)


async def _serve(context: ssl.SSLContext) -> AsyncIterator[str]:
    runner, url = await start_target_server(ssl_context=context)
    yield url
    await runner.cleanup()


def _server_context(pair: KeyPair, client_ca: CertificateAuthority | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pair.cert, pair.key)
    if client_ca is not None:  # mutual TLS: a client certificate of this CA is required
        context.load_verify_locations(cafile=str(client_ca.cert))
        context.verify_mode = ssl.CERT_REQUIRED
    return context


@pytest.fixture
async def private_url(ca: CertificateAuthority) -> AsyncIterator[str]:
    """A server for 127.0.0.1 and localhost, certificate from the private CA."""
    async for url in _serve(_server_context(ca.issue("server", common_name="localhost"))):
        yield url


@pytest.fixture
async def mutual_url(ca: CertificateAuthority) -> AsyncIterator[str]:
    """The same, also requiring a client certificate from the private CA."""
    pair = ca.issue("mutual", common_name="localhost")
    async for url in _serve(_server_context(pair, client_ca=ca)):
        yield url


@pytest.fixture
async def internal_url(ca: CertificateAuthority) -> AsyncIterator[str]:
    """A server whose certificate names only internal.sitemon.test (no IP)."""
    pair = ca.issue(
        "internal", common_name="internal.sitemon.test", dns=("internal.sitemon.test",), ips=()
    )
    async for url in _serve(_server_context(pair)):
        yield url


def _site(url: str, **tls: Any) -> Site:
    return Site.http(
        id="private", url=f"{url}/ok", interval_s=60.0, timeout_s=2.0, tls=TlsSettings(**tls)
    )


@pytest.fixture(params=ADAPTERS)
async def prober(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    factory: ProberFactory = request.param
    async with factory() as ready:  # the system CAs: they do not know the private CA
        yield ready


async def test_the_private_ca_is_trusted_per_site(
    prober: Any, ca: CertificateAuthority, private_url: str
) -> None:
    untrusted = await check(
        prober, Site.http(id="p", url=f"{private_url}/ok", interval_s=60, timeout_s=2)
    )
    assert untrusted.error_kind is ErrorKind.TLS
    result = await check(prober, _site(private_url, ca_file=str(ca.cert)))
    assert result.ok, result.error_message
    assert result.tls_issuer == "CN=sitemon-test-ca"


async def test_mutual_tls(
    prober: Any, ca: CertificateAuthority, client_pair: KeyPair, mutual_url: str
) -> None:
    without = await check(prober, _site(mutual_url, ca_file=str(ca.cert)))
    assert not without.ok and without.error_kind in {ErrorKind.TLS, ErrorKind.PROTOCOL}
    result = await check(
        prober,
        _site(
            mutual_url,
            ca_file=str(ca.cert),
            client_cert=str(client_pair.cert),
            client_key=str(client_pair.key),
        ),
    )
    assert result.ok, result.error_message


async def test_server_name_is_sent_and_verified(
    prober: Any, ca: CertificateAuthority, internal_url: str
) -> None:
    mismatch = await check(prober, _site(internal_url, ca_file=str(ca.cert)))
    assert mismatch.error_kind is ErrorKind.TLS
    named = _site(internal_url, ca_file=str(ca.cert), server_name="internal.sitemon.test")
    result = await check(prober, named)
    assert result.ok, result.error_message
    assert result.final_url == f"{internal_url}/ok"  # the site's URL, not the name's


async def test_verify_false_accepts_any_certificate(prober: Any, internal_url: str) -> None:
    result = await check(prober, _site(internal_url, verify=False))
    assert result.ok, result.error_message
    assert result.tls_issuer == "CN=sitemon-test-ca"  # still recorded
