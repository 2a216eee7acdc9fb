"""Every SQL example in README.md runs as written against what the shipped configs store.

A short producer → Kafka → consumer → PostgreSQL run checks the shipped example configs'
sites under their own ids (the ids the configs derive or name), each pointed at a local
target so no internet is needed; then each ```sql block of the README runs in the test's
schema and must return rows.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from sitemon_cli.config import load_config
from tests.e2e.conftest import consumer_config, producer_config
from tests.e2e.procs import SitemonProcess, message_is, wait_until, write_config

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = [*sorted((ROOT / "example_config").glob("*.yaml")), ROOT / "compose" / "producer.yaml"]
SQL_BLOCK = re.compile(r"^```sql\n(.*?)^```", re.MULTILINE | re.DOTALL)


@pytest.fixture(autouse=True)
def compose_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """compose/producer.yaml takes its broker from the environment, with no default."""
    if not os.environ.get("SITEMON_KAFKA_BOOTSTRAP"):
        monkeypatch.setenv("SITEMON_KAFKA_BOOTSTRAP", "kafka:9092")


def readme_sql() -> list[str]:
    """The body of every ```sql block in README.md, in order."""
    return SQL_BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8"))


def shipped_site_ids() -> set[str]:
    """The site ids the shipped configs store (their sites, as the loader reads them)."""
    return {site.id for path in SHIPPED for site in load_config(path).sites}


def local_sites(base: str) -> list[dict[str, Any]]:
    """The shipped sites under their own ids, each checking a local target that is up."""
    return [
        {"id": site_id, "url": f"{base}/ok", "interval": "1s", "timeout": "700ms"}
        for site_id in sorted(shipped_site_ids())
    ]


def test_readme_has_the_sql_examples() -> None:
    """The e2e test below must have something to run: the latest-status and history ones."""
    blocks = readme_sql()
    assert len(blocks) >= 2
    assert any("FROM site_status" in block for block in blocks)
    assert any("FROM check_history" in block for block in blocks)


def test_shipped_configs_store_the_readme_example_site() -> None:
    """The history example names a site id the shipped configs really store."""
    named = {
        literal
        for block in readme_sql()
        for literal in re.findall(r"site_id\s*=\s*'([^']*)'", block)
    }
    assert named and named <= shipped_site_ids(), named


async def test_every_readme_sql_example_returns_rows(
    tmp_path: Path,
    kafka_bootstrap: str,
    pg_dsn: str,
    target_base: str,
    names: dict[str, str],
    pg: asyncpg.Connection,
) -> None:
    sites = local_sites(target_base)
    producer = SitemonProcess(
        "producer",
        write_config(tmp_path / "p.yaml", producer_config(tmp_path, kafka_bootstrap, names, sites)),
    )
    consumer = SitemonProcess(
        "consumer",
        write_config(tmp_path / "c.yaml", consumer_config(pg_dsn, kafka_bootstrap, names)),
    )
    await consumer.start()
    await producer.start()
    try:
        await producer.wait_for(message_is("scanner started"), timeout=60)
        await wait_until(lambda: _sites_stored(pg, len(sites)), 60, "every site stored")
        assert await producer.stop() == 0
        assert await consumer.stop() == 0
    finally:
        await producer.kill()
        await consumer.kill()

    # The incident examples need an incident: tests/e2e/test_alerting_embedded.py runs them.
    history_blocks = [block for block in readme_sql() if "incidents" not in block]
    for block in history_blocks:  # the pg connection's search_path is the test's schema
        rows = await pg.fetch(block)
        assert rows, f"no rows from the README's\n{block}"


async def _sites_stored(pg: asyncpg.Connection, n: int) -> bool:
    try:
        stored = await pg.fetchval("SELECT count(DISTINCT site_id) FROM check_history")
    except asyncpg.UndefinedTableError:
        return False
    return int(stored) >= n
