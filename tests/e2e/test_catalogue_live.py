"""``sites apply`` changes what running scanners check without a restart; every region
checks every site once per interval (real Kafka, producers and the CLI as processes)."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.catalogue_rig import (
    ResultsLog,
    follower_config,
    many_sites,
    owned,
    publish_sites,
    start_producers,
    stop_all,
)
from tests.e2e.procs import wait_until, write_config


@pytest.fixture
def names_with_sites(names: dict[str, str]) -> dict[str, str]:
    return {**names, "sites": f"sites-{uuid.uuid4().hex[:10]}"}


async def sites_cli(*args: str) -> tuple[int, str]:
    """``sitemon-run sites ...`` as a process: exit code and standard output."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sitemon_cli.main", "sites", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return int(proc.returncode or 0), out.decode()


def sites_file(tmp: Path, bootstrap: str, names: dict[str, str], ids: list[str], url: str) -> Path:
    document: dict[str, Any] = {
        "sites": [{"id": i, "url": f"{url}{i}", "interval": "4s", "timeout": "1s"} for i in ids],
        "bus": {
            "kind": "kafka",
            "kafka": {"bootstrap_servers": bootstrap, "sites_topic": names["sites"]},
        },
    }
    return write_config(tmp / "sites.yaml", document)


async def test_sites_apply_adds_and_removes_sites_of_running_scanners_within_an_interval(
    tmp_path: Path, kafka_bootstrap: str, names_with_sites: dict[str, str], refused_url: str
) -> None:
    names, interval = names_with_sites, 4.0
    ids = [f"live{i}" for i in range(20)]
    path = sites_file(tmp_path, kafka_bootstrap, names, ids, refused_url)
    code, out = await sites_cli("apply", "-c", str(path), "--dry-run")
    assert code == 0 and "20 added, 0 changed, 0 removed" in out and "dry run" in out, out
    code, out = await sites_cli("list", "-c", str(path))
    assert code == 0 and "0 sites in" in out, out
    code, out = await sites_cli("apply", "-c", str(path))
    assert code == 0 and "20 added" in out, out
    config = follower_config(tmp_path, kafka_bootstrap, names)
    async with ResultsLog(kafka_bootstrap, names["topic"]) as results:
        procs = await start_producers(config, 2)
        try:
            await wait_until(lambda: _checked(results, ids, 0), 60, "every site checked")
            changed = [*ids[1:], "live-new"]  # live0 removed, live-new added
            path = sites_file(tmp_path, kafka_bootstrap, names, changed, refused_url)
            code, out = await sites_cli("apply", "-c", str(path))
            assert code == 0, out
            assert (
                "+ live-new" in out and "- live0" in out and "1 added, 0 changed, 1 removed" in out
            )
            applied = time.time()
            await wait_until(lambda: _checked(results, ["live-new"], applied), interval + 5, "new")
            first = results.first_after("live-new", applied) - applied
            # Give a removed site one interval (plus delivery) to show a check it should not get.
            await wait_until(lambda: _after(results, applied + interval + 2), interval + 10, "time")
            late = [t - applied for t in results.starts[("live0", "e2e")] if t > applied + 1.0]
            print(f"\nadded site first checked {first:.2f}s after apply")
            assert first <= interval + 1.0, f"added site first checked after {first:.1f}s"
            assert not late, f"removed site still checked {late}"
            assert all(p.proc is not None and p.proc.returncode is None for p in procs)
        finally:
            await stop_all(procs)


async def _checked(results: ResultsLog, ids: list[str], after: float) -> bool:
    return results.checked_after(ids, after)


async def _after(results: ResultsLog, moment: float) -> bool:
    return time.time() > moment


async def test_each_region_checks_every_site_once_per_interval(
    tmp_path: Path, kafka_bootstrap: str, names_with_sites: dict[str, str], refused_url: str
) -> None:
    names, interval, window = names_with_sites, 4.0, 20.0
    sites = many_sites(300, refused_url, interval)
    ids = [s.id for s in sites]
    await publish_sites(kafka_bootstrap, names, sites)
    async with ResultsLog(kafka_bootstrap, names["topic"]) as results:
        east = await start_producers(follower_config(tmp_path, kafka_bootstrap, names, "east"), 2)
        west = await start_producers(follower_config(tmp_path, kafka_bootstrap, names, "west"), 2)
        procs = [*east, *west]
        try:
            for region in (east, west):

                async def assigned(region: list = region) -> bool:
                    counts = owned(region)
                    return counts is not None and sum(counts) == len(ids)

                await wait_until(assigned, 60, "each region owning every site")
            start = time.time() + interval  # past the first, partial, interval
            await wait_until(lambda: _after(results, start + window + 2), window + 20, "window")
            for region in ("east", "west"):
                counts = [
                    sum(1 for t in results.starts[(i, region)] if start <= t < start + window)
                    for i in ids
                ]
                assert min(counts) >= window / interval - 1, (region, min(counts))
                assert max(counts) <= window / interval + 1, (region, max(counts))
            dups, total = results.duplicates(start, start + window, interval)
            assert total > 0 and dups == 0, (dups, total)
        finally:
            await stop_all(procs)
