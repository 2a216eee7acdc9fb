"""What the catalogue e2e tests share: the sites on the topic, producers that follow it, and
every result read back from the results topic with its start time."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.partitioner import DefaultPartitioner

from sitemon_adapters.bus.kafka import KafkaCatalogueEditor, KafkaConnection, ensure_topics
from sitemon_adapters.codec.avro import AvroCheckResultCodec
from sitemon_core.models import Site
from tests.e2e.procs import SitemonProcess, write_config

SITES_PARTITIONS = 12
SESSION_S = 6.0


def many_sites(n: int, url: str, interval_s: float, prefix: str = "s") -> list[Site]:
    """``n`` sites on ``url`` (a refused port: cheap checks that still publish a result)."""
    return [
        Site.http(id=f"{prefix}{i}", url=f"{url}{i}", interval_s=interval_s, timeout_s=1.0)
        for i in range(n)
    ]


def partition_of(site_id: str, partitions: int = SITES_PARTITIONS) -> int:
    """The partition the catalogue topic puts ``site_id`` in (the producer's own hash)."""
    every = list(range(partitions))
    return int(DefaultPartitioner()(site_id.encode(), every, every))


async def publish_sites(bootstrap: str, names: dict[str, str], sites: list[Site]) -> None:
    """Put ``sites`` on the test's catalogue topic (created compacted, 12 partitions)."""
    connection = KafkaConnection(bootstrap_servers=bootstrap)
    await ensure_topics(
        connection,
        [names["sites"]],
        partitions=SITES_PARTITIONS,
        replication_factor=1,
        topic_configs={"cleanup.policy": "compact"},
    )
    async with KafkaCatalogueEditor(connection, names["sites"]) as editor:
        await editor.write(sites, [])


def follower_config(
    tmp: Path, bootstrap: str, names: dict[str, str], region: str = "e2e", index: int = 0
) -> Path:
    """A producer config with ``sites: {source: kafka}``."""
    document: dict[str, Any] = {
        "sites": {"source": "kafka"},
        "scanner": {"region": region, "shutdown_grace": "3s", "max_concurrency": 512},
        "bus": {
            "kind": "kafka",
            "kafka": {
                "bootstrap_servers": bootstrap,
                "topic": names["topic"],
                "dead_letter_topic": names["dlq"],
                "sites_topic": names["sites"],
                "sites_partitions": SITES_PARTITIONS,
                "session_timeout": f"{SESSION_S:g}s",
            },
        },
    }
    return write_config(tmp / f"producer-{region}-{index}.yaml", document)


async def start_producers(config: Path, n: int) -> list[SitemonProcess]:
    """``n`` producers on one config (one group), no log line per check."""
    return [await SitemonProcess("producer", config, "--quiet").start() for _ in range(n)]


def last(proc: SitemonProcess, message: str, after: float = 0.0) -> dict[str, Any] | None:
    """The last log entry of ``proc`` with ``message`` written after ``after`` (epoch s)."""
    found = None
    for entry in proc.logs:
        if entry.get("msg") == message and stamp(entry) > after:
            found = entry
    return found


def stamp(entry: dict[str, Any]) -> float:
    """A log entry's time, epoch seconds."""
    return datetime.fromisoformat(entry["ts"]).timestamp()


def owned(procs: list[SitemonProcess], after: float = 0.0) -> list[int] | None:
    """Each producer's site count from its last assignment after ``after``; None until all
    of them have one."""
    counts = []
    for proc in procs:
        entry = last(proc, "sites assigned", after)
        if entry is None:
            return None
        counts.append(int(entry["sites"]))
    return counts


def owned_partitions(proc: SitemonProcess) -> set[int]:
    """The partitions of ``proc``'s last assignment."""
    entry = last(proc, "partitions assigned")
    assert entry is not None, proc.tail()
    return {int(name.rsplit("[", 1)[1].rstrip("]")) for name in entry["partitions"]}


class ResultsLog:
    """Reads the results topic from the beginning: ``starts[(site, region)]`` = start times."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._codec = AvroCheckResultCodec()
        self.starts: dict[tuple[str, str], list[float]] = defaultdict(list)
        self.outcomes: dict[tuple[str, str], str] = {}  # the latest check's outcome
        self.count = 0
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> ResultsLog:
        connection = KafkaConnection(bootstrap_servers=self._bootstrap)
        await ensure_topics(connection, [self._topic], partitions=6, replication_factor=1)
        self._consumer = AIOKafkaConsumer(
            self._topic, bootstrap_servers=self._bootstrap, auto_offset_reset="earliest"
        )
        await self._consumer.start()
        self._task = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None and self._consumer is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self._consumer.stop()

    async def _read(self) -> None:
        assert self._consumer is not None
        while True:
            fetched = await self._consumer.getmany(timeout_ms=200, max_records=10_000)
            for records in fetched.values():
                for record in records:
                    result = self._codec.decode(record.value)
                    self.starts[(result.site_id, result.region)].append(
                        result.started_at.timestamp()
                    )
                    self.outcomes[(result.site_id, result.region)] = result.outcome
                    self.count += 1

    def checked_after(self, site_ids: list[str], after: float, region: str = "e2e") -> bool:
        """Whether every one of ``site_ids`` has a check started after ``after``."""
        return all(any(t > after for t in self.starts[(i, region)]) for i in site_ids)

    def first_after(self, site_id: str, after: float, region: str = "e2e") -> float:
        """The start of the first check of ``site_id`` after ``after``."""
        return min(t for t in self.starts[(site_id, region)] if t > after)

    def duplicates(self, start: float, end: float, interval: float) -> tuple[int, int]:
        """(checks of one site closer than half an interval to the previous one, all checks)
        started in ``[start, end)``: a duplicate is a second check of the same grid slot."""
        dups = total = 0
        for times in self.starts.values():
            window = sorted(t for t in times if start <= t < end)
            total += len(window)
            dups += sum(1 for a, b in pairwise(window) if b - a < interval / 2)
        return dups, total


async def stop_all(procs: list[SitemonProcess]) -> None:
    """SIGTERM every producer still running (kill one that hangs)."""
    for proc in procs:
        try:
            await proc.stop(timeout=20)
        except TimeoutError:
            await proc.kill()
