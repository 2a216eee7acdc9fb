"""The ``SiteProber`` adapters under contract, and the checks every result must pass.

Each factory takes keyword arguments ``clock`` (a Clock or None) and ``cafile`` (a PEM
file of extra trusted CAs, or None) and returns an async context manager yielding a
prober. ``ADAPTERS`` are the HTTP engines; ``routed`` puts one behind the kind router the
container builds, so the router is held to the same contract.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import pytest

from sitemon_adapters.clock import SystemClock
from sitemon_adapters.probe.aiohttp.prober import AiohttpSiteProber
from sitemon_adapters.probe.aiohttp.tls import verified_tls_context
from sitemon_adapters.probe.router import ProbeRouter
from sitemon_core.models import CheckResult, ErrorKind, Site
from sitemon_core.ports import Clock, SiteProber

ProberFactory = Callable[..., AbstractAsyncContextManager[SiteProber]]
REGION = "contract-test"
TIME_SLACK_S = 1.0  # a probe returns within its timeout plus this


def aiohttp_prober(*, clock: Clock | None = None, cafile: str | None = None) -> AiohttpSiteProber:
    """The aiohttp adapter, trusting ``cafile`` on top of nothing if given."""
    context = verified_tls_context(cafile) if cafile is not None else None
    return AiohttpSiteProber(REGION, clock or SystemClock(), ssl_context=context)


def curl_prober(*, clock: Clock | None = None, cafile: str | None = None) -> SiteProber:
    """The libcurl adapter (pycurl), trusting ``cafile`` instead of the system CAs if given."""
    from sitemon_adapters.probe.curl.prober import CurlSiteProber

    return CurlSiteProber(REGION, clock or SystemClock(), cafile=cafile)  # type: ignore[return-value]


def routed(http: ProberFactory) -> ProberFactory:
    """``http`` behind a ``ProbeRouter``, as the container wires it."""

    @contextlib.asynccontextmanager
    async def factory(
        *, clock: Clock | None = None, cafile: str | None = None
    ) -> AsyncIterator[SiteProber]:
        clock = clock or SystemClock()
        async with http(clock=clock, cafile=cafile) as engine:
            yield ProbeRouter({"http": engine}, region=REGION, clock=clock)

    return factory


ADAPTERS = [pytest.param(aiohttp_prober, id="aiohttp"), pytest.param(curl_prober, id="curl")]


async def check(prober: SiteProber, site: Site) -> CheckResult:
    """Probe ``site`` and assert what must hold for every result of every check."""
    start = time.monotonic()
    result = await prober.probe(site)
    elapsed = time.monotonic() - start
    assert elapsed <= site.timeout_s + TIME_SLACK_S
    assert (result.site_id, result.url, result.region) == (site.id, site.target, REGION)
    assert len(result.check_id) >= 16
    assert result.started_at.tzinfo is not None
    assert 0 <= result.total_ms <= elapsed * 1000 + 1
    # A message says what went wrong: an error, or a condition the answer missed.
    failed = result.error_kind is not ErrorKind.NONE or result.failed_condition is not None
    assert failed == (result.error_message != "")
    assert result.bytes_read >= 0
    phases = [getattr(result.timings, f) for f in ("dns_ms", "connect_ms", "tls_ms", "ttfb_ms")]
    phases.append(result.timings.transfer_ms)
    assert all(p is None or p >= 0 for p in phases)
    # The phases are disjoint parts of the check, so they cannot add up to more than it.
    assert sum(p for p in phases if p is not None) <= result.total_ms + 0.01
    return result
