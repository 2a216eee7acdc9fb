"""``site_status`` as a view over ``site_region_status`` (migration 0009), on the real
PostgreSQL: the upgrade keeps the newest result of every site, whichever table held it,
and after it a result is written once as "latest" while readers keep their table name."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg  # type: ignore[import-untyped]
import pytest

from sitemon_adapters.store.postgres import PostgresStatusRepository, load_migrations
from sitemon_adapters.store.postgres.migrations import _apply, _bootstrap, quote_ident
from sitemon_adapters.store.postgres.rows import COLUMN_LIST, COLUMNS, result_to_record
from sitemon_core.models import CheckResult

pytestmark = pytest.mark.timeout(120)

T0 = datetime(2026, 3, 10, 12, tzinfo=UTC)


def result(site_id: str, region: str, seconds: int, **fields: object) -> CheckResult:
    """A result of ``site_id`` in ``region``, ``seconds`` after T0, with a random id."""
    values: dict[str, object] = {
        "check_id": uuid.uuid4().hex,
        "site_id": site_id,
        "url": f"https://{site_id}.example/",
        "region": region,
        "started_at": T0 + timedelta(seconds=seconds),
        "ok": True,
        "total_ms": 10.0 + seconds,
        "status_code": 200,
        **fields,
    }
    return CheckResult(**values)  # type: ignore[arg-type]


@pytest.fixture
async def schema(pg_dsn: str) -> AsyncIterator[str]:
    """A fresh schema name; dropped after the test."""
    name = f"View {uuid.uuid4().hex[:10]}"
    yield name
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(name)} CASCADE")
    finally:
        await conn.close()


async def _at_version_8(
    pg_dsn: str, schema: str, status: list[CheckResult], region: list[CheckResult]
) -> None:
    """``schema`` as migrations 1-8 left it, ``status`` in site_status and ``region`` in
    site_region_status (as persisters of different releases may have left them)."""
    placeholders = ", ".join(f"${i + 1}" for i in range(len(COLUMNS)))
    conn = await asyncpg.connect(pg_dsn, server_settings={"search_path": quote_ident(schema)})
    try:
        await _bootstrap(conn, schema)
        for migration in load_migrations()[:8]:
            assert await _apply(conn, schema, migration)
        for table, rows in (("site_status", status), ("site_region_status", region)):
            await conn.executemany(
                f"INSERT INTO {table} ({COLUMN_LIST}) VALUES ({placeholders})",
                [result_to_record(r) for r in rows],
            )
    finally:
        await conn.close()


async def test_the_upgrade_keeps_every_sites_newest_result_from_either_table(
    pg_dsn: str, schema: str
) -> None:
    # a: site_status is newer (saved by a persister older than version 6);
    # b: only site_status knows it; c: site_region_status is newer; d: two regions.
    a_old, a_new = result("a", "eu", 0), result("a", "eu", 60, ok=False)
    b = result("b", "us", 5)
    c_old, c_new = result("c", "eu", 0), result("c", "eu", 30)
    d_eu, d_us = result("d", "eu", 10), result("d", "us", 20)
    await _at_version_8(pg_dsn, schema, [a_new, b, c_old, d_us], [a_old, c_new, d_eu, d_us])
    async with PostgresStatusRepository(pg_dsn, schema=schema) as repo:
        assert await repo.migrate() == [9]
        latest = {s.site_id: s.latest for s in await repo.latest()}
        regions = await _region_ids(repo)
    assert latest == {"a": a_new, "b": b, "c": c_new, "d": d_us}
    assert regions == {
        ("a", "eu"): a_new.check_id,
        ("b", "us"): b.check_id,
        ("c", "eu"): c_new.check_id,
        ("d", "eu"): d_eu.check_id,
        ("d", "us"): d_us.check_id,
    }


async def test_after_the_upgrade_site_status_is_the_newest_region_and_written_once(
    pg_dsn: str, schema: str
) -> None:
    async with PostgresStatusRepository(pg_dsn, schema=schema) as repo:
        await repo.migrate()
        eu, us, older_eu = result("s", "eu", 50), result("s", "us", 40), result("s", "eu", 45)
        await repo.save([eu, us])
        await repo.save([older_eu])  # older than eu's latest: changes nothing
        assert [s.latest for s in await repo.latest()] == [eu]
        later_us = result("s", "us", 70)
        await repo.save([later_us])
        assert [s.latest for s in await repo.latest()] == [later_us]
        async with repo.connection("test") as conn:
            kind = await conn.fetchval(
                "SELECT relkind::text FROM pg_class WHERE oid = to_regclass($1)",
                f"{repo.schema}.site_status",
            )
            with pytest.raises(asyncpg.exceptions.PostgresError):  # a view: nothing writes it
                await conn.execute(f"DELETE FROM {repo.schema}.site_status")
    assert kind == "v"


async def _region_ids(repo: PostgresStatusRepository) -> dict[tuple[str, str], str]:
    async with repo.connection("test") as conn:
        rows = await conn.fetch(
            f"SELECT site_id, region, check_id FROM {repo.schema}.site_region_status"
        )
    return {(r["site_id"], r["region"]): r["check_id"] for r in rows}
