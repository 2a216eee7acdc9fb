"""Scenario 6 — alert latency: the confirming check's start to the notification received,
while the pipeline carries the end-to-end load; and the alerter's CPU per result.

Four processes besides the farm: a producer (``Scanner`` + the real Kafka publisher) checking
``rate x 10 s`` farm sites every 10 s plus ``flappers`` sites every 0.5 s on a local *rig*;
the consumer of the end-to-end scenario (the real persister into PostgreSQL); an alerter (the
real ``Alerter`` + ``Dispatcher`` + ``KafkaStatusSubscriber`` in its own group, incidents in
``PostgresIncidentRepository``, a ``WebhookNotifier``); and the rig. The rig's flapper
sites fail for ``PHASE_S`` then answer 200 for ``PHASE_S``, phases staggered across sites,
so incidents open and close all the time (thresholds 2 and 2: never flapping by Nagios's
rule); the rig is also the webhook receiver. A FIRING's latency is the receive time minus
the incident's ``opened_at`` (the confirming check's ``started_at``), a RESOLVED's minus its
``resolved_at``: both clocks are this machine's wall clock. CPU per result is the alerter
process's own CPU (Kafka fetch and Avro decoding, state machine, PostgreSQL writes, sends)
over the results it handled: at a low rate its fixed costs (polls, heartbeats, one database
round trip per incident change and per send) dominate. The *full speed* figure is the
same process draining a pre-filled topic (every fixed cost amortised); the *core* figure is
the part of it without I/O: Avro decoding + the ``Alerter`` use case over 10 rounds of checks
of 100,000 sites (10,000 quick), 2 % failing, with an in-memory outbox, in one process.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from benchmarks import procs, report
from benchmarks.consumer_throughput import run_consumer
from benchmarks.farm import FARM_MARKER
from benchmarks.sites import farm_sites, open_prober, prober_names, run_scanner_for
from benchmarks.system import load_average, self_cpu_s

MODULE = "benchmarks.alert_latency"
INTERVAL_S = 10.0
FLAP_INTERVAL_S = 0.5
PHASE_S = 3.0
SECRET = "bench-secret"


async def rig(params: dict[str, Any]) -> dict[str, Any]:
    """Flapper sites and the webhook receiver, until ``stop_at``; the latencies seen."""
    import json
    from datetime import datetime

    from aiohttp import web

    samples: dict[str, list[tuple[float, float]]] = {"firing": [], "resolved": []}
    period, count = 2 * PHASE_S, params["flappers"]

    async def flap(request: web.Request) -> web.Response:
        offset = int(request.match_info["i"]) * period / count
        down = (time.time() + offset) % period < PHASE_S
        return web.Response(status=500 if down else 200, text="flap")

    async def hook(request: web.Request) -> web.Response:
        at = time.time()
        body = json.loads(await request.read())
        incident, event = body["incident"], body["event"]
        field = {"firing": "opened_at", "resolved": "resolved_at"}.get(event)
        if field is not None:
            began = datetime.fromisoformat(incident[field]).timestamp()
            samples[event].append((began, at - began))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/flap/{i}", flap)
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", params["rig_port"], backlog=1024).start()
    try:
        await asyncio.sleep(max(0.0, params["stop_at"] - time.time()))
    finally:
        await runner.cleanup()
    return samples


async def producer(params: dict[str, Any]) -> dict[str, Any]:
    """The scanner over the farm sites and the flappers, with the real Kafka publisher."""
    from sitemon_adapters.bus.kafka import KafkaConnection, KafkaStatusPublisher
    from sitemon_adapters.clock import SystemClock
    from sitemon_core.models import Site
    from sitemon_core.scanner import Scanner

    ports = params["ports"]
    urls = [f"http://127.0.0.1:{ports[i % len(ports)]}/site/{i}" for i in range(params["sites"])]
    sites = farm_sites(urls, interval_s=INTERVAL_S, regex=FARM_MARKER)
    rig_url = f"http://127.0.0.1:{params['rig_port']}/flap"
    flappers = [f"{rig_url}/{i}" for i in range(params["flappers"])]
    sites += [
        Site.http(id=f"flap-{i}", url=url, interval_s=FLAP_INTERVAL_S, timeout_s=0.4)
        for i, url in enumerate(flappers)
    ]
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
    return {"published": stats.published, "dropped": stats.dropped, "cpu_s": cpu}


async def consumer(params: dict[str, Any]) -> dict[str, Any]:
    """The real persister, until ``stop_at``."""

    async def done(_timed: Any) -> bool:
        return time.time() > params["stop_at"]

    return await run_consumer(params, done)


def _sites(params: dict[str, Any]) -> dict[str, Any]:
    from sitemon_core.alerting.policy import AlertPolicy, SiteAlerting

    policy = AlertPolicy(failure_threshold=2, success_threshold=2, notifiers=("hook",))
    flapper = SiteAlerting(policy=policy, interval_s=FLAP_INTERVAL_S)
    return {f"flap-{i}": flapper for i in range(params["flappers"])}


async def alerter(params: dict[str, Any]) -> dict[str, Any]:
    """The real alerter and dispatcher in their own group, until ``stop_at``."""
    from sitemon_adapters.bus.kafka import KafkaConnection, KafkaStatusSubscriber
    from sitemon_adapters.clock import SystemClock
    from sitemon_adapters.notify.webhook import WebhookNotifier
    from sitemon_adapters.store.postgres.incidents import PostgresIncidentRepository
    from sitemon_core.alerting.alerter import Alerter
    from sitemon_core.alerting.dispatcher import Dispatcher
    from sitemon_core.alerting.policy import SiteAlerting

    clock = SystemClock()
    connection = KafkaConnection(bootstrap_servers=params["bootstrap"])
    hook_url = f"http://127.0.0.1:{params['rig_port']}/hook"
    async with (
        KafkaStatusSubscriber(
            connection, params["topic"], params["group"], start_from="latest"
        ) as subscriber,
        PostgresIncidentRepository(params["dsn"], schema=params["schema"], pool_max=2) as repo,
        WebhookNotifier(hook_url, SECRET, name="hook", clock=clock) as webhook,
    ):
        await repo.migrate()
        dispatcher = Dispatcher(repo, {"hook": webhook}, clock)
        use_case = Alerter(
            subscriber,
            repo,
            clock,
            sites=_sites(params),
            default=SiteAlerting(interval_s=INTERVAL_S),
            on_queued=dispatcher.wake,
        )
        cpu0, began = self_cpu_s(), time.monotonic()
        running = asyncio.gather(use_case.run(), dispatcher.run())
        await asyncio.sleep(max(0.0, params["stop_at"] - time.time()))
        use_case.request_stop()
        dispatcher.request_stop()
        stats, sent = await running
        cpu, seconds = self_cpu_s() - cpu0, time.monotonic() - began
    return {
        "seconds": seconds,
        "results": stats.results,
        "incidents_opened": stats.incidents_opened,
        "delivered": sent.delivered,
        "failed": sent.failed,
        "cpu_s": cpu,
    }


class _Replay:
    """A subscriber replaying Avro payloads in batches (decoded on receive, as the Kafka
    adapter does), stopping the alerter when they are all handed out."""

    def __init__(self, payloads: list[bytes], batch: int) -> None:
        from sitemon_adapters.codec.avro import AvroCheckResultCodec

        self._codec = AvroCheckResultCodec()
        self._chunks = [payloads[i : i + batch] for i in range(0, len(payloads), batch)]
        self.on_end: Any = None  # the alerter's request_stop

    async def receive(self, max_results: int, timeout_s: float) -> Any:
        from sitemon_core.ports import Batch

        if not self._chunks:
            self.on_end()
            return Batch(())
        chunk = self._chunks.pop(0)
        return Batch(tuple(self._codec.decode(data) for data in chunk), token=len(chunk))

    async def acknowledge(self, batch: Any) -> None:
        """Nothing to commit."""


async def core(params: dict[str, Any]) -> dict[str, Any]:
    """The alerter's own cost, without I/O: Avro decoding + the use case over ``count``
    results of ``sites`` sites (2 % failing: incidents open, notifications are queued in
    the in-memory outbox); decoding alone measured apart."""
    from benchmarks.consumer_throughput import sample_results
    from sitemon_adapters.clock import SystemClock
    from sitemon_adapters.codec.avro import AvroCheckResultCodec
    from sitemon_adapters.store.memory_incidents import InMemoryIncidentRepository
    from sitemon_core.alerting.alerter import Alerter
    from sitemon_core.alerting.policy import AlertPolicy, SiteAlerting

    codec = AvroCheckResultCodec()
    payloads = [codec.encode(r) for r in sample_results(params["count"], params["sites"])]
    began = time.process_time()
    for data in payloads:
        codec.decode(data)
    decode_s = time.process_time() - began
    repository = InMemoryIncidentRepository()
    default = SiteAlerting(policy=AlertPolicy(notifiers=("hook",)), interval_s=60.0)
    replay = _Replay(payloads, 5000)
    use_case = Alerter(replay, repository, SystemClock(), sites={}, default=default)
    replay.on_end = use_case.request_stop
    began = time.process_time()
    stats = await use_case.run()
    total_s = time.process_time() - began
    return {
        "results": stats.results,
        "incidents_opened": stats.incidents_opened,
        "decode_us": 1e6 * decode_s / len(payloads),
        "alerter_us": 1e6 * total_s / max(1, stats.results),
    }


async def drain(params: dict[str, Any]) -> dict[str, Any]:
    """The alerter process at full speed: its own group drains a pre-filled topic (Kafka
    fetch, Avro, the use case, incidents stored in PostgreSQL); CPU per result."""
    from sitemon_adapters.bus.kafka import KafkaConnection, KafkaStatusSubscriber
    from sitemon_adapters.clock import SystemClock
    from sitemon_adapters.store.postgres.incidents import PostgresIncidentRepository
    from sitemon_core.alerting.alerter import Alerter
    from sitemon_core.alerting.policy import AlertPolicy, SiteAlerting

    connection = KafkaConnection(bootstrap_servers=params["bootstrap"])
    async with (
        KafkaStatusSubscriber(connection, params["topic"], params["group"]) as subscriber,
        PostgresIncidentRepository(params["dsn"], schema=params["schema"], pool_max=2) as repo,
    ):
        await repo.migrate()
        # Results of one site are a minute apart: 2 failures in a row make an incident.
        policy = AlertPolicy(failure_threshold=2)
        use_case = Alerter(
            subscriber, repo, SystemClock(), sites={}, default=SiteAlerting(policy=policy)
        )
        cpu0, began = self_cpu_s(), time.monotonic()
        running = asyncio.create_task(use_case.run())
        # A counter, polled: nothing signals it.
        while use_case.stats.results < params["expected"] and not running.done():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        use_case.request_stop()
        stats = await running
        cpu, seconds = self_cpu_s() - cpu0, time.monotonic() - began
    return {
        "results": stats.results,
        "incidents_opened": stats.incidents_opened,
        "seconds": seconds,
        "us_per_result": 1e6 * cpu / max(1, stats.results),
    }


async def child(params: dict[str, Any]) -> dict[str, Any]:
    """One role, by ``params['role']``."""
    roles = {
        "rig": rig,
        "producer": producer,
        "consumer": consumer,
        "alerter": alerter,
        "core": core,
        "drain": drain,
    }
    return await roles[params["role"]](params)


def measure(ctx: Any, prober: str, rate: int, warmup_s: float, window_s: float) -> dict[str, Any]:
    """One run of the four processes; latencies of the notifications whose confirming
    check started inside the window."""
    from devservices.ports import free_port

    bootstrap, pg = ctx.kafka_bootstrap(), ctx.postgres()
    topic = ctx.new_topic("bench-alert")
    suffix = uuid.uuid4().hex[:8]
    duration = warmup_s + window_s
    flappers = max(10, rate // 40)
    common = {"bootstrap": bootstrap, "topic": topic, "dsn": pg.dsn, "rig_port": free_port()}
    stop_at = time.time() + 3.0 + duration + 3.0
    load0 = load_average()
    children = {
        "rig": procs.spawn(
            MODULE, {**common, "role": "rig", "flappers": flappers, "stop_at": stop_at + 2}
        ),
        "consumer": procs.spawn(
            MODULE,
            {
                **common,
                "role": "consumer",
                "schema": f"alert_{suffix}",
                "group": f"p-{suffix}",
                "batch_size": 5000,
                "stop_at": stop_at,
            },
        ),
        "alerter": procs.spawn(
            MODULE,
            {
                **common,
                "role": "alerter",
                "schema": f"alert_{suffix}",
                "group": f"a-{suffix}",
                "flappers": flappers,
                "stop_at": stop_at,
            },
        ),
    }
    time.sleep(3.0)  # the consumer and the alerter join their groups (the alerter: latest)
    start = time.time()
    prod = procs.spawn(
        MODULE,
        {
            **common,
            "role": "producer",
            "prober": prober,
            "sites": int(rate * INTERVAL_S),
            "flappers": flappers,
            "duration_s": duration,
            "ports": ctx.farm.http_ports,
        },
    )
    produced = procs.collect(prod, timeout_s=duration + 120)
    results = {name: procs.collect(proc, timeout_s=120) for name, proc in children.items()}
    since, until = start + warmup_s, start + duration
    latencies = {
        event: sorted(delay for began, delay in samples if since <= began < until)
        for event, samples in results["rig"].items()
    }
    handled = results["alerter"]["results"]
    return {
        "target_rate": rate + flappers / FLAP_INTERVAL_S,
        "published_rate": produced["published"] / duration,
        "flappers": flappers,
        "latency": latencies,
        "alerter": results["alerter"],
        "alerter_us_per_result": 1e6 * results["alerter"]["cpu_s"] / max(1, handled),
        "alerter_cores": results["alerter"]["cpu_s"] / results["alerter"]["seconds"],
        "producer": produced,
        "consumer": {k: v for k, v in results["consumer"].items() if k != "first"},
        "load": [load0, load_average()],
    }


def _summary(prober: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    firing = sorted(d for r in runs for d in r["latency"]["firing"])
    resolved = sorted(d for r in runs for d in r["latency"]["resolved"])
    both = sorted(firing + resolved)
    return {
        "variant": f"{prober} @ {runs[0]['target_rate']:,.0f}/s",
        "checks_per_s": report.median([r["published_rate"] for r in runs]),
        "notifications": len(both),
        "p50_s": report.percentile(both, 0.5),
        "p99_s": report.percentile(both, 0.99),
        "max_s": both[-1] if both else None,
        "firing_p50_s": report.percentile(firing, 0.5),
        "resolved_p50_s": report.percentile(resolved, 0.5),
        "us_per_result": report.median([r["alerter_us_per_result"] for r in runs]),
        "alerter_cores": report.median([r["alerter_cores"] for r in runs]),
        "load_1m": report.median([r["load"][0][0] for r in runs]),
    }


def run(ctx: Any) -> dict[str, Any]:
    """The last prober (curl when installed) at the end-to-end rate, ``ctx.runs`` times."""
    rate = 200 if ctx.quick else 2000
    warmup_s, window_s = (4.0, 12.0) if ctx.quick else (15.0, 60.0)
    prober = prober_names()[-1]
    runs = []
    for run_no in range(ctx.runs):
        figure = measure(ctx, prober, rate, warmup_s, window_s)
        runs.append(figure)
        report.progress(
            f"alert_latency run {run_no + 1}/{ctx.runs} {prober}: "
            f"{figure['published_rate']:.0f} checks/s, "
            f"{len(figure['latency']['firing'])} firing + "
            f"{len(figure['latency']['resolved'])} resolved, "
            f"alerter {figure['alerter_us_per_result']:.1f} µs/result"
        )
    sites = 10_000 if ctx.quick else 100_000
    own = procs.run_child(MODULE, {"role": "core", "count": 10 * sites, "sites": sites}, 600)
    report.progress(
        f"alert_latency core: {own['alerter_us']:.1f} µs/result with Avro decoding "
        f"({own['decode_us']:.1f} of it), {own['results']:,} results of {sites:,} sites"
    )
    drained = _drain(ctx, 200_000 if ctx.quick else 1_000_000)
    summary = {
        **_summary(prober, runs),
        "core_us": own["alerter_us"],
        "decode_us": own["decode_us"],
        "drain_us": drained["us_per_result"],
    }
    s = summary
    report.table(
        "Alert latency: confirming check start -> webhook received (firing and resolved)",
        [
            "variant",
            "checks/s",
            "notifications",
            "p50 s",
            "p99 s",
            "max s",
            "alerter µs/result",
            "full speed µs/result",
            "core µs/result (decode)",
            "alerter cores",
            "load 1m",
        ],
        [
            [
                s["variant"],
                s["checks_per_s"],
                s["notifications"],
                _s(s["p50_s"]),
                _s(s["p99_s"]),
                _s(s["max_s"]),
                s["us_per_result"],
                f"{s['drain_us']:.1f}",
                f"{s['core_us']:.1f} ({s['decode_us']:.1f})",
                s["alerter_cores"],
                s["load_1m"],
            ]
        ],
    )
    return {
        "rate": rate,
        "warmup_s": warmup_s,
        "window_s": window_s,
        "summary": [summary],
        "core": own,
        "drain": drained,
        "runs": runs,
    }


def _drain(ctx: Any, count: int) -> dict[str, Any]:
    """An alerter process draining ``count`` results pre-filled by consumer_throughput's
    ``prefill`` (2 % of them failing, several results per site)."""
    from benchmarks.consumer_throughput import prefill

    topic = ctx.new_topic("bench-alert-drain")
    report.progress(f"alert_latency: pre-filling {count:,} results")
    procs.run_async(prefill(ctx.kafka_bootstrap(), topic, count), uvloop=False)
    suffix = uuid.uuid4().hex[:8]
    params = {
        "role": "drain",
        "bootstrap": ctx.kafka_bootstrap(),
        "topic": topic,
        "group": f"d-{suffix}",
        "dsn": ctx.postgres().dsn,
        "schema": f"drain_{suffix}",
        "expected": count,
    }
    drained = procs.run_child(MODULE, params, 900)
    report.progress(
        f"alert_latency drain: {drained['us_per_result']:.1f} µs/result, "
        f"{drained['results'] / drained['seconds']:,.0f} results/s, "
        f"{drained['incidents_opened']:,} incidents"
    )
    return drained


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    procs.child_main(child)
