"""Scaling scanners by starting more of them, and one scanner owning 100,000 sites
(real Kafka, producers as processes)."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.catalogue_rig import (
    ResultsLog,
    follower_config,
    last,
    many_sites,
    owned,
    publish_sites,
    start_producers,
    stop_all,
)
from tests.e2e.procs import SitemonProcess, wait_until

SITES = 3000
INTERVAL_S = 10.0
MIB = 1024 * 1024


@pytest.fixture
def names_with_sites(names: dict[str, str]) -> dict[str, str]:
    return {**names, "sites": f"sites-{uuid.uuid4().hex[:10]}"}


async def _after(moment: float) -> bool:
    return time.time() > moment


@pytest.mark.slow  # ~100 s: it watches the whole rebalance minute
async def test_two_more_scanners_take_a_fair_share_without_duplicating_checks(
    tmp_path: Path, kafka_bootstrap: str, names_with_sites: dict[str, str], refused_url: str
) -> None:
    names = names_with_sites
    sites = many_sites(SITES, refused_url, INTERVAL_S)
    ids = [s.id for s in sites]
    await publish_sites(kafka_bootstrap, names, sites)
    config = follower_config(tmp_path, kafka_bootstrap, names)
    async with ResultsLog(kafka_bootstrap, names["topic"]) as results:
        procs = await start_producers(config, 2)
        try:

            async def two_own_all() -> bool:
                counts = owned(procs)
                return counts is not None and sum(counts) == SITES

            await wait_until(two_own_all, 60, "two producers owning every site")
            ready = time.time()
            await wait_until(lambda: _checked(results, ids, ready), 40, "all checked")
            scale_at = time.time()
            procs += await start_producers(config, 2)

            async def four_share() -> bool:
                counts = owned(procs, scale_at)
                return counts is not None and sum(counts) == SITES

            await wait_until(four_share, 60, "four producers sharing the sites")
            shares = [c / SITES for c in owned(procs, scale_at) or []]
            await wait_until(lambda: _after(scale_at + 60), 80, "the rebalance minute")
            dups, total = results.duplicates(scale_at, scale_at + 60, INTERVAL_S)
            print(f"\nshares {[f'{s:.1%}' for s in shares]}; duplicates {dups}/{total}")
            assert all(0.20 <= s <= 0.30 for s in shares), shares
            assert total >= SITES * 5, total  # every site checked through the minute
            assert dups < 0.01 * total, (dups, total)
        finally:
            await stop_all(procs)


async def _checked(results: ResultsLog, ids: list[str], after: float) -> bool:
    return results.checked_after(ids, after)


def _rss_mib(proc: SitemonProcess) -> tuple[float, float]:
    """(current, peak) resident memory of ``proc``, MiB, from /proc."""
    assert proc.proc is not None
    fields = {}
    with open(f"/proc/{proc.proc.pid}/status", encoding="ascii") as status:
        for line in status:
            name, _, value = line.partition(":")
            fields[name] = value.split()
    return int(fields["VmRSS"][0]) / 1024, int(fields["VmHWM"][0]) / 1024


async def test_a_scanner_owning_100k_sites_schedules_them_within_5s_in_under_300mb(
    tmp_path: Path, kafka_bootstrap: str, names_with_sites: dict[str, str], refused_url: str
) -> None:
    names = names_with_sites
    await publish_sites(kafka_bootstrap, names, many_sites(100_000, refused_url, 3600.0))
    config = follower_config(tmp_path, kafka_bootstrap, names)
    (producer,) = await start_producers(config, 1)
    try:
        entry = await producer.wait_for(
            lambda e: e.get("msg") == "sites assigned" and e.get("sites") == 100_000, 120
        )
        took = float(entry["load_s"]) + float(entry["scheduled_s"])
        await asyncio.sleep(0)  # nothing to wait for: measure memory right after
        rss, peak = _rss_mib(producer)
        print(
            f"\n100k sites: loaded and scheduled in {took:.2f}s (load {entry['load_s']}s), "
            f"RSS {rss:.0f} MiB, peak {peak:.0f}"
        )
        # The target is 5 s (2.6-3.6 s measured on an idle 2-core box, BENCHMARKS.md); a test
        # bound of 3x keeps catching a regression (an O(n^2) load, a per-site round trip)
        # without failing on a runner shared with other jobs (6.5 s seen under load 6).
        assert took < 15.0, entry
        assert peak < 300, peak
        assert last(producer, "partitions assigned") is not None
    finally:
        await stop_all([producer])
