"""Scenario 3 — consumer throughput: a pre-filled topic drained into PostgreSQL.

A topic (6 partitions) holds N Avro results of 100,000 distinct sites (ten rounds of checks
per site at full scale). The real ``Persister`` + ``KafkaStatusSubscriber`` +
``PostgresStatusRepository`` drains it into a fresh schema (history + latest status, one
transaction per batch) on a devservices PostgreSQL with its default, durable settings
(fsync and synchronous_commit on). Rows/s is N over the time from the first batch's save to
the last one's commit; CPU per row is the consumer process's own, PostgreSQL's backends' and
the Kafka broker's, each measured from /proc.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks import procs, report
from benchmarks.services import pg_settings
from benchmarks.system import children_of, load_average, process_cpu_s, self_cpu_s
from sitemon_core.models import CheckResult, PhaseTimings

MODULE = "benchmarks.consumer_throughput"
SITES = 100_000
PARTITIONS = 6


def sample_results(count: int, sites: int = SITES) -> list[CheckResult]:
    """``count`` plausible results, round-robin over ``sites`` sites, a minute apart per site."""
    base = datetime.now(UTC) - timedelta(days=1)
    out = []
    for n in range(count):
        site, round_ = n % sites, n // sites
        ok = n % 50 != 0
        out.append(
            CheckResult(
                check_id=uuid.uuid4().hex,
                site_id=f"site-{site}",
                url=f"https://site-{site}.example.com/health",
                region="bench",
                started_at=base + timedelta(minutes=round_, microseconds=site),
                ok=ok,
                total_ms=12.5 + site % 100,
                status_code=200 if ok else 503,
                timings=PhaseTimings(
                    dns_ms=1.1, connect_ms=2.2, tls_ms=5.5, ttfb_ms=3.3, transfer_ms=0.4
                ),
                regex_matched=True if ok else None,
                bytes_read=986,
                final_url=f"https://site-{site}.example.com/health",
            )
        )
    return out


async def prefill(bootstrap: str, topic: str, count: int) -> float:
    """Write ``count`` encoded results to ``topic``; return the seconds it took."""
    from aiokafka import AIOKafkaProducer

    from sitemon_adapters.codec.avro import AvroCheckResultCodec

    codec = AvroCheckResultCodec()
    began = time.monotonic()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=50, max_batch_size=1024 * 1024
    )
    await producer.start()
    try:
        chunk = 20_000
        for offset in range(0, count, chunk):
            batches = [producer.create_batch() for _ in range(PARTITIONS)]
            pending = []
            for n, result in enumerate(sample_results(min(chunk, count - offset)), start=offset):
                part = (n % SITES) % PARTITIONS
                value = codec.encode(result)
                key = f"site-{n % SITES}".encode()
                if batches[part].append(key=key, value=value, timestamp=None) is None:
                    pending.append(await producer.send_batch(batches[part], topic, partition=part))
                    batches[part] = producer.create_batch()
                    batches[part].append(key=key, value=value, timestamp=None)
            for part, batch in enumerate(batches):
                if batch.record_count():
                    pending.append(await producer.send_batch(batch, topic, partition=part))
            await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.monotonic() - began


class TimedRepository:
    """Wraps the real repository to time every save (first start, last end, each one).
    Wall-clock times, so the saves of several consumer processes can be combined."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.first: float | None = None
        self.last = 0.0
        self.durations: list[float] = []
        self.saved = 0

    async def save(self, results: Sequence[CheckResult]) -> None:
        """Save through the real repository, timing it."""
        began = time.time()
        if self.first is None:
            self.first = began
        await self.inner.save(results)
        self.last = time.time()
        self.durations.append(self.last - began)
        self.saved += len(results)


async def run_consumer(params: dict[str, Any], until: Any) -> dict[str, Any]:
    """The real persister on the topic until ``until(repository)`` is true."""
    from sitemon_adapters.bus.kafka import KafkaConnection, KafkaStatusSubscriber
    from sitemon_adapters.clock import SystemClock
    from sitemon_adapters.store.postgres import PostgresStatusRepository
    from sitemon_cli.collector import tune_for_batches
    from sitemon_core.persister import Persister

    connection = KafkaConnection(bootstrap_servers=params["bootstrap"])
    async with (
        PostgresStatusRepository(params["dsn"], schema=params["schema"]) as repo,
        KafkaStatusSubscriber(connection, params["topic"], params["group"]) as subscriber,
    ):
        await repo.migrate()
        tune_for_batches()  # as the consumer command does once its parts are built
        timed = TimedRepository(repo)
        persister = Persister(
            subscriber,
            timed,
            SystemClock(),  # type: ignore[arg-type]
            batch_size=params["batch_size"],
        )
        cpu0 = self_cpu_s()
        running = asyncio.create_task(persister.run())
        # A condition on counters, polled: nothing signals it.
        while not await until(timed):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        persister.request_stop()
        await running
        cpu = self_cpu_s() - cpu0
    durations = sorted(timed.durations)
    return {
        "saved": timed.saved,
        "seconds": (timed.last - (timed.first or timed.last)),
        "first": timed.first or timed.last,
        "last": timed.last,
        "cpu_s": cpu,
        "batches": len(durations),
        "save_p50_s": report.percentile(durations, 0.5),
        "save_p99_s": report.percentile(durations, 0.99),
    }


async def worker(params: dict[str, Any]) -> dict[str, Any]:
    """Drain ``expected`` results (alone), or until the parent says stop (one of several
    members of the group: only the parent sees when they have stored them all)."""
    if params.get("members", 1) == 1:

        async def enough(timed: TimedRepository) -> bool:
            return timed.saved >= params["expected"]

        return await run_consumer(params, enough)
    told = asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

    async def told_to_stop(_timed: TimedRepository) -> bool:
        return told.done()

    return await run_consumer(params, told_to_stop)


async def committed_total(bootstrap: str, group: str, topic: str) -> int:
    """The group's committed offsets on ``topic``, summed (= results saved, since a batch's
    offsets are committed only after its database commit)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset > 0)


def drain(params: dict[str, Any], members: int) -> dict[str, Any]:
    """``members`` consumer processes in one group drain the topic; combined figures."""
    if members == 1:
        return procs.run_child(MODULE, params, timeout_s=900)
    children = [
        procs.spawn(MODULE, {**params, "members": members}, handshake=True) for _ in range(members)
    ]
    deadline = time.monotonic() + 900
    while (
        procs.run_async(
            committed_total(params["bootstrap"], params["group"], params["topic"]), uvloop=False
        )
        < params["expected"]
    ):
        if time.monotonic() > deadline or any(c.poll() is not None for c in children):
            for child in children:
                child.kill()
            raise RuntimeError("consumer members did not drain the topic")
        time.sleep(0.2)  # polling the group's committed offsets: nothing signals it
    for child in children:
        assert child.stdin is not None
        child.stdin.write("stop\n")
        child.stdin.close()
        child.stdin = None
    figures = [procs.collect(child, 120) for child in children]
    busy = [f for f in figures if f["saved"]]  # a member may have had nothing to save
    first, last = min(f["first"] for f in busy), max(f["last"] for f in busy)
    durations = [f["save_p50_s"] for f in busy]
    return {
        "saved": sum(f["saved"] for f in figures),
        "seconds": last - first,
        "first": first,
        "last": last,
        "cpu_s": sum(f["cpu_s"] for f in figures),
        "batches": sum(f["batches"] for f in figures),
        "save_p50_s": report.median(durations),
        "save_p99_s": max(f["save_p99_s"] for f in busy),
        "per_member": [f["saved"] for f in figures],
    }


def postgres_pids(pg: Any) -> list[int]:
    """The postmaster and its children (backends, WAL writer, checkpointer...)."""
    postmaster = int((pg.data_dir / "postmaster.pid").read_text().split()[0])
    return [postmaster, *children_of(postmaster)]


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    """CPU seconds per live pid."""
    out = {}
    for pid in pids:
        try:
            out[pid] = process_cpu_s(pid)
        except (OSError, ValueError, IndexError):
            continue
    return out


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two snapshots (processes born in between count whole)."""
    return sum(v - before.get(pid, 0.0) for pid, v in after.items())


class CpuSampler:
    """Samples the CPU of a changing set of processes (e.g. PostgreSQL backends that exit
    before the end) every ``period_s`` in a thread, keeping each pid's last value."""

    def __init__(self, pids: Any, period_s: float = 0.2) -> None:
        import threading

        self._pids = pids
        self._period = period_s
        self.first = cpu_by_pid(pids())
        self.last = dict(self.first)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._period):
            self.last.update(cpu_by_pid(self._pids()))

    def stop(self) -> float:
        """Stop sampling; return the CPU seconds used since the start."""
        self._stop.set()
        self._thread.join()
        self.last.update(cpu_by_pid(self._pids()))
        return cpu_delta(self.first, self.last)


def run(ctx: Any) -> dict[str, Any]:
    """Pre-fill once, drain ``ctx.runs`` times (fresh group and schema each time)."""
    count = 20_000 if ctx.quick else 1_000_000
    bootstrap = ctx.kafka_bootstrap()
    pg = ctx.postgres()
    topic = ctx.new_topic("bench-consumer", PARTITIONS)
    report.progress(f"consumer_throughput: pre-filling {count:,} results")
    fill_s = procs.run_async(prefill(bootstrap, topic, count), uvloop=False)
    report.progress(f"consumer_throughput: pre-filled in {fill_s:.1f} s")
    settings = procs.run_async(
        pg_settings(
            pg.dsn,
            [
                "server_version",
                "fsync",
                "synchronous_commit",
                "full_page_writes",
                "shared_buffers",
                "max_wal_size",
                "wal_level",
                "checkpoint_timeout",
            ],
        ),
        uvloop=False,
    )
    variants = {}
    for members in (1, 2):
        runs = [
            drain_once(ctx, bootstrap, topic, pg, count, members=members, run_no=run_no)
            for run_no in range(ctx.runs)
        ]
        variants[members] = {"summary": summarize(runs), "runs": runs}
    report.table(
        f"Consumer throughput ({count:,} results, {SITES:,} sites, {PARTITIONS} partitions, "
        "batch 5,000; medians)",
        [
            "consumer processes",
            "rows/s",
            "consumer us/row",
            "PostgreSQL us/row",
            "Kafka us/row",
            "save p50 s",
            "save p99 s",
            "load 1m",
        ],
        [
            [
                members,
                v["summary"]["rows_per_s"],
                v["summary"]["consumer_us_per_row"],
                v["summary"]["postgres_us_per_row"],
                v["summary"]["kafka_us_per_row"],
                v["summary"]["save_p50_s"],
                v["summary"]["save_p99_s"],
                v["summary"]["load_1m"],
            ]
            for members, v in variants.items()
        ],
    )
    return {
        "results": count,
        "sites": SITES,
        "partitions": PARTITIONS,
        "batch_size": 5000,
        "prefill_s": fill_s,
        "postgres_settings": settings,
        "summary": variants[1]["summary"],
        "by_processes": {str(members): v for members, v in variants.items()},
    }


def drain_once(
    ctx: Any, bootstrap: str, topic: str, pg: Any, count: int, *, members: int, run_no: int
) -> dict[str, Any]:
    """One drain of the whole topic by a fresh group into a fresh schema."""
    kafka_pid = ctx.kafka_pid()
    pg_cpu_sampler = CpuSampler(lambda: postgres_pids(pg))
    kafka0, load0 = cpu_by_pid([kafka_pid]), load_average()
    figure = drain(
        {
            "bootstrap": bootstrap,
            "topic": topic,
            "group": f"bench-{uuid.uuid4().hex[:8]}",
            "dsn": pg.dsn,
            "schema": f"bench_{run_no}_{members}_{uuid.uuid4().hex[:6]}",
            "expected": count,
            "batch_size": 5000,
            "uvloop": True,
        },
        members,
    )
    pg_cpu = pg_cpu_sampler.stop()
    kafka_cpu = cpu_delta(kafka0, cpu_by_pid([kafka_pid]))
    figure.update(
        members=members,
        rows_per_s=figure["saved"] / figure["seconds"],
        consumer_us_per_row=figure["cpu_s"] / figure["saved"] * 1e6,
        postgres_us_per_row=pg_cpu / figure["saved"] * 1e6,
        kafka_us_per_row=kafka_cpu / figure["saved"] * 1e6,
        load=[load0, load_average()],
    )
    report.progress(
        f"consumer_throughput, {members} process(es), run {run_no + 1}/{ctx.runs}: "
        f"{figure['rows_per_s']:,.0f} rows/s, consumer "
        f"{figure['consumer_us_per_row']:.1f} us/row, load {load0[0]}"
    )
    return figure


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over runs."""
    return {
        "rows_per_s": report.median([r["rows_per_s"] for r in runs]),
        "consumer_us_per_row": report.median([r["consumer_us_per_row"] for r in runs]),
        "postgres_us_per_row": report.median([r["postgres_us_per_row"] for r in runs]),
        "kafka_us_per_row": report.median([r["kafka_us_per_row"] for r in runs]),
        "save_p50_s": report.median([r["save_p50_s"] for r in runs]),
        "save_p99_s": report.median([r["save_p99_s"] for r in runs]),
        "load_1m": report.median([r["load"][0][0] for r in runs]),
    }


if __name__ == "__main__":
    procs.child_main(worker)
