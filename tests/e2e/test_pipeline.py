"""Producer and consumer as separate OS processes: targets → Kafka → PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import asyncpg

from tests.e2e.conftest import consumer_config, producer_config
from tests.e2e.procs import SitemonProcess, message_is, wait_until, write_config


def behaviour_sites(base: str, refused: str) -> list[dict[str, Any]]:
    common = {"interval": "1s", "timeout": "700ms"}
    return [
        {"id": "ok", "url": f"{base}/ok", "tags": ["team=web", "prod"], **common},
        {"id": "not-found", "url": f"{base}/status/404", **common},
        {"id": "server-error", "url": f"{base}/status/500", **common},
        {"id": "slow", "url": f"{base}/slow/5", **common},
        {"id": "regex-hit", "url": f"{base}/ok", "regex": "target ok", **common},
        {"id": "regex-miss", "url": f"{base}/ok", "regex": "maintenance", **common},
        {"id": "refused", "url": refused, **common},
    ]


EXPECTED = {  # site -> (ok, status_code, error_kind, regex_matched)
    "ok": (True, 200, "none", None),
    "not-found": (False, 404, "none", None),
    "server-error": (False, 500, "none", None),
    "slow": (False, None, "timeout", None),
    "regex-hit": (True, 200, "none", True),
    "regex-miss": (False, 200, "none", False),
    "refused": (False, None, "connect", None),
}


OUTCOMES = {
    "ok": "up",
    "not-found": "bad_status",
    "server-error": "bad_status",
    "slow": "timeout",
    "regex-hit": "up",
    "regex-miss": "regex_miss",
    "refused": "connect",
}


async def test_results_flow_from_producer_to_postgres(
    tmp_path: Path,
    kafka_bootstrap: str,
    pg_dsn: str,
    target_base: str,
    refused_url: str,
    names: dict[str, str],
    pg: asyncpg.Connection,
) -> None:
    sites = behaviour_sites(target_base, refused_url)
    producer = SitemonProcess(
        "producer",
        write_config(
            tmp_path / "producer.yaml", producer_config(tmp_path, kafka_bootstrap, names, sites)
        ),
    )
    consumer = SitemonProcess(
        "consumer",
        write_config(tmp_path / "consumer.yaml", consumer_config(pg_dsn, kafka_bootstrap, names)),
    )
    await consumer.start()
    await producer.start()
    try:
        await producer.wait_for(lambda e: e.get("msg") == "scanner started", timeout=60)
        # Let every site be checked at least three times, then stop the producer.
        await wait_until(lambda: _checks_logged(producer, len(sites) * 3), 60, "checks")
        assert await producer.stop() == 0
        stopped = await producer.wait_for(message_is("scanner stopped"), timeout=5)
        published = stopped["published"]
        assert published >= len(sites) * 3 and stopped["dropped"] == 0

        async def stored() -> bool:
            return await _count(pg, "check_history") == published

        await wait_until(stored, 60, f"{published} history rows")
        assert await consumer.stop() == 0
        await consumer.wait_for(message_is("persister stopped"), timeout=5)
    finally:
        await producer.kill()
        await consumer.kill()

    assert await pg.fetchval("SELECT count(DISTINCT check_id) FROM check_history") == published
    # A normal start logs no ERROR (the group forming is retried by aiokafka, not a failure)
    # and names partitions the way people read them.
    for proc in (producer, consumer):
        assert [e for e in proc.logs if e.get("level") == "error"] == [], proc.tail()
    assigned = [e for e in consumer.logs if e.get("msg") == "partitions assigned"]
    assert assigned and all(
        re.fullmatch(re.escape(names["topic"]) + r"\[\d+\]", name)
        for entry in assigned
        for name in entry["partitions"]
    ), assigned
    latest = {r["site_id"]: r for r in await pg.fetch("SELECT * FROM site_status")}
    assert set(latest) == set(EXPECTED)
    for site_id, (ok, status, kind, regex) in EXPECTED.items():
        row = latest[site_id]
        assert (row["ok"], row["status_code"], row["error_kind"], row["regex_matched"]) == (
            ok,
            status,
            kind,
            regex,
        ), site_id
    newest = await pg.fetch(
        "SELECT site_id, max(started_at) AS t FROM check_history GROUP BY site_id"
    )
    assert {r["site_id"]: r["t"] for r in newest} == {k: v["started_at"] for k, v in latest.items()}
    # The outcome tells a 404 from a regex miss; the site's tags travel with every result.
    assert {k: (v["outcome"], v["tags"]) for k, v in latest.items()} == {
        site_id: (outcome, ["prod", "team=web"] if site_id == "ok" else [])
        for site_id, outcome in OUTCOMES.items()
    }
    assert await pg.fetchval("SELECT count(*) FROM check_history WHERE outcome IS NULL") == 0
    # Every row is in today's day partition (made ahead at start), none in the default one.
    kept = await consumer.wait_for(message_is("partitions stopped"), timeout=5)
    assert kept["rounds"] >= 1 and kept["default_rows"] == 0 and kept["failures"] == 0
    assert await pg.fetchval("SELECT count(*) FROM check_history_default") == 0
    assert (
        await pg.fetchval(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'check_history'::regclass"
        )
        >= 4
    )  # today, two days ahead, the default partition


async def _checks_logged(proc: SitemonProcess, n: int) -> bool:
    return proc.count(lambda e: e.get("logger") == "sitemon.check") >= n


async def _count(pg: asyncpg.Connection, table: str) -> int:
    try:
        return int(await pg.fetchval(f"SELECT count(*) FROM {table}"))
    except asyncpg.UndefinedTableError:
        return 0


async def test_init_creates_topics_and_schema_once(
    tmp_path: Path,
    kafka_bootstrap: str,
    pg_dsn: str,
    names: dict[str, str],
    pg: asyncpg.Connection,
) -> None:
    import subprocess
    import sys

    from aiokafka.admin import AIOKafkaAdminClient

    config = write_config(tmp_path / "c.yaml", consumer_config(pg_dsn, kafka_bootstrap, names))
    cli = [sys.executable, "-m", "sitemon_cli.main", "init", "-c", str(config)]

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(cli, capture_output=True, text=True, timeout=120)

    first = await asyncio.to_thread(run)
    assert first.returncode == 0, first.stderr
    assert f"kafka topics: {names['topic']}, {names['dlq']}" in first.stdout
    again = await asyncio.to_thread(run)
    assert again.returncode == 0 and "kafka topics: already present" in again.stdout

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([names["topic"]])
    finally:
        await admin.close()
    assert len(described[0]["partitions"]) == 3
    tables = {
        r["table_name"]
        for r in await pg.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1",
            names["schema"],
        )
    }
    assert {"check_history", "site_region_status", "site_status"} <= tables


async def test_workers_split_the_sites_between_processes(
    tmp_path: Path,
    kafka_bootstrap: str,
    pg_dsn: str,
    target_base: str,
    names: dict[str, str],
    pg: asyncpg.Connection,
) -> None:
    sites = [
        {"id": f"w{i}", "url": f"{target_base}/ok", "interval": "500ms", "timeout": "400ms"}
        for i in range(12)
    ]
    producer = SitemonProcess(
        "producer",
        write_config(tmp_path / "p.yaml", producer_config(tmp_path, kafka_bootstrap, names, sites)),
        "--workers",
        "2",
    )
    consumer = SitemonProcess(
        "consumer",
        write_config(tmp_path / "c.yaml", consumer_config(pg_dsn, kafka_bootstrap, names)),
    )
    await consumer.start()
    await producer.start()
    try:

        async def every_site_stored() -> bool:
            return await _count(pg, "site_status") == len(sites)

        await wait_until(every_site_stored, 90, "a row for every site")
        assert await producer.stop() == 0
        assert await consumer.stop() == 0
    finally:
        await producer.kill()
        await consumer.kill()
    started = [e for e in producer.logs if e.get("msg") == "scanner started"]
    stopped = [e for e in producer.logs if e.get("msg") == "scanner stopped"]
    assert len(started) == len(stopped) == 2
    assert sorted(e["sites"] for e in started) != [0, len(sites)]
    assert sum(e["sites"] for e in started) == len(sites)
