"""The memory soak's subprocess: the real scanner and a prober over all the hostile sites.

It runs the factory of ``probers.ADAPTERS`` named in the spec (``"adapter":
"curl_prober"``), so that ``test_scanner_memory_stays_bounded`` holds every adapter to the
same peak RSS.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import sys
import time
import warnings
from typing import Any

import attrs

from tests.contract.hostile import _status_kib


async def _soak(spec: dict[str, Any]) -> dict[str, Any]:
    from sitemon_adapters.clock import SystemClock
    from sitemon_core.models import CheckResult, Site
    from sitemon_core.scanner import Scanner
    from tests.contract import probers

    counts: collections.Counter[str] = collections.Counter()
    kinds: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)

    class CountingPublisher:
        """Keeps counters only: the results themselves are dropped at once."""

        async def publish(self, result: CheckResult) -> None:
            counts[result.site_id] += 1
            kinds[result.site_id][result.error_kind.value] += 1

        async def flush(self) -> None:
            pass

    factory = getattr(probers, spec["adapter"])
    sites = [Site.http(**fields) for fields in spec["sites"]]
    clock = SystemClock()
    samples: list[int] = []
    async with factory(clock=clock, cafile=spec["cafile"]) as prober:
        scanner = Scanner(prober, CountingPublisher(), clock, region="soak")
        scanner.set_sites(sites)
        baseline = _status_kib("VmRSS")
        running = asyncio.create_task(scanner.run())
        deadline = time.monotonic() + spec["duration_s"]
        while time.monotonic() < deadline and not running.done():
            await asyncio.sleep(0.5)
            samples.append(_status_kib("VmRSS"))
        scanner.request_stop()
        stats = await running
    return {
        "adapter": type(prober).__name__,
        "baseline_rss_kib": baseline,
        "peak_rss_kib": _status_kib("VmHWM"),
        "rss_samples_kib": samples,
        "stats": attrs.asdict(stats),
        "checks": dict(counts),
        "kinds": {site_id: dict(counter) for site_id, counter in kinds.items()},
    }


def soak_main() -> None:
    """Entry of the soak subprocess: a JSON spec on stdin, a JSON report on stdout.

    spec: ``{"adapter": factory name in probers, "sites": [Site fields...],
    "cafile": str, "duration_s": float}``. The report adds ``problems``: every warning or
    error logged meanwhile (scanner, asyncio, warnings module), which should be none.
    """
    problems: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            problems.append(f"{record.name}: {record.getMessage()}"[:500])

    logging.captureWarnings(True)
    warnings.simplefilter("always")
    logging.getLogger().addHandler(Collect(logging.WARNING))
    spec = json.load(sys.stdin)
    report = asyncio.run(_soak(spec))
    report["problems"] = problems
    json.dump(report, sys.stdout)
