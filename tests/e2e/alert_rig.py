"""What the distributed alerting tests share: a target that fails per region or per path,
a webhook receiver that can hang or fail, configs, and Kafka/PostgreSQL probes.

Every wait is a condition with a deadline; the receiver and the target live on the test's
event loop, the sitemon processes are real children (``tests.e2e.procs``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiohttp import web

from tests.e2e.conftest import kafka_section

SECRET = "e2e-signing-secret"
INTERVAL = "250ms"  # every site's; thresholds of 2 make a verdict in about half a second


class RegionTarget:
    """One local site: ``/region`` fails (500) for the scanner regions named in ``failing``
    (each scanner's User-Agent ends with ``(<region>)``); ``/up`` always answers 200,
    ``/down`` always 500."""

    def __init__(self) -> None:
        self.failing: set[str] = set()
        self.base = ""
        self.agents: set[str] = set()

    async def region(self, request: web.Request) -> web.Response:
        agent = request.headers.get("User-Agent", "")
        self.agents.add(agent)
        down = any(agent.endswith(f"({name})") for name in self.failing)
        return web.Response(status=500 if down else 200, text="region target")

    @staticmethod
    async def up(_request: web.Request) -> web.Response:
        return web.Response(text="up")

    @staticmethod
    async def down(_request: web.Request) -> web.Response:
        return web.Response(status=500, text="down")


@dataclass(frozen=True)
class Received:
    """One notification request and what the receiver did with it."""

    at: float  # time.time() when its body was read
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int  # the status sent; 0 when it hung (the sender gave up first)

    @property
    def key(self) -> str:
        return self.headers.get("Idempotency-Key", "")

    @property
    def event(self) -> str:
        return str(json.loads(self.body).get("event", ""))

    @property
    def incident_id(self) -> str:
        return str(json.loads(self.body)["incident"]["id"])


@dataclass
class Receiver:
    """A webhook receiver whose behaviour the test switches: ``ok`` (200), ``hang`` (never
    answers while in that mode) or ``error`` (500)."""

    url: str = ""
    mode: str = "ok"
    received: list[Received] = field(default_factory=list)
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    def set_mode(self, mode: str) -> None:
        """Switch; requests hanging so far are let go (with a 503 nobody waits for)."""
        self.mode = mode
        self._release.set()
        self._release = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        at, mode = time.time(), self.mode
        answered = {"ok": 200, "error": 500}.get(mode, 0)
        self.received.append(Received(at, request.path, dict(request.headers), body, answered))
        if mode == "hang":
            await self._release.wait()
            return web.Response(status=503, text="hung")
        return web.Response(status=answered or 503, text=mode)

    def delivered(self, event: str | None = None) -> list[Received]:
        """Requests answered 200 (of one event, if given), oldest first."""
        return [
            r for r in self.received if r.answered == 200 and (event is None or r.event == event)
        ]


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    """Serve ``app`` on a free loopback port: (runner, base URL)."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def region_target() -> AsyncIterator[RegionTarget]:
    """The fixture body of ``RegionTarget``."""
    target = RegionTarget()
    app = web.Application()
    app.router.add_get("/region", target.region)
    app.router.add_get("/up", target.up)
    app.router.add_get("/down", target.down)
    runner, target.base = await serve(app)
    try:
        yield target
    finally:
        await runner.cleanup()


async def receiver() -> AsyncIterator[Receiver]:
    """The fixture body of ``Receiver``."""
    sink = Receiver()
    app = web.Application()
    app.router.add_post("/{tail:.*}", sink.handle)
    runner, sink.url = await serve(app)
    try:
        yield sink
    finally:
        sink.set_mode("ok")  # let hanging handlers end before the server stops
        await runner.cleanup()


def site(site_id: str, url: str) -> dict[str, Any]:
    return {"id": site_id, "url": url, "interval": INTERVAL, "timeout": "200ms"}


def producer_doc(
    bootstrap: str, names: dict[str, str], sites: list[dict[str, Any]], region: str
) -> dict[str, Any]:
    return {
        "scanner": {"region": region, "start_jitter": "100ms", "shutdown_grace": "3s"},
        "sites": sites,
        "bus": {"kind": "kafka", "kafka": kafka_section(bootstrap, names)},
    }


def alerter_doc(
    pg_dsn: str,
    bootstrap: str,
    names: dict[str, str],
    sites: list[dict[str, Any]],
    alerts: dict[str, Any],
) -> dict[str, Any]:
    """An alerter config: the same sites (their intervals and policies), incidents in the
    test's schema, its own consumer group (6 s sessions: a killed member is noticed soon)."""
    return {
        "sites": sites,
        "bus": {"kind": "kafka", "kafka": kafka_section(bootstrap, names, session_timeout="6s")},
        "repository": {"kind": "postgres", "postgres": {"dsn": pg_dsn, "schema": names["schema"]}},
        "alerts": {"group_id": f"{names['group']}-alerter", **alerts},
    }


def webhook(url: str) -> dict[str, Any]:
    return {"kind": "webhook", "url": url, "secret": SECRET}


async def fetch(pg: asyncpg.Connection, sql: str, *args: Any) -> list[asyncpg.Record]:
    """Rows of ``sql``, or none while the table does not exist yet."""
    try:
        return list(await pg.fetch(sql, *args))
    except asyncpg.UndefinedTableError:
        return []


async def count(pg: asyncpg.Connection, sql: str, *args: Any) -> int:
    rows = await fetch(pg, sql, *args)
    return int(rows[0][0]) if rows else 0


async def checks_since(pg: asyncpg.Connection, region: str, since: datetime, ok: bool) -> int:
    """Stored checks of ``region`` started after ``since`` with the given outcome."""
    return await count(
        pg,
        "SELECT count(*) FROM check_history WHERE region = $1 AND started_at > $2 AND ok = $3",
        region,
        since,
        ok,
    )


def now() -> datetime:
    return datetime.now(UTC)


async def committed_past(bootstrap: str, topic: str, group: str, ends: dict[int, int]) -> bool:
    """Whether ``group`` committed at least offset ``ends[p]`` on every partition ``p``."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    done = {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}
    return all(done.get(p, -1) >= end for p, end in ends.items() if end > 0)


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """The topic's end offset per partition, now."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            await consumer.topics()  # refresh the metadata once
            partitions = [
                TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()
            ]
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return {tp.partition: offset for tp, offset in ends.items()}


async def caught_up(bootstrap: str, names: dict[str, str], timeout: float = 30.0) -> None:
    """Wait until the alerter's group has committed every result published so far (so the
    alerter has handled them: it commits only after storing what they changed)."""
    from tests.e2e.procs import wait_until

    ends = await end_offsets(bootstrap, names["topic"])
    group = f"{names['group']}-alerter"

    async def done() -> bool:
        return await committed_past(bootstrap, names["topic"], group, ends)

    await wait_until(done, timeout, f"the alerter to commit {ends}", interval=0.3)


def condition(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    """A synchronous check as the async condition ``wait_until`` polls."""

    async def poll() -> bool:
        return check()

    return poll
