"""Site catalogues on the farm, and the probers the scenarios can use."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from benchmarks.system import self_cpu_s
from sitemon_core.models import Site
from sitemon_core.ports import SiteProber
from sitemon_core.sharding import select_shard

REGION = "bench"


def farm_sites(
    urls: list[str],
    *,
    interval_s: float,
    timeout_s: float = 5.0,
    regex: str | None = None,
    shard: tuple[int, int] | None = None,
) -> list[Site]:
    """One site per URL (ids ``site-<i>``); the sites of ``shard`` (K, N) only, if given —
    the same split ``sitemon-run producer --shard K/N`` makes."""
    sites = [
        Site.http(
            id=f"site-{i}",
            url=url,
            interval_s=interval_s,
            timeout_s=min(timeout_s, interval_s),
            regex=regex,
        )
        for i, url in enumerate(urls)
    ]
    return sites if shard is None else select_shard(sites, *shard)


def prober_names() -> list[str]:
    """The prober adapters available in this environment."""
    names = ["aiohttp"]
    try:
        import pycurl  # noqa: F401

        from sitemon_adapters.probe.curl import prober  # noqa: F401
    except ImportError:
        return names
    return [*names, "curl"]


@contextlib.asynccontextmanager
async def open_prober(
    name: str, clock: Any, *, cafile: str | None, tls_sessions: bool = False
) -> AsyncIterator[SiteProber]:
    """The named prober adapter, trusting ``cafile`` (the farm's CA).

    ``tls_sessions`` resumes TLS sessions across checks of the same host (an experiment:
    see BENCHMARKS.md for why sitemon does not do it by default).
    """
    if name == "aiohttp":
        from sitemon_adapters.probe.aiohttp.prober import AiohttpSiteProber
        from sitemon_adapters.probe.aiohttp.tls import verified_tls_context

        context = verified_tls_context(cafile) if cafile else None
        if tls_sessions and cafile:
            from benchmarks.tls_sessions import resuming_context

            context = resuming_context(cafile)
        async with AiohttpSiteProber(REGION, clock, ssl_context=context) as prober:
            yield prober
    elif name == "curl":
        from sitemon_adapters.probe.curl.prober import CurlSiteProber

        async with CurlSiteProber(
            REGION, clock, cafile=cafile, tls_session_cache=tls_sessions
        ) as prober:
            yield prober
    else:
        raise ValueError(f"unknown prober {name!r}")


async def run_scanner_for(scanner: Any, seconds: float) -> tuple[Any, float]:
    """Run ``scanner`` for ``seconds``, stop it; return its stats and the CPU it used."""
    cpu0 = self_cpu_s()
    running = asyncio.create_task(scanner.run())
    await asyncio.sleep(seconds)
    scanner.request_stop()
    stats = await running
    return stats, self_cpu_s() - cpu0
