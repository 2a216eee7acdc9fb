"""CPU per check of one scanner (or one bare library loop), in this process, for profiling.

    python -m benchmarks.check_cpu aiohttp --seconds 10            # scanner-only
    python -m benchmarks.check_cpu aiohttp --bare --seconds 10     # aiohttp's own loop
    py-spy record --idle -o out.json -f speedscope -- python -m benchmarks.check_cpu curl

Starts the farm (nginx if installed), runs the real ``Scanner`` + prober against it with a
counting publisher (``scanner_peak``'s, offered twice what it can start) on uvloop, and
prints checks, process CPU seconds (``getrusage``) and CPU µs per check over the window after
a warm-up. CPU per check is far less sensitive to other load on a shared box than checks/s.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from benchmarks import procs
from benchmarks.farm import FARM_MARKER, Farm
from benchmarks.scanner_peak import CountingPublisher
from benchmarks.sites import farm_sites, open_prober
from benchmarks.system import self_cpu_s
from sitemon_adapters.clock import SystemClock
from sitemon_core.scanner import Scanner


async def _scanner(args: argparse.Namespace, urls: list[str], cafile: str) -> tuple[int, float]:
    sites = farm_sites(urls, interval_s=args.interval, regex=FARM_MARKER)
    clock = SystemClock()
    publisher = CountingPublisher()
    async with open_prober(args.prober, clock, cafile=cafile) as prober:
        scanner = Scanner(prober, publisher, clock, region="bench", max_concurrency=256)
        scanner.set_sites(sites)
        running = asyncio.create_task(scanner.run())
        await asyncio.sleep(args.warmup)
        checks0, cpu0 = publisher.count, self_cpu_s()
        await asyncio.sleep(args.seconds)
        checks, cpu = publisher.count - checks0, self_cpu_s() - cpu0
        scanner.request_stop()
        await running
    if publisher.errors:
        print("errors:", dict(publisher.errors))
    return checks, cpu


async def _bare(args: argparse.Namespace, urls: list[str], cafile: str) -> tuple[int, float]:
    import re
    import ssl

    import aiohttp

    pattern = re.compile(FARM_MARKER)
    context = ssl.create_default_context(cafile=cafile)
    counted = {"n": 0, "i": 0}

    async def one(session: aiohttp.ClientSession) -> None:
        while True:
            counted["i"] += 1
            async with session.get(urls[counted["i"] % len(urls)]) as response:
                pattern.search(await response.text())
            counted["n"] += 1

    connector = aiohttp.TCPConnector(force_close=True, limit=0, ssl=context)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = [asyncio.create_task(one(session)) for _ in range(256)]
        await asyncio.sleep(args.warmup)
        checks0, cpu0 = counted["n"], self_cpu_s()
        await asyncio.sleep(args.seconds)
        checks, cpu = counted["n"] - checks0, self_cpu_s() - cpu0
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return checks, cpu


def main() -> None:
    """Parse the arguments, run the farm and one loop, print CPU per check."""
    parser = argparse.ArgumentParser()
    parser.add_argument("prober", choices=["aiohttp", "curl"])
    parser.add_argument("--bare", action="store_true", help="aiohttp's own loop, no sitemon")
    parser.add_argument("--scheme", default="http", choices=["http", "https"])
    parser.add_argument("--sites", type=int, default=8_000)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with Farm() as farm:
        urls = [farm.url(i, args.scheme) for i in range(args.sites)]
        body: Any = _bare if args.bare else _scanner
        t0 = time.monotonic()
        checks, cpu = procs.run_async(body(args, urls, str(farm.ca)))
        farm_kind = farm.kind
    label = "bare" if args.bare else "sitemon"
    print(
        f"{label} {args.prober} {args.scheme} ({farm_kind}): {checks} checks, {cpu:.2f} CPU s, "
        f"{cpu / checks * 1e6:.0f} us/check, {checks / args.seconds:.0f}/s "
        f"(run {time.monotonic() - t0:.0f} s)"
    )


if __name__ == "__main__":
    main()
