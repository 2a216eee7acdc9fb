"""Scenario 4 — end to end: check start to row visible in PostgreSQL, at a steady rate.

Two processes like a deployment: a producer (``Scanner`` + prober + the real
``KafkaStatusPublisher``) checking farm sites at a steady rate (sites / interval, first runs
spread over the interval), and a consumer (``Persister`` + ``KafkaStatusSubscriber`` +
``PostgresStatusRepository``, batch 5,000, poll 0.5 s — the config defaults). Latency is
``check_history.inserted_at - started_at`` for checks started after the warm-up: from the
scanner's wall clock at check start to PostgreSQL's ``now()`` in the saving transaction
(its start: the row becomes visible at that transaction's commit, so the save time is
reported next to it).
"""

from __future__ import annotations

import collections
import time
import uuid
from typing import Any

from benchmarks import procs, report
from benchmarks.consumer_throughput import CpuSampler, postgres_pids, run_consumer
from benchmarks.farm import FARM_MARKER
from benchmarks.sites import farm_sites, open_prober, prober_names, run_scanner_for
from benchmarks.system import load_average

MODULE = "benchmarks.end_to_end"
INTERVAL_S = 10.0

_LATENCY_SQL = """
SELECT count(*),
       percentile_cont(ARRAY[0.5, 0.99])
           WITHIN GROUP (ORDER BY extract(epoch FROM inserted_at - started_at)),
       max(extract(epoch FROM inserted_at - started_at)),
       extract(epoch FROM max(started_at) - min(started_at))
FROM {schema}.check_history WHERE started_at >= to_timestamp($1) AND started_at < to_timestamp($2)
"""


async def producer(params: dict[str, Any]) -> dict[str, Any]:
    """The scanner with the real Kafka publisher, for ``duration_s``."""
    from sitemon_adapters.bus.kafka import KafkaConnection, KafkaStatusPublisher
    from sitemon_adapters.clock import SystemClock
    from sitemon_core.scanner import Scanner

    urls = [
        f"http://127.0.0.1:{params['ports'][i % len(params['ports'])]}/site/{i}"
        for i in range(params["sites"])
    ]
    sites = farm_sites(urls, interval_s=params["interval_s"], regex=FARM_MARKER)
    clock = SystemClock()
    connection = KafkaConnection(bootstrap_servers=params["bootstrap"])
    async with (
        open_prober(params["prober"], clock, cafile=None) as prober,
        KafkaStatusPublisher(connection, params["topic"]) as publisher,
    ):
        scanner = Scanner(
            prober, publisher, clock, region="bench", max_concurrency=256, drain_timeout_s=10
        )
        scanner.set_sites(sites)
        stats, cpu = await run_scanner_for(scanner, params["duration_s"])
    return {
        "started": stats.started,
        "published": stats.published,
        "dropped": stats.dropped,
        "late_starts": stats.late_starts,
        "cpu_s": cpu,
    }


async def consumer(params: dict[str, Any]) -> dict[str, Any]:
    """The real persister until the producer is done and nothing new came for 3 s."""
    idle = {"saved": -1, "since": time.monotonic()}

    async def done(timed: Any) -> bool:
        if timed.saved != idle["saved"]:
            idle.update(saved=timed.saved, since=time.monotonic())
        return time.time() > params["not_before"] and time.monotonic() - idle["since"] > 3.0

    return await run_consumer(params, done)


async def child(params: dict[str, Any]) -> dict[str, Any]:
    """Either side, by ``params['role']``."""
    return await (producer(params) if params["role"] == "producer" else consumer(params))


async def _latency(dsn: str, schema: str, since: float, until: float) -> list[Any]:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(_LATENCY_SQL.format(schema=schema), since, until)
    finally:
        await conn.close()
    return list(row)


def measure(ctx: Any, prober: str, rate: int, warmup_s: float, window_s: float) -> dict[str, Any]:
    """One run: both processes, then the latency of checks started inside the window."""
    bootstrap, pg = ctx.kafka_bootstrap(), ctx.postgres()
    topic = ctx.new_topic("bench-e2e")
    schema = f"e2e_{uuid.uuid4().hex[:8]}"
    duration = warmup_s + window_s
    began = time.time()
    pg_cpu = CpuSampler(lambda: postgres_pids(pg))
    load0 = load_average()
    cons = procs.spawn(
        MODULE,
        {
            "role": "consumer",
            "bootstrap": bootstrap,
            "topic": topic,
            "dsn": pg.dsn,
            "schema": schema,
            "group": f"e2e-{uuid.uuid4().hex[:8]}",
            "batch_size": 5000,
            "not_before": began + duration + 2.0,
        },
    )
    time.sleep(2.0 if ctx.quick else 3.0)  # the consumer joins its group and migrates first
    start = time.time()
    prod = procs.spawn(
        MODULE,
        {
            "role": "producer",
            "bootstrap": bootstrap,
            "topic": topic,
            "prober": prober,
            "sites": int(rate * INTERVAL_S),
            "interval_s": INTERVAL_S,
            "duration_s": duration,
            "ports": ctx.farm.http_ports,
        },
    )
    produced = procs.collect(prod, timeout_s=duration + 120)
    consumed = procs.collect(cons, timeout_s=300)
    postgres_cpu = pg_cpu.stop()
    count, (p50, p99), worst, span = procs.run_async(
        _latency(pg.dsn, schema, start + warmup_s, start + duration), uvloop=False
    )
    return {
        "target_rate": rate,
        "achieved_rate": count / window_s,
        "rows_in_window": count,
        "latency_p50_s": p50,
        "latency_p99_s": p99,
        "latency_max_s": worst,
        "producer": produced,
        "consumer": consumed,
        "producer_cores": produced["cpu_s"] / duration,
        "consumer_cores": consumed["cpu_s"] / (time.time() - began),
        "postgres_cpu_s": postgres_cpu,
        "load": [load0, load_average()],
        "span_s": span,
    }


def run(ctx: Any) -> dict[str, Any]:
    """Each prober at the target rate, ``ctx.runs`` times; medians."""
    rate = 200 if ctx.quick else 2000
    warmup_s, window_s = (3.0, 7.0) if ctx.quick else (15.0, 45.0)
    probers = prober_names()[-1:] if ctx.quick else prober_names()
    rows: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for run_no in range(ctx.runs):
        for prober in probers:
            figure = measure(ctx, prober, rate, warmup_s, window_s)
            rows[prober].append(figure)
            report.progress(
                f"end_to_end run {run_no + 1}/{ctx.runs} {prober} @ {rate}/s: "
                f"{figure['achieved_rate']:.0f}/s, p50 {figure['latency_p50_s']:.3f} s, "
                f"p99 {figure['latency_p99_s']:.3f} s, load {figure['load'][0][0]}"
            )
    summary = [
        {
            "variant": f"{prober} @ {rate:,}/s",
            "achieved_rate": report.median([r["achieved_rate"] for r in runs]),
            "latency_p50_s": report.median([r["latency_p50_s"] for r in runs]),
            "latency_p99_s": report.median([r["latency_p99_s"] for r in runs]),
            "latency_max_s": max(r["latency_max_s"] for r in runs),
            "save_p99_s": report.median([r["consumer"]["save_p99_s"] for r in runs]),
            "producer_cores": report.median([r["producer_cores"] for r in runs]),
            "consumer_cores": report.median([r["consumer_cores"] for r in runs]),
            "dropped": sum(r["producer"]["dropped"] for r in runs),
            "load_1m": report.median([r["load"][0][0] for r in runs]),
        }
        for prober, runs in rows.items()
    ]
    report.table(
        "End to end: check start -> row in PostgreSQL (inserted_at - started_at; medians)",
        [
            "variant",
            "checks/s",
            "p50 s",
            "p99 s",
            "max s",
            "save p99 s",
            "producer cores",
            "consumer cores",
            "dropped",
            "load 1m",
        ],
        [
            [
                s["variant"],
                s["achieved_rate"],
                f"{s['latency_p50_s']:.3f}",
                f"{s['latency_p99_s']:.3f}",
                f"{s['latency_max_s']:.3f}",
                f"{s['save_p99_s']:.3f}",
                s["producer_cores"],
                s["consumer_cores"],
                s["dropped"],
                s["load_1m"],
            ]
            for s in summary
        ],
    )
    return {
        "rate": rate,
        "interval_s": INTERVAL_S,
        "warmup_s": warmup_s,
        "window_s": window_s,
        "summary": summary,
        "runs": rows,
    }


if __name__ == "__main__":
    procs.child_main(child)
