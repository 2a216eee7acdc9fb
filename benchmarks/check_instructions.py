"""Instructions per check of one scanner, counted by callgrind: a figure that other load on
a shared box does not move (CPU time per check moves ±20 % there).

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        python -m benchmarks.check_instructions curl https --checks 300
    (the same with --checks 60; instructions per check = the difference of the two
    "Collected" totals / 240, so start-up and the farm cancel out)

Runs the real ``Scanner`` + prober against the farm until ``--checks`` results, with few
checks in flight (under valgrind a check takes ~50x longer, and must not time out). Set
``PYTHONHASHSEED=0`` for repeatable counts.
"""

from __future__ import annotations

import argparse
import asyncio

from benchmarks import procs
from benchmarks.farm import FARM_MARKER, Farm
from benchmarks.scanner_peak import CountingPublisher
from benchmarks.sites import farm_sites, open_prober
from sitemon_adapters.clock import SystemClock
from sitemon_core.models import CheckResult
from sitemon_core.scanner import Scanner


class _Until(CountingPublisher):
    def __init__(self, wanted: int) -> None:
        super().__init__()
        self.wanted = wanted
        self.done = asyncio.Event()

    async def publish(self, result: CheckResult) -> None:
        await super().publish(result)
        if self.count >= self.wanted:
            self.done.set()


async def _run(args: argparse.Namespace, urls: list[str], cafile: str) -> _Until:
    sites = farm_sites(urls, interval_s=60.0, timeout_s=30.0, regex=FARM_MARKER)
    clock = SystemClock()
    publisher = _Until(args.checks)
    async with open_prober(args.prober, clock, cafile=cafile) as prober:
        scanner = Scanner(prober, publisher, clock, region="bench", max_concurrency=8)
        scanner.set_sites(sites)
        running = asyncio.create_task(scanner.run())
        await publisher.done.wait()
        scanner.request_stop()
        await running
    return publisher


async def _bare(args: argparse.Namespace, urls: list[str], cafile: str) -> _Until:
    """aiohttp's own loop (what ``check_cpu --bare`` runs), 8 in flight, to ``--checks``."""
    import re
    import ssl

    import aiohttp

    pattern = re.compile(FARM_MARKER)
    counted = _Until(args.checks)

    async def one(session: aiohttp.ClientSession, start: int) -> None:
        i = start
        while not counted.done.is_set():
            i += 8
            async with session.get(urls[i % len(urls)]) as response:
                pattern.search(await response.text())
            counted.count += 1
            if counted.count >= counted.wanted:
                counted.done.set()

    context = ssl.create_default_context(cafile=cafile)
    connector = aiohttp.TCPConnector(force_close=True, limit=0, ssl=context)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(one(session, k) for k in range(8)))
    return counted


def main() -> None:
    """Parse the arguments, run the farm and the scanner to ``--checks`` results."""
    parser = argparse.ArgumentParser()
    parser.add_argument("prober", choices=["aiohttp", "curl"])
    parser.add_argument("scheme", choices=["http", "https"])
    parser.add_argument("--checks", type=int, default=300)
    parser.add_argument("--sites", type=int, default=400)
    parser.add_argument("--bare", action="store_true", help="aiohttp's own loop, no sitemon")
    args = parser.parse_args()
    with Farm() as farm:
        urls = [farm.url(i, args.scheme) for i in range(args.sites)]
        body = _bare if args.bare else _run
        publisher = procs.run_async(body(args, urls, str(farm.ca)))
    print(f"checks {publisher.count} errors {dict(publisher.errors)}")


if __name__ == "__main__":
    main()
