"""Using sitemon as a library: check one site once and read the ``CheckResult``.

    python examples/probe_one_site.py https://example.com/ "Example Domain"

Prints the outcome (``up``, ``bad_status``, ``regex_miss``, ``timeout``, ``connect``...),
the status code, the total time and the phase timings. A failing site is a result too: the
probe classifies it and never raises for it.
"""

from __future__ import annotations

import asyncio
import sys

from sitemon_adapters import AiohttpSiteProber, SystemClock
from sitemon_core.models import CheckResult, Site


async def probe_one(url: str, regex: str | None = None) -> CheckResult:
    """Check ``url`` once with the aiohttp prober (10 s timeout, any 2xx is healthy)."""
    site = Site.http(id="example", url=url, interval_s=60, timeout_s=10, regex=regex)
    async with AiohttpSiteProber(region="local", clock=SystemClock()) as prober:
        return await prober.probe(site)


def main(argv: list[str]) -> int:
    """Probe ``argv[0]`` (with the regex ``argv[1]`` if given); exit 0 when it is up."""
    result = asyncio.run(probe_one(argv[0], argv[1] if len(argv) > 1 else None))
    print(
        f"{result.site_id}: {result.outcome} status={result.status_code} {result.total_ms:.1f} ms"
    )
    print(f"  timings: {result.timings}")
    if result.error_message:
        print(f"  {result.error_kind.value}: {result.error_message}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["https://example.com/", "Example Domain"]))
