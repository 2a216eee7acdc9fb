"""``consumer --workers N``: N members of one consumer group share the partitions."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from tests.e2e.conftest import consumer_config, kafka_section, producer_config
from tests.e2e.procs import SitemonProcess, message_is, wait_until, write_config


def _assignments(proc: SitemonProcess) -> dict[int, set[str]]:
    """Each worker's (by pid) latest partition assignment."""
    latest: dict[int, set[str]] = {}
    for entry in proc.logs:
        if entry.get("msg") == "partitions assigned":
            latest[int(entry["pid"])] = set(entry["partitions"])
    return latest


def _two_free_ports() -> int:
    """A port P with P and P + 1 both free right now."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return port
    raise AssertionError("no two consecutive free ports")


async def _saved(port: int) -> float:
    url = f"http://127.0.0.1:{port}/metrics"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        text = await response.text()
    return next(
        float(line.split()[1])
        for line in text.splitlines()
        if line.startswith("sitemon_persister_saved_total ")
    )


async def _history(pg: asyncpg.Connection) -> tuple[int, int]:
    try:
        row = await pg.fetchrow(
            "SELECT count(*) AS n, count(DISTINCT check_id) AS d FROM check_history"
        )
    except asyncpg.UndefinedTableError:
        return 0, 0
    return int(row["n"]), int(row["d"])


async def test_consumer_workers_share_the_partitions_and_store_each_result_once(
    tmp_path: Path,
    kafka_bootstrap: str,
    pg_dsn: str,
    target_base: str,
    names: dict[str, str],
    pg: asyncpg.Connection,
) -> None:
    sites = [
        {"id": f"cw{i}", "url": f"{target_base}/ok", "interval": "300ms", "timeout": "250ms"}
        for i in range(12)
    ]
    kafka: dict[str, Any] = kafka_section(kafka_bootstrap, names, partitions=4)
    producer_doc = producer_config(tmp_path, kafka_bootstrap, names, sites)
    producer_doc["bus"]["kafka"] = kafka
    consumer_doc = consumer_config(pg_dsn, kafka_bootstrap, names)
    consumer_doc["bus"]["kafka"] = kafka
    port = _two_free_ports()  # worker k serves /metrics on port + k
    consumer_doc["metrics"] = {"listen": f"127.0.0.1:{port}"}
    producer = SitemonProcess("producer", write_config(tmp_path / "p.yaml", producer_doc))
    consumers = SitemonProcess(
        "consumer", write_config(tmp_path / "c.yaml", consumer_doc), "--workers", "2"
    )
    all_partitions = {f"{names['topic']}[{p}]" for p in range(4)}
    await producer.start()
    await producer.wait_for(message_is("scanner started"), timeout=90)
    await consumers.start()
    try:

        async def shared() -> bool:
            got = _assignments(consumers)
            parts = list(got.values())
            return (
                len(got) == 2
                and all(parts)
                and not parts[0] & parts[1]
                and parts[0] | parts[1] == all_partitions
            )

        await wait_until(shared, 90, "two workers each owning a part of the 4 partitions")
        assert await producer.stop() == 0
        stopped = await producer.wait_for(message_is("scanner stopped"), timeout=5)
        published = int(stopped["published"])
        assert published > 0 and stopped["dropped"] == 0

        async def all_stored() -> bool:
            return (await _history(pg))[0] >= published

        await wait_until(all_stored, 60, f"{published} history rows")
        per_worker = [await _saved(port), await _saved(port + 1)]
        assert await consumers.stop() == 0
    finally:
        await producer.kill()
        await consumers.kill()
    rows, distinct = await _history(pg)
    assert rows == distinct == published
    done = [e for e in consumers.logs if e.get("msg") == "persister stopped"]
    assert len({e["pid"] for e in done}) == 2, consumers.tail()
    assert sum(int(e["saved"]) for e in done) >= published
    # Both endpoints answered (port and port + 1). Which worker saved what depends on when
    # the group split the partitions, so only the total is fixed: every result at least
    # once, and no more than the workers' own final counts.
    assert published <= sum(per_worker) <= sum(int(e["saved"]) for e in done), per_worker
