"""Scenario 1 — scanner peak: checks per second and CPU per check, fresh connection per check.

The real ``Scanner`` + a prober adapter (uvloop on) against the farm, with far more sites
due than the scanner can start, so it runs flat out at ``max_concurrency``. Publishing goes
to a counting publisher (isolates the scanner) or, in the ``+kafka`` variant, to the real
``KafkaStatusPublisher`` (Avro encode + aiokafka). N processes split the catalogue with
``select_shard`` like ``sitemon-run producer --shard K/N``. Every process measures the same
wall-clock window after a warm-up; CPU is the process's own (``getrusage``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from typing import Any

from benchmarks import procs, report
from benchmarks.farm import FARM_MARKER, Farm
from benchmarks.sites import farm_sites, open_prober, prober_names
from benchmarks.system import load_average, self_cpu_s
from sitemon_adapters.clock import SystemClock
from sitemon_core.models import CheckResult
from sitemon_core.scanner import Scanner

MODULE = "benchmarks.scanner_peak"


class CountingPublisher:
    """A ``StatusPublisher`` that only counts what it is given."""

    def __init__(self) -> None:
        self.count = 0
        self.ok = 0
        self.errors: collections.Counter[str] = collections.Counter()

    async def publish(self, result: CheckResult) -> None:
        """Count ``result``."""
        self.count += 1
        if result.ok:
            self.ok += 1
        else:
            self.errors[result.outcome] += 1

    async def flush(self) -> None:
        """Nothing is buffered."""


class _KafkaCounting(CountingPublisher):
    def __init__(self, inner: Any) -> None:
        super().__init__()
        self.inner = inner

    async def publish(self, result: CheckResult) -> None:
        await self.inner.publish(result)
        await super().publish(result)

    async def flush(self) -> None:
        await self.inner.flush()


@contextlib.asynccontextmanager
async def _publisher(params: dict[str, Any]) -> Any:
    if not params.get("kafka"):
        yield CountingPublisher()
        return
    from sitemon_adapters.bus.kafka import KafkaConnection, KafkaStatusPublisher

    connection = KafkaConnection(bootstrap_servers=params["kafka"])
    async with KafkaStatusPublisher(connection, params["topic"]) as inner:
        yield _KafkaCounting(inner)


async def _sleep_until(wall: float) -> None:
    await asyncio.sleep(max(0.0, wall - time.time()))


async def worker(params: dict[str, Any]) -> dict[str, Any]:
    """One scanner process: scan from now, count checks between ``window`` wall times."""
    sites = farm_sites(
        params["urls"],
        interval_s=params["interval_s"],
        regex=FARM_MARKER,
        shard=tuple(params["shard"]),
    )
    clock = SystemClock()
    async with (
        open_prober(
            params["prober"],
            clock,
            cafile=params["cafile"],
            tls_sessions=params.get("tls_sessions", False),
        ) as prober,
        _publisher(params) as publisher,
    ):
        scanner = Scanner(
            prober,
            publisher,
            clock,
            region="bench",
            max_concurrency=params["max_concurrency"],
            drain_timeout_s=10,
        )
        scanner.set_sites(sites)
        running = asyncio.create_task(scanner.run())
        start, end = await procs.ready_for_window()
        await _sleep_until(start)
        checks0, ok0, cpu0, t0 = publisher.count, publisher.ok, self_cpu_s(), time.monotonic()
        await _sleep_until(end)
        checks1, ok1, cpu1, t1 = publisher.count, publisher.ok, self_cpu_s(), time.monotonic()
        scanner.request_stop()
        stats = await running
    checks = checks1 - checks0
    return {
        "sites": len(sites),
        "checks": checks,
        "ok": ok1 - ok0,
        "wall_s": t1 - t0,
        "cpu_s": cpu1 - cpu0,
        "errors": dict(publisher.errors.most_common(5)),
        "overlapped": stats.overlapped,
        "dropped": stats.dropped,
    }


def measure(
    farm: Farm,
    *,
    prober: str,
    scheme: str,
    processes: int,
    sites: int,
    interval_s: float,
    max_concurrency: int,
    warmup_s: float,
    measure_s: float,
    kafka: str | None = None,
    topic: str | None = None,
    tls_sessions: bool = False,
    bare: bool = False,
) -> dict[str, Any]:
    """One run of one variant: ``processes`` scanners in parallel over disjoint shards
    (or, with ``bare``, the library's own loop without sitemon: see ``bare.py``)."""
    urls = [farm.url(i, scheme) for i in range(sites)]
    if bare:
        children = [
            procs.spawn(
                "benchmarks.bare",
                {
                    "library": prober,
                    "urls": urls,
                    "concurrency": max_concurrency,
                    "cafile": str(farm.ca),
                },
                handshake=True,
            )
        ]
    else:
        children = [
            procs.spawn(
                MODULE,
                {
                    "urls": urls,
                    "interval_s": interval_s,
                    "shard": [k, processes],
                    "prober": prober,
                    "cafile": str(farm.ca),
                    "max_concurrency": max_concurrency,
                    "kafka": kafka,
                    "topic": topic,
                    "tls_sessions": tls_sessions,
                },
                handshake=True,
            )
            for k in range(processes)
        ]
    window = procs.start_window(children, warmup_s, measure_s)
    time.sleep(max(0.0, window[0] - time.time()))
    farm0, load0 = farm.cpu_s(), load_average()
    time.sleep(max(0.0, window[1] - time.time()))
    farm_cpu = farm.cpu_s() - farm0
    parts = [procs.collect(child, timeout_s=measure_s + warmup_s + 120) for child in children]
    for part in parts:
        part.setdefault("ok", part["checks"])
        part.setdefault("errors", {})
    checks = sum(p["checks"] for p in parts)
    wall = max(p["wall_s"] for p in parts)
    cpu = sum(p["cpu_s"] for p in parts)
    errors: collections.Counter[str] = collections.Counter()
    for part in parts:
        errors.update(part["errors"])
    return {
        "checks_per_s": checks / wall,
        "cpu_us_per_check": cpu / checks * 1e6 if checks else None,
        "checks_per_cpu_s": checks / cpu if cpu else None,
        "ok_share": sum(p["ok"] for p in parts) / checks if checks else 0.0,
        "scanner_cores": cpu / wall,
        "farm_cpu_us_per_check": farm_cpu / checks * 1e6 if checks else None,
        "errors": dict(errors),
        "load": [load0, load_average()],
        "parts": parts,
    }


def variants(quick: bool, kafka: bool) -> list[dict[str, Any]]:
    """What to measure: probers x schemes x 1/2 processes, TLS resumption, +Kafka (last)."""
    out: list[dict[str, Any]] = []
    probers = prober_names()
    for prober in probers:
        out += [
            {"name": f"{prober} http x1", "prober": prober, "scheme": "http", "processes": 1},
            {"name": f"{prober} http x2", "prober": prober, "scheme": "http", "processes": 2},
            {"name": f"{prober} https x1", "prober": prober, "scheme": "https", "processes": 1},
            {"name": f"{prober} https x2", "prober": prober, "scheme": "https", "processes": 2},
            {
                "name": f"{prober} https x1 resumed",
                "prober": prober,
                "scheme": "https",
                "processes": 1,
                "tls_sessions": True,
            },
            {
                "name": f"bare {prober} http",
                "prober": prober,
                "scheme": "http",
                "processes": 1,
                "bare": True,
            },
        ]
    if quick:  # one of each kind of figure, the fast prober's where there is a choice
        fast = probers[-1]
        out = [
            v
            for v in out
            if v["name"]
            in {
                "aiohttp http x1",
                "aiohttp https x1",
                f"{fast} http x1",
                f"{fast} http x2",
                f"{fast} https x1",
                f"{fast} https x1 resumed",
                f"bare {fast} http",
            }
        ]
    if kafka:
        out += [
            {
                "name": f"{prober} http x1 +kafka",
                "prober": prober,
                "scheme": "http",
                "processes": 1,
                "kafka": True,
            }
            for prober in (probers[-1:] if quick else probers)
        ]
    return out


def run(ctx: Any) -> dict[str, Any]:
    """The scenario: every variant, ``ctx.runs`` times interleaved; medians."""
    quick = ctx.quick
    # Offered load (sites / interval) is about twice what the scanners can start, so they
    # run flat out; the interval also bounds each check's timeout, which must stay well above
    # max_concurrency / throughput (the time a check spends in flight when saturated).
    sites, interval = (8_000, 2.0) if quick else (40_000, 5.0)
    timing = {"warmup_s": 0.5 if quick else 3.0, "measure_s": 2.0 if quick else 12.0}
    kafka: str | None = None
    topic = None
    rows: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    chosen = [v for v in variants(quick, ctx.want_kafka) if ctx.wanted(v["name"])]
    for run_no in range(ctx.runs):
        for variant in chosen:
            if variant.get("kafka") and kafka is None:
                kafka = ctx.kafka_bootstrap()
                topic = ctx.new_topic("bench-peak")
            figure = measure(
                ctx.farm,
                prober=variant["prober"],
                scheme=variant["scheme"],
                processes=variant["processes"],
                sites=sites,
                interval_s=interval,
                max_concurrency=256,
                kafka=kafka if variant.get("kafka") else None,
                topic=topic,
                tls_sessions=variant.get("tls_sessions", False),
                bare=variant.get("bare", False),
                **timing,
            )
            rows[variant["name"]].append(figure)
            report.progress(
                f"scanner_peak run {run_no + 1}/{ctx.runs} {variant['name']}: "
                f"{figure['checks_per_s']:.0f} checks/s, "
                f"{figure['cpu_us_per_check'] or 0:.0f} us/check, "
                f"load {figure['load'][0][0]}"
            )
    summary = []
    for name, runs in rows.items():
        summary.append(
            {
                "variant": name,
                "checks_per_s": report.median([r["checks_per_s"] for r in runs]),
                "cpu_us_per_check": report.median([r["cpu_us_per_check"] for r in runs]),
                "checks_per_cpu_s": report.median([r["checks_per_cpu_s"] for r in runs]),
                "scanner_cores": report.median([r["scanner_cores"] for r in runs]),
                "farm_cpu_us_per_check": report.median([r["farm_cpu_us_per_check"] for r in runs]),
                "ok_share": min(r["ok_share"] for r in runs),
                "load_1m": report.median([r["load"][0][0] for r in runs]),
                "runs": len(runs),
            }
        )
    report.table(
        "Scanner peak (fresh connection per check; medians)",
        [
            "variant",
            "checks/s",
            "CPU us/check",
            "checks/CPU-s",
            "scanner cores",
            "nginx us/check",
            "ok",
            "load 1m",
        ],
        [
            [
                s["variant"],
                s["checks_per_s"],
                s["cpu_us_per_check"],
                s["checks_per_cpu_s"],
                s["scanner_cores"],
                s["farm_cpu_us_per_check"],
                f"{s['ok_share']:.1%}",
                s["load_1m"],
            ]
            for s in summary
        ],
    )
    return {
        "sites": sites,
        **timing,
        "interval_s": interval,
        "max_concurrency": 256,
        "farm": ctx.farm.kind,
        "summary": summary,
        "runs": rows,
    }


if __name__ == "__main__":
    procs.child_main(worker)
