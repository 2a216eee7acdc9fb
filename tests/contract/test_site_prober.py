"""HTTP rules of the ``SiteProber`` contract, run against every HTTP engine.

The rules every prober obeys whatever its kind (classified failures, the timeout bounding
the check, no exception escaping, cancellation) are in ``test_prober_rules.py``.

Real loopback servers only: the target app of ``sitemon_cli.targets`` for HTTP behaviours,
raw asyncio servers (``tests.contract.targets``) for byte-level misbehaviour, and a
self-signed certificate made with the ``openssl`` CLI for TLS.

To add an engine, add a factory to ``tests.contract.probers.ADAPTERS``.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sitemon_adapters.clock import SystemClock
from sitemon_adapters.probe.aiohttp.errors import classify
from sitemon_adapters.probe.aiohttp.prober import AiohttpSiteProber
from sitemon_cli.targets import OK_BODY, start_target_server
from sitemon_core.models import ErrorKind, Site
from sitemon_core.ports import SiteProber
from tests.contract import targets
from tests.contract.probers import ADAPTERS, REGION, TIME_SLACK_S, ProberFactory, check

pytestmark = pytest.mark.timeout(30)

CHUNK_SLACK = 64 * 1024  # "bytes_read <= cap + one chunk"


@pytest.fixture(params=ADAPTERS)
def prober_factory(request: pytest.FixtureRequest) -> ProberFactory:
    """Builds probers of one adapter (the test runs once per adapter)."""
    factory: ProberFactory = request.param
    return factory


@pytest.fixture
async def prober(prober_factory: ProberFactory) -> AsyncIterator[SiteProber]:
    """A ready prober with the system clock and system CAs."""
    async with prober_factory() as ready:
        yield ready


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    """The target app on a free loopback port."""
    runner, url = await start_target_server()
    yield url
    await runner.cleanup()


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(cert, key) of a self-signed certificate for ``localhost``."""
    pair = targets.make_self_signed_cert(tmp_path_factory.mktemp("tls"))
    if pair is None:
        pytest.fail("the openssl CLI is needed to make a test certificate", pytrace=False)
    return pair


@pytest.fixture
async def tls_port(tls_cert: tuple[Path, Path]) -> AsyncIterator[int]:
    """The target app over TLS with the self-signed certificate; yields its port."""
    runner, url = await start_target_server(ssl_context=targets.server_tls_context(*tls_cert))
    yield int(url.rsplit(":", 1)[1])
    await runner.cleanup()


def make_site(url: str, **overrides: Any) -> Site:
    """An HTTP site with test-friendly defaults (1 s timeout)."""
    fields: dict[str, Any] = {"id": "site-1", "url": url, "interval_s": 60.0, "timeout_s": 1.0}
    return Site.http(**(fields | overrides))


# --- healthy and unhealthy HTTP answers ------------------------------------------------


async def test_ok_page_is_up_with_phase_timings(prober: SiteProber, base_url: str) -> None:
    result = await check(prober, make_site(f"{base_url}/ok"))
    assert result.ok
    assert (result.status_code, result.error_kind) == (200, ErrorKind.NONE)
    assert result.final_url == f"{base_url}/ok"
    assert result.bytes_read == len(OK_BODY)
    timings = result.timings
    assert timings.connect_ms is not None and timings.connect_ms >= 0
    assert timings.ttfb_ms is not None and timings.ttfb_ms >= 0
    assert timings.transfer_ms is not None and timings.transfer_ms >= 0
    assert timings.tls_ms is None  # plain HTTP


async def test_hostname_is_resolved_and_timed(prober: SiteProber, base_url: str) -> None:
    url = base_url.replace("127.0.0.1", "localhost")
    result = await check(prober, make_site(f"{url}/ok"))
    assert result.ok
    assert result.timings.dns_ms is not None and result.timings.dns_ms >= 0


@pytest.mark.parametrize("code", [404, 500])
async def test_unexpected_status_is_down_without_error(
    prober: SiteProber, base_url: str, code: int
) -> None:
    result = await check(prober, make_site(f"{base_url}/status/{code}"))
    assert not result.ok
    assert (result.status_code, result.error_kind) == (code, ErrorKind.NONE)


async def test_expected_statuses_override(prober: SiteProber, base_url: str) -> None:
    site = make_site(f"{base_url}/status/404", expected_statuses=frozenset({404}))
    result = await check(prober, site)
    assert result.ok and result.status_code == 404


async def test_method_and_headers_are_sent(prober: SiteProber, base_url: str) -> None:
    site = make_site(
        f"{base_url}/echo",
        method="POST",
        headers={"X-Probe": "contract"},
        regex=r'"method": "POST".*"X-Probe": "contract"',
    )
    result = await check(prober, site)
    assert result.ok and result.regex_matched is True


# --- body regex and body cap -------------------------------------------------------------


async def test_regex_hit(prober: SiteProber, base_url: str) -> None:
    result = await check(prober, make_site(f"{base_url}/ok", regex=r"target\s+ok"))
    assert result.ok and result.regex_matched is True


async def test_regex_miss_is_down(prober: SiteProber, base_url: str) -> None:
    result = await check(prober, make_site(f"{base_url}/ok", regex="not on the page"))
    assert not result.ok
    assert (result.status_code, result.regex_matched) == (200, False)
    assert result.error_kind is ErrorKind.NONE


async def test_regex_without_pattern_is_not_evaluated(prober: SiteProber, base_url: str) -> None:
    result = await check(prober, make_site(f"{base_url}/ok"))
    assert result.regex_matched is None


async def test_regex_uses_the_declared_charset(prober: SiteProber, base_url: str) -> None:
    url = f"{base_url}/text?content=caf%C3%A9&charset=latin-1"  # "café", sent as latin-1
    result = await check(prober, make_site(url, regex="^café$"))
    assert result.ok and result.regex_matched is True


async def test_body_at_the_cap_is_fine(prober: SiteProber, base_url: str) -> None:
    result = await check(prober, make_site(f"{base_url}/body/5000", max_body_bytes=5000))
    assert result.ok and result.bytes_read == 5000


async def test_body_over_the_cap_fails_when_asked(prober: SiteProber, base_url: str) -> None:
    cap = 100_000
    site = make_site(f"{base_url}/body/3000000", max_body_bytes=cap, fail_on_large_body=True)
    result = await check(prober, site)
    assert not result.ok and result.error_kind is ErrorKind.BODY_TOO_LARGE
    assert result.status_code == 200 and not result.body_truncated
    assert cap < result.bytes_read <= cap + CHUNK_SLACK


async def test_body_over_the_cap_is_judged_on_the_part_read(
    prober: SiteProber, base_url: str
) -> None:
    cap = 100_000
    site = make_site(f"{base_url}/body/3000000", max_body_bytes=cap, regex="x{100000}")
    result = await check(prober, site)
    assert result.ok and result.error_kind is ErrorKind.NONE, result.error_message
    assert result.body_truncated and result.bytes_read == cap
    assert result.regex_matched is True
    assert result.timings.transfer_ms is not None


async def test_a_truncated_body_misses_what_lies_past_the_cap(
    prober: SiteProber, base_url: str
) -> None:
    site = make_site(f"{base_url}/body/300000", max_body_bytes=1000, regex="x{1001}")
    result = await check(prober, site)
    assert not result.ok and result.outcome == "regex_miss" and result.body_truncated


@pytest.mark.parametrize("fail", [False, True])
async def test_decompression_bomb_is_bounded_by_the_cap(
    prober: SiteProber, base_url: str, fail: bool
) -> None:
    cap = 100_000  # 20 MB of zeros is ~20 kB gzipped
    site = make_site(f"{base_url}/gzip/20000000", max_body_bytes=cap, fail_on_large_body=fail)
    result = await check(prober, site)
    if fail:
        assert result.error_kind is ErrorKind.BODY_TOO_LARGE
        assert cap < result.bytes_read <= cap + CHUNK_SLACK
    else:
        assert result.ok and result.body_truncated and result.bytes_read == cap


# --- redirects -----------------------------------------------------------------------


async def test_redirect_chain_is_followed(prober: SiteProber, base_url: str) -> None:
    result = await check(prober, make_site(f"{base_url}/redirect/3", max_redirects=3))
    assert result.ok and result.status_code == 200
    assert result.final_url == f"{base_url}/ok"


async def test_one_redirect_too_many(prober: SiteProber, base_url: str) -> None:
    result = await check(prober, make_site(f"{base_url}/redirect/3", max_redirects=2))
    assert not result.ok and result.error_kind is ErrorKind.TOO_MANY_REDIRECTS


async def test_redirect_loop(prober: SiteProber, base_url: str) -> None:
    result = await check(prober, make_site(f"{base_url}/loop"))
    assert not result.ok and result.error_kind is ErrorKind.TOO_MANY_REDIRECTS
    assert result.error_message


async def test_redirects_not_followed_when_disabled(prober: SiteProber, base_url: str) -> None:
    site = make_site(f"{base_url}/redirect/1", follow_redirects=False)
    result = await check(prober, site)
    assert (result.ok, result.status_code, result.error_kind) == (False, 302, ErrorKind.NONE)
    assert result.final_url == site.spec.url


# --- timeouts ------------------------------------------------------------------------


async def test_slow_response_times_out_on_time(prober: SiteProber, base_url: str) -> None:
    site = make_site(f"{base_url}/slow/10", timeout_s=0.5)
    result = await check(prober, site)
    assert not result.ok and result.error_kind is ErrorKind.TIMEOUT
    assert result.status_code is None
    assert 450 <= result.total_ms <= 500 + TIME_SLACK_S * 1000
    assert "timed out" in result.error_message


async def test_stalled_body_times_out(prober: SiteProber, base_url: str) -> None:
    result = await check(prober, make_site(f"{base_url}/slow-body/10", timeout_s=0.5))
    assert result.error_kind is ErrorKind.TIMEOUT
    assert result.status_code == 200  # the headers did arrive


# --- network, protocol and TLS failures --------------------------------------------------


async def test_connection_refused(prober: SiteProber) -> None:
    result = await check(prober, make_site(f"http://127.0.0.1:{targets.closed_port()}/"))
    assert not result.ok and result.error_kind is ErrorKind.CONNECT
    assert "refused" in result.error_message


async def test_garbage_instead_of_http(prober: SiteProber) -> None:
    async with targets.raw_server(targets.garbage) as url:
        result = await check(prober, make_site(url))
    assert result.error_kind is ErrorKind.PROTOCOL


async def test_reset_after_connect_is_a_protocol_error(prober: SiteProber) -> None:
    # The TCP handshake succeeded, so the host is reachable: breaking the exchange
    # afterwards is a protocol failure, not a connect failure.
    async with targets.raw_server(targets.reset) as url:
        result = await check(prober, make_site(url))
    assert result.error_kind is ErrorKind.PROTOCOL


async def test_self_signed_certificate_is_rejected(prober: SiteProber, tls_port: int) -> None:
    result = await check(prober, make_site(f"https://localhost:{tls_port}/ok"))
    assert not result.ok and result.error_kind is ErrorKind.TLS
    assert "certificate verify failed" in result.error_message


async def test_trusted_certificate_with_tls_timing(
    prober_factory: ProberFactory, tls_cert: tuple[Path, Path], tls_port: int
) -> None:
    async with prober_factory(cafile=str(tls_cert[0])) as trusting:
        result = await check(trusting, make_site(f"https://localhost:{tls_port}/ok"))
    assert result.ok and result.status_code == 200
    timings = result.timings
    assert timings.connect_ms is not None and timings.tls_ms is not None
    assert timings.tls_ms > 0 and timings.ttfb_ms is not None


async def test_certificate_for_another_name(
    prober_factory: ProberFactory, tls_cert: tuple[Path, Path], tls_port: int
) -> None:
    async with prober_factory(cafile=str(tls_cert[0])) as trusting:
        result = await check(trusting, make_site(f"https://127.0.0.1:{tls_port}/ok"))
    assert result.error_kind is ErrorKind.TLS
    assert "mismatch" in result.error_message


async def test_plain_http_server_on_an_https_url(prober: SiteProber, base_url: str) -> None:
    result = await check(prober, make_site(base_url.replace("http:", "https:") + "/ok"))
    assert result.error_kind is ErrorKind.TLS


@pytest.mark.parametrize("name", sorted(targets.MISBEHAVIOURS))
async def test_misbehaving_servers_never_raise(prober: SiteProber, name: str) -> None:
    async with targets.raw_server(targets.MISBEHAVIOURS[name]) as url:
        result = await check(prober, make_site(f"{url}/x", timeout_s=0.5))
    assert not result.ok
    assert result.error_kind in {ErrorKind.PROTOCOL, ErrorKind.TIMEOUT}


# --- aiohttp adapter specifics (not part of the port's contract) -----------------------------


def test_aiohttp_prober_builds_no_session_outside_a_loop() -> None:
    prober = AiohttpSiteProber(REGION, SystemClock())  # no running loop here: must not fail
    assert prober is not None


async def test_aiohttp_prober_requires_async_with(base_url: str) -> None:
    with pytest.raises(RuntimeError, match="async with"):
        await AiohttpSiteProber(REGION, SystemClock()).probe(make_site(f"{base_url}/ok"))


async def test_aiohttp_plain_ssl_context_reports_no_connect_tls_split(
    tls_cert: tuple[Path, Path], tls_port: int
) -> None:
    context = ssl.create_default_context(cafile=str(tls_cert[0]))
    async with AiohttpSiteProber(REGION, SystemClock(), ssl_context=context) as plain:
        result = await check(plain, make_site(f"https://localhost:{tls_port}/ok"))
    assert result.ok
    assert result.timings.connect_ms is None and result.timings.tls_ms is None


async def test_aiohttp_prober_reuses_connections_when_asked(base_url: str) -> None:
    site = make_site(f"{base_url}/ok")
    async with AiohttpSiteProber(REGION, SystemClock(), fresh_connections=False) as pooled:
        await check(pooled, site)
        second = await check(pooled, site)
    assert second.ok and second.timings.connect_ms is None  # no new connection, no connect


async def test_aiohttp_dns_cache_when_asked(base_url: str) -> None:
    site = make_site(base_url.replace("127.0.0.1", "localhost") + "/ok")
    async with AiohttpSiteProber(REGION, SystemClock(), dns_cache_ttl_s=60) as cached:
        first = await check(cached, site)
        second = await check(cached, site)
    assert first.timings.dns_ms is not None
    assert second.ok and second.timings.dns_ms is None  # a cache hit is not a lookup


def test_unexpected_exception_is_internal() -> None:
    kind, message = classify(ValueError("boom"), make_site("http://x/"), "connecting")
    assert kind is ErrorKind.INTERNAL and "ValueError" in message


# --- a body regex can never stall the scanner ------------------------------------------
# ``^(a|a)*$`` on 40 bytes backtracks for minutes in Python's ``re`` (which holds the GIL).
BACKTRACKING = r"^(a|a)*$"
_AAA = b"a" * 40 + b"!"
aaa_body = targets._answer(
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
    + str(len(_AAA)).encode()
    + b"\r\n\r\n"
    + _AAA
)


async def test_backtracking_regex_times_out_while_other_checks_go_on(
    prober: SiteProber,
    base_url: str,
) -> None:
    async with targets.raw_server(aaa_body) as url:
        slow = make_site(url, id="backtracking", regex=BACKTRACKING, timeout_s=2.0)
        fast = make_site(f"{base_url}/ok", id="fast", regex="target ok")
        began = time.monotonic()
        stuck = asyncio.create_task(check(prober, slow))
        # While the backtracking search runs, the loop serves other checks in full.
        others = [await check(prober, fast) for _ in range(5)]
        others_done = time.monotonic() - began
        result = await stuck
    assert all(o.ok and o.regex_matched for o in others)
    assert others_done < slow.timeout_s, f"other checks waited {others_done:.2f} s"
    assert result.error_kind is ErrorKind.TIMEOUT, result
    assert "body regex" in result.error_message and not result.ok
    assert result.regex_matched is None and result.status_code == 200


async def test_a_linear_regex_on_that_body_matches(prober: SiteProber) -> None:
    async with targets.raw_server(aaa_body) as url:
        result = await check(prober, make_site(url, regex=r"a+!$"))
    assert result.ok and result.regex_matched is True


# --- the safety net ----------------------------------------------------------------------


@pytest.mark.parametrize("factory", ADAPTERS)
async def test_the_safety_net_ends_a_check_the_library_let_hang(
    factory: ProberFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The net (the prober's watchdog) fires before the library's own timeout when the
    grace is made negative: the check ends as a timeout soon after it."""
    async with factory() as prober, targets.raw_server(targets.silent) as url:
        module = sys.modules[type(prober).__module__]
        monkeypatch.setattr(module, "TIMEOUT_GRACE_S", -1.7)  # net at 0.3 s, library at 2 s
        start = time.monotonic()
        result = await check(prober, make_site(f"{url}/x", timeout_s=2.0))
        took = time.monotonic() - start
    assert result.error_kind is ErrorKind.TIMEOUT, result.error_message
    assert 0.3 <= took < 1.5, took
