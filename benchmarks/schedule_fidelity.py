"""Scenario 2 — schedule fidelity: do checks start on time at a realistic catalogue size?

10,000 and 100,000 sites at a 60 s interval, first runs spread over the whole interval
(``start_jitter`` default), checked for a few minutes with the real ``Scanner`` and prober
against the farm, publishing to a counting publisher. The scanner's ``observer`` receives
each result with its start lag (start time minus scheduled time, including any wait for a
free slot). Reported: the share of checks started within 1 s of schedule, lag percentiles,
the checks made vs the schedule's promise, and the scanner's peak RSS (VmHWM).
"""

from __future__ import annotations

import array
import collections
from typing import Any

from benchmarks import procs, report
from benchmarks.farm import FARM_MARKER
from benchmarks.scanner_peak import CountingPublisher
from benchmarks.sites import farm_sites, open_prober, prober_names, run_scanner_for
from benchmarks.system import load_average, peak_rss_mb
from sitemon_adapters.clock import SystemClock
from sitemon_core.models import CheckResult
from sitemon_core.scanner import Scanner

MODULE = "benchmarks.schedule_fidelity"
ON_TIME_S = 1.0


async def worker(params: dict[str, Any]) -> dict[str, Any]:
    """One scanner over ``sites`` farm URLs for ``duration_s``; lag of every start."""
    urls = [
        f"{scheme}://{host}/site/{i}"
        for i, (scheme, host) in zip(range(params["sites"]), _hosts(params), strict=False)
    ]
    sites = farm_sites(
        urls, interval_s=params["interval_s"], regex=FARM_MARKER, shard=tuple(params["shard"])
    )
    lags = array.array("d")
    ok = collections.Counter[str]()

    def observe(result: CheckResult, lag: float) -> None:
        lags.append(lag)
        ok[result.outcome] += 1

    clock = SystemClock()
    async with open_prober(params["prober"], clock, cafile=params["cafile"]) as prober:
        scanner = Scanner(
            prober,
            CountingPublisher(),
            clock,
            region="bench",
            max_concurrency=params["max_concurrency"],
            observer=observe,
            drain_timeout_s=10,
        )
        scanner.set_sites(sites)
        del sites, urls
        stats, cpu = await run_scanner_for(scanner, params["duration_s"])
    # Lags as a histogram of whole milliseconds, so shards' figures merge exactly.
    histogram = collections.Counter(int(v * 1000) for v in lags)
    return {
        "checks": len(lags),
        "lag_ms_histogram": histogram,
        "rss_mb": peak_rss_mb(),
        "cpu_s": cpu,
        "skipped": scanner.skipped,
        "overlapped": stats.overlapped,
        "outcomes": dict(ok.most_common(4)),
    }


def summarise(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One figure from the shards of a run: lag share and quantiles from the merged
    histograms (1 ms resolution), the largest RSS, the summed CPU."""
    merged: collections.Counter[int] = collections.Counter()
    for part in parts:
        merged.update({int(k): v for k, v in part["lag_ms_histogram"].items()})
    n = sum(merged.values())

    def quantile(q: float) -> float | None:
        if not n:
            return None
        rank, seen = q * n, 0
        for ms in sorted(merged):
            seen += merged[ms]
            if seen >= rank:
                return ms / 1000
        return max(merged) / 1000

    on_time = sum(v for ms, v in merged.items() if ms < ON_TIME_S * 1000)
    return {
        "checks": n,
        "on_time_share": on_time / n if n else 0.0,
        "lag_p50_s": quantile(0.5),
        "lag_p99_s": quantile(0.99),
        "lag_max_s": max(merged) / 1000 if merged else None,
        "rss_mb": max(p["rss_mb"] for p in parts),
        "cpu_s": sum(p["cpu_s"] for p in parts),
        "processes": len(parts),
    }


def _hosts(params: dict[str, Any]) -> Any:
    ports = params["ports"]
    i = 0
    while True:
        yield "http", f"127.0.0.1:{ports[i % len(ports)]}"
        i += 1


def run(ctx: Any) -> dict[str, Any]:
    """Each catalogue size x prober, ``ctx.runs`` times; medians."""
    # (sites, interval s, duration s, scanner processes, max_concurrency per process)
    sizes = (
        [(1_000, 10.0, 20.0, 1, 256)]
        if ctx.quick
        else [
            (10_000, 60.0, 60.0, 1, 256),
            (100_000, 60.0, 120.0, 1, 256),
            (100_000, 60.0, 120.0, 1, 1024),
            (100_000, 60.0, 120.0, 2, 256),
        ]
    )
    rows: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for run_no in range(ctx.runs):
        for sites, interval, duration, shards, concurrency in sizes:
            name_of = {
                p: f"{p} {sites:,} sites / {interval:.0f} s"
                + (f" ({shards} processes)" if shards > 1 else "")
                + (f" c={concurrency}" if concurrency != 256 else "")
                for p in prober_names()
            }
            chosen = [p for p in prober_names() if ctx.wanted(name_of[p])]
            # Quick mode runs the probers side by side (1,000 sites need little CPU).
            groups = [chosen] if ctx.quick else [[p] for p in chosen]
            for group in groups:
                load0 = load_average()
                children = {
                    prober: [
                        procs.spawn(
                            MODULE,
                            {
                                "sites": sites,
                                "interval_s": interval,
                                "duration_s": duration,
                                "prober": prober,
                                "cafile": str(ctx.farm.ca),
                                "max_concurrency": concurrency,
                                "ports": ctx.farm.http_ports,
                                "shard": [k, shards],
                            },
                        )
                        for k in range(shards)
                    ]
                    for prober in group
                }
                for prober, shard_children in children.items():
                    name = name_of[prober]
                    parts = [procs.collect(c, timeout_s=duration + 180) for c in shard_children]
                    figure = summarise(parts)
                    figure.update(
                        load=[load0, load_average()],
                        duration_s=duration,
                        expected_checks=sites * duration / interval,
                        side_by_side=len(group) > 1,
                        parts=parts,
                    )
                    rows[name].append(figure)
                    report.progress(
                        f"schedule_fidelity run {run_no + 1}/{ctx.runs} {name}: "
                        f"{figure['on_time_share']:.2%} on time, "
                        f"p99 lag {figure['lag_p99_s']:.3f} s, "
                        f"RSS {figure['rss_mb']:.0f} MB, load {load0[0]}"
                    )
    summary = [
        {
            "variant": name,
            "checks": report.median([r["checks"] for r in runs]),
            "expected_checks": runs[0]["expected_checks"],
            "on_time_share": report.median([r["on_time_share"] for r in runs]),
            "lag_p50_s": report.median([r["lag_p50_s"] for r in runs]),
            "lag_p99_s": report.median([r["lag_p99_s"] for r in runs]),
            "lag_max_s": max(r["lag_max_s"] or 0 for r in runs),
            "rss_mb": report.median([r["rss_mb"] for r in runs]),
            "cpu_cores": report.median([r["cpu_s"] / r["duration_s"] for r in runs]),
            "load_1m": report.median([r["load"][0][0] for r in runs]),
            "runs": len(runs),
        }
        for name, runs in rows.items()
    ]
    report.table(
        "Schedule fidelity (start lag = start - scheduled time; "
        f"on time = within {ON_TIME_S:.0f} s)",
        [
            "variant",
            "checks",
            "expected",
            "on time",
            "p50 lag s",
            "p99 lag s",
            "max lag s",
            "RSS MB",
            "scanner cores",
            "load 1m",
        ],
        [
            [
                s["variant"],
                s["checks"],
                s["expected_checks"],
                f"{s['on_time_share']:.2%}",
                f"{s['lag_p50_s']:.4f}",
                f"{s['lag_p99_s']:.4f}",
                f"{s['lag_max_s']:.3f}",
                s["rss_mb"],
                s["cpu_cores"],
                s["load_1m"],
            ]
            for s in summary
        ],
    )
    return {"sizes": sizes, "summary": summary, "runs": rows}


if __name__ == "__main__":
    procs.child_main(worker)
