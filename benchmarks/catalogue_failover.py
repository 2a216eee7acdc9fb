"""Catalogue failover: the handover gap when a scanner is stopped (SIGTERM) or killed
(SIGKILL), and the rate of duplicate checks, with producers following the catalogue topic.

Per run: N sites on a fresh compacted topic (12 partitions), three ``producer`` processes
with ``sites: {source: kafka}``; every result is read back from the results topic. Once all
sites are checked, one producer gets SIGTERM; once its sites are checked again (and one more
interval passed), another gets SIGKILL. For the sites each one owned, the gap is the time
between their last check before and their first check after the signal (one interval when
nothing was missed). Duplicates: a second check of a site less than half an interval after
the previous one. The producers and the results reader are the e2e tests' (tests/e2e).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tests.e2e.catalogue_rig import (
    ResultsLog,
    follower_config,
    last,
    many_sites,
    owned,
    owned_partitions,
    partition_of,
    publish_sites,
    stamp,
    start_producers,
    stop_all,
)
from tests.e2e.procs import SitemonProcess, wait_until

from benchmarks import report

FULL = {"sites": 3000, "interval_s": 10.0}
QUICK = {"sites": 600, "interval_s": 5.0}


def run(ctx: Any) -> dict[str, Any]:
    """Medians over ``ctx.runs`` runs; prints the table."""
    scale = QUICK if ctx.quick else FULL
    # The shared test services when they are up (SITEMON_KAFKA_BOOTSTRAP), else devservices.
    bootstrap = os.environ.get("SITEMON_KAFKA_BOOTSTRAP") or ctx.kafka_bootstrap()
    runs = [asyncio.run(_one_run(bootstrap, **scale)) for _ in range(ctx.runs)]
    rows = []
    for sig in ("SIGTERM", "SIGKILL"):
        rows.append(
            [
                sig,
                report.median([r[sig]["handover_s"] for r in runs]),
                report.median([r[sig]["gap_max_s"] for r in runs]),
                report.median([r[sig]["gap_p50_s"] for r in runs]),
                report.median([r[sig]["sites"] for r in runs]),
                f"{report.median([r[sig]['missed_slot_share'] for r in runs]):.1%}",
            ]
        )
    report.table(
        f"Catalogue failover ({scale['sites']} sites every {scale['interval_s']:g}s, "
        f"3 producers, 12 partitions, session timeout 6s; medians of {len(runs)})",
        ["signal", "handover s", "max gap s", "median gap s", "sites moved", "missed a slot"],
        rows,
    )
    dup = report.median([r["duplicate_rate"] for r in runs])
    report.progress(f"duplicate checks: {dup:.3%} of checks (median)")
    return {"scale": scale, "runs": runs, "duplicate_rate": dup}


async def _one_run(bootstrap: str, sites: int, interval_s: float) -> dict[str, Any]:
    names = {
        "topic": f"bench-{uuid.uuid4().hex[:8]}",
        "dlq": f"bench-{uuid.uuid4().hex[:8]}.dlq",
        "sites": f"bench-sites-{uuid.uuid4().hex[:8]}",
    }
    with socket.socket() as closed, tempfile.TemporaryDirectory() as tmp:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: each check is refused
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/"
        catalogue = many_sites(sites, url, interval_s)
        ids = [s.id for s in catalogue]
        await publish_sites(bootstrap, names, catalogue)
        config = follower_config(Path(tmp), bootstrap, names)
        async with ResultsLog(bootstrap, names["topic"]) as results:
            procs = await start_producers(config, 3)
            try:
                began = await _all_checked(results, procs, ids, interval_s)
                term = await _leave(
                    results, procs[0], procs[1:], ids, sig=signal.SIGTERM, interval_s=interval_s
                )
                kill = await _leave(
                    results, procs[1], procs[2:], ids, sig=signal.SIGKILL, interval_s=interval_s
                )
                dups, total = results.duplicates(began, time.time() - 2, interval_s)
            finally:
                await stop_all(procs)
    return {"SIGTERM": term, "SIGKILL": kill, "duplicate_rate": dups / max(1, total)}


async def _all_checked(
    results: ResultsLog, procs: list[SitemonProcess], ids: list[str], interval_s: float
) -> float:
    async def assigned() -> bool:
        counts = owned(procs)
        return counts is not None and sum(counts) == len(ids)

    await wait_until(assigned, 60, "every producer assigned")
    ready = time.time()

    async def checked() -> bool:
        return results.checked_after(ids, ready)

    await wait_until(checked, interval_s + 30, "every site checked")
    return ready


async def _leave(
    results: ResultsLog,
    victim: SitemonProcess,
    survivors: list[SitemonProcess],
    ids: list[str],
    *,
    sig: signal.Signals,
    interval_s: float,
) -> dict[str, Any]:
    theirs = [i for i in ids if partition_of(i) in owned_partitions(victim)]
    at = time.time()
    if sig == signal.SIGKILL:
        await victim.kill()
    else:
        await victim.stop(sig)

    async def taken_over() -> bool:
        counts = owned(survivors, at)
        return counts is not None and sum(counts) == len(ids)

    await wait_until(taken_over, 60, "the survivors owning every site")
    handover = max(stamp(last(p, "sites assigned", at) or {}) for p in survivors) - at

    async def rechecked() -> bool:
        return results.checked_after(theirs, at)

    await wait_until(rechecked, 60, "the victim's sites checked again")
    gaps = sorted(
        results.first_after(i, at) - max(t for t in results.starts[(i, "e2e")] if t <= at)
        for i in theirs
        if any(t <= at for t in results.starts[(i, "e2e")])
    )
    await asyncio.sleep(interval_s)  # one more interval of steady state before the next event
    return {
        "sites": len(theirs),
        "handover_s": round(handover, 3),
        "gap_max_s": round(gaps[-1], 3) if gaps else None,
        "gap_p50_s": round(report.percentile(gaps, 0.5) or 0.0, 3),
        # Sites whose slot fell where nobody checked it: a gap of two intervals or more.
        "missed_slot_share": sum(1 for g in gaps if g > 1.5 * interval_s) / max(1, len(gaps)),
    }
