"""TLS certificate details on HTTPS checks, both HTTP engines: ``tls_not_after``,
``tls_version``, ``tls_issuer`` on a good handshake, and on a handshake that failed on the
certificate (an expired one says when it expired). Certificates from a private test CA made
with the ``openssl`` CLI (``tests/e2e/tls.py``); real loopback servers."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sitemon_adapters.probe.http_common.certificate import pem_to_der, read_certificate
from sitemon_cli.targets import start_target_server
from sitemon_core.models import ErrorKind, Site
from tests.contract import targets
from tests.contract.probers import ADAPTERS, ProberFactory, check
from tests.e2e.tls import CertificateAuthority, KeyPair, issue_expired

pytestmark = pytest.mark.timeout(30)

ISSUER = "CN=sitemon-test-ca"


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    """A private CA (fails, never skips, when openssl is missing)."""
    return CertificateAuthority.create(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def good_pair(ca: CertificateAuthority) -> KeyPair:
    return ca.issue("good", common_name="localhost")


@pytest.fixture(scope="module")
def expired_pair(ca: CertificateAuthority) -> KeyPair:
    return issue_expired(ca, "expired", common_name="localhost")


async def _serve(pair: KeyPair) -> AsyncIterator[str]:
    context = targets.server_tls_context(pair.cert, pair.key)
    runner, url = await start_target_server(ssl_context=context)
    yield url.replace("127.0.0.1", "localhost")
    await runner.cleanup()


@pytest.fixture
async def good_url(good_pair: KeyPair) -> AsyncIterator[str]:
    async for url in _serve(good_pair):
        yield url


@pytest.fixture
async def expired_url(expired_pair: KeyPair) -> AsyncIterator[str]:
    async for url in _serve(expired_pair):
        yield url


def _expiry(pair: KeyPair) -> datetime | None:
    return read_certificate(pem_to_der(pair.read_cert())).not_after


def _site(url: str) -> Site:
    return Site.http(id="tls", url=url, interval_s=60.0, timeout_s=2.0)


@pytest.mark.parametrize("factory", ADAPTERS)
async def test_a_good_certificate_is_recorded(
    factory: ProberFactory, ca: CertificateAuthority, good_url: str
) -> None:
    async with factory(cafile=str(ca.cert)) as prober:
        result = await check(prober, _site(f"{good_url}/ok"))
    assert result.ok, result.error_message
    assert result.tls_version in {"TLSv1.2", "TLSv1.3"}
    assert result.tls_issuer == ISSUER
    assert result.tls_not_after is not None
    # tests/e2e/tls.py issues certificates for 2 days, from now.
    left = result.tls_not_after - datetime.now(UTC)
    assert timedelta(days=1, hours=23) < left <= timedelta(days=2)


@pytest.mark.parametrize("factory", ADAPTERS)
async def test_an_expired_certificate_says_when_it_expired(
    factory: ProberFactory, ca: CertificateAuthority, expired_url: str
) -> None:
    async with factory(cafile=str(ca.cert)) as prober:
        result = await check(prober, _site(f"{expired_url}/ok"))
    assert not result.ok
    assert result.error_kind is ErrorKind.TLS
    assert "expired" in result.error_message
    assert result.tls_not_after == datetime(2020, 1, 2, tzinfo=UTC)
    assert result.tls_issuer == ISSUER
    assert result.tls_version in {"TLSv1.2", "TLSv1.3"}


@pytest.mark.parametrize("factory", ADAPTERS)
async def test_an_untrusted_certificate_is_still_described(
    factory: ProberFactory, good_url: str
) -> None:
    async with factory() as prober:  # the system CAs do not know the test CA
        result = await check(prober, _site(f"{good_url}/ok"))
    assert result.error_kind is ErrorKind.TLS
    assert result.tls_issuer == ISSUER and result.tls_not_after is not None


@pytest.mark.parametrize("factory", ADAPTERS)
async def test_plain_http_has_no_tls_details(factory: ProberFactory) -> None:
    runner, url = await start_target_server()
    try:
        async with factory() as prober:
            result = await check(prober, _site(f"{url}/ok"))
    finally:
        await runner.cleanup()
    assert result.ok
    assert (result.tls_not_after, result.tls_version, result.tls_issuer) == (None, None, None)


def test_the_certificate_reader_agrees_with_openssl(good_pair: KeyPair, tmp_path: Path) -> None:
    facts = read_certificate(pem_to_der(good_pair.read_cert()))
    assert facts.issuer == ISSUER
    assert facts.not_after is not None and facts.not_after > datetime.now(UTC)


@pytest.mark.parametrize("factory", ADAPTERS)
async def test_a_tls12_handshake_is_described(
    factory: ProberFactory, ca: CertificateAuthority, good_pair: KeyPair
) -> None:
    """TLS 1.2 lays the Certificate message out without TLS 1.3's request context."""
    context = targets.server_tls_context(good_pair.cert, good_pair.key)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    runner, url = await start_target_server(ssl_context=context)
    try:
        async with factory(cafile=str(ca.cert)) as prober:
            result = await check(prober, _site(f"{url.replace('127.0.0.1', 'localhost')}/ok"))
    finally:
        await runner.cleanup()
    assert result.ok, result.error_message
    assert result.tls_version == "TLSv1.2"
    assert result.tls_issuer == ISSUER
    assert result.tls_not_after == _expiry(good_pair)


@pytest.mark.parametrize("factory", ADAPTERS)
async def test_a_rotated_certificate_is_read_afresh(
    factory: ProberFactory, ca: CertificateAuthority, good_pair: KeyPair
) -> None:
    """The parsed certificate is cached: a site whose certificate changes between two
    checks (same host, port and prober) reports the new one on the second."""
    longer = ca.issue("longer", common_name="localhost", days=30)
    context = targets.server_tls_context(good_pair.cert, good_pair.key)
    runner, url = await start_target_server(ssl_context=context)
    site = _site(f"{url.replace('127.0.0.1', 'localhost')}/ok")
    try:
        async with factory(cafile=str(ca.cert)) as prober:
            before = await check(prober, site)
            context.load_cert_chain(longer.cert, longer.key)  # new handshakes present it
            after = await check(prober, site)
            again = await check(prober, site)
    finally:
        await runner.cleanup()
    assert before.tls_not_after == _expiry(good_pair)
    assert after.tls_not_after == _expiry(longer)
    assert after.tls_not_after != before.tls_not_after
    assert again.tls_not_after == after.tls_not_after and again.tls_issuer == ISSUER
