"""check_history's partitions on the real PostgreSQL: created ahead, the default partition,
retention by partition, idempotency on the partitioned key, the upgrade from version 3.

Every test gets its own schema (dropped afterwards), as in test_postgres_repository.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg  # type: ignore[import-untyped]
import pytest

from sitemon_adapters.store.postgres import PostgresStatusRepository, load_migrations
from sitemon_adapters.store.postgres.migrations import LEDGER, _bootstrap, quote_ident
from sitemon_core.models import CheckResult

pytestmark = pytest.mark.timeout(120)

DAY = timedelta(days=1)
D0 = datetime(2026, 3, 10, tzinfo=UTC)  # a midnight: partition boundaries fall on it


def result(site_id: str = "s", at: datetime = D0, **fields: object) -> CheckResult:
    """A result of ``site_id`` started at ``at``, with a random id."""
    values: dict[str, object] = {
        "check_id": uuid.uuid4().hex,
        "site_id": site_id,
        "url": f"https://{site_id}.example/",
        "region": "eu",
        "started_at": at,
        "ok": True,
        "total_ms": 12.5,
        "status_code": 200,
        **fields,
    }
    return CheckResult(**values)  # type: ignore[arg-type]


@pytest.fixture
async def schema(pg_dsn: str) -> AsyncIterator[str]:
    """A fresh schema name; dropped after the test."""
    name = f"Part {uuid.uuid4().hex[:10]}"
    yield name
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(name)} CASCADE")
    finally:
        await conn.close()


@pytest.fixture
async def repo(pg_dsn: str, schema: str) -> AsyncIterator[PostgresStatusRepository]:
    """An open, migrated repository with day partitions created two days ahead."""
    async with PostgresStatusRepository(pg_dsn, schema=schema) as repository:
        await repository.migrate()
        yield repository


async def query(pg_dsn: str, schema: str, sql: str, *args: object) -> list[asyncpg.Record]:
    """Run ``sql`` with ``schema`` as search_path, on a connection of its own."""
    conn = await asyncpg.connect(pg_dsn, server_settings={"search_path": quote_ident(schema)})
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


_PARTITIONS = """
SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'check_history'::regclass ORDER BY c.relname"""


async def partitions(pg_dsn: str, schema: str) -> list[str]:
    """Names of check_history's partitions, sorted."""
    return [r["name"] for r in await query(pg_dsn, schema, _PARTITIONS)]


async def rows_in(pg_dsn: str, schema: str, table: str) -> int:
    """Rows in ``table``."""
    found = await query(pg_dsn, schema, f"SELECT count(*) AS n FROM {quote_ident(table)}")
    return int(found[0]["n"])


async def test_partitions_are_created_two_days_ahead_once(
    pg_dsn: str, schema: str, repo: PostgresStatusRepository
) -> None:
    assert await partitions(pg_dsn, schema) == ["check_history_default"]
    state = await repo.ensure_partitions(D0 + timedelta(hours=15))
    names = ["check_history_p20260310", "check_history_p20260311", "check_history_p20260312"]
    assert state.created == tuple(names)
    assert state.default_rows == 0
    assert (await repo.ensure_partitions(D0 + timedelta(hours=23))).created == ()
    assert (await repo.ensure_partitions(D0 + DAY)).created == ("check_history_p20260313",)
    assert await partitions(pg_dsn, schema) == sorted(
        [*names, "check_history_p20260313", "check_history_default"]
    )
    bounds = {r["name"]: r["bound"] for r in await query(pg_dsn, schema, _PARTITIONS)}
    assert "2026-03-10 00:00:00+00" in bounds["check_history_p20260310"]
    assert "2026-03-11 00:00:00+00" in bounds["check_history_p20260310"]


async def test_partition_size_is_configurable(pg_dsn: str, schema: str) -> None:
    async with PostgresStatusRepository(
        pg_dsn, schema=schema, partition_size_s=6 * 3600, partitions_ahead_s=12 * 3600
    ) as repository:
        await repository.migrate()
        state = await repository.ensure_partitions(D0 + timedelta(hours=7))
    assert state.created == (
        "check_history_p20260310_0600",
        "check_history_p20260310_1200",
        "check_history_p20260310_1800",
    )
    with pytest.raises(ValueError, match="whole hours dividing a day"):
        PostgresStatusRepository(pg_dsn, partition_size_s=5 * 3600)


async def test_rows_go_to_their_day_and_outliers_to_the_default_partition(
    pg_dsn: str, schema: str, repo: PostgresStatusRepository
) -> None:
    await repo.ensure_partitions(D0)
    ancient = result("s", D0 - 400 * DAY)  # a replay of a record older than every partition
    today, later = result("s", D0 + timedelta(hours=1)), result("s", D0 + 2 * DAY)
    await repo.save([ancient, today, later])
    assert await rows_in(pg_dsn, schema, "check_history_default") == 1
    assert await rows_in(pg_dsn, schema, "check_history_p20260310") == 1
    assert await rows_in(pg_dsn, schema, "check_history_p20260312") == 1
    assert await repo.history("s") == [later, today, ancient]  # found wherever it lives
    assert await repo.history("s", since=D0 - 401 * DAY, limit=1) == [later]
    assert (await repo.ensure_partitions(D0)).default_rows == 1


async def test_a_new_partition_takes_over_its_rows_from_the_default_partition(
    pg_dsn: str, schema: str, repo: PostgresStatusRepository
) -> None:
    early = result("s", D0 + 5 * DAY + timedelta(hours=3))  # before its partition exists
    await repo.save([early])
    state = await repo.ensure_partitions(D0 + 4 * DAY)
    assert "check_history_p20260315" in state.created
    assert state.default_rows == 0
    assert await rows_in(pg_dsn, schema, "check_history_p20260315") == 1
    await repo.save([early])  # a replay after the move: still stored once
    assert await repo.history("s") == [early]


async def test_a_replayed_result_is_stored_once_in_its_partition(
    pg_dsn: str, schema: str, repo: PostgresStatusRepository
) -> None:
    await repo.ensure_partitions(D0)
    batch = [result("a", D0 + timedelta(minutes=m)) for m in range(3)]
    outlier = result("a", D0 - 30 * DAY)
    for _ in range(3):
        await repo.save([*batch, outlier])
    assert await rows_in(pg_dsn, schema, "check_history") == 4
    keys = await query(pg_dsn, schema, "SELECT count(DISTINCT check_id) AS n FROM check_history")
    assert keys[0]["n"] == 4


async def test_retention_drops_exactly_the_partitions_past_the_window(
    pg_dsn: str, schema: str
) -> None:
    async with PostgresStatusRepository(
        pg_dsn, schema=schema, partitions_ahead_s=6 * 86400
    ) as repo:
        await repo.migrate()
        await repo.ensure_partitions(D0)  # D0 .. D0 + 6 days
        days = [result(f"site-{d}", D0 + d * DAY + timedelta(hours=12)) for d in range(7)]
        await repo.save(days)
        latest_before = await repo.latest()
        cutoff = D0 + 3 * DAY + timedelta(hours=6)  # inside day 3: day 3 must stay
        dropped = await repo.drop_partitions(cutoff)
        assert dropped == [f"check_history_p2026031{d}" for d in range(3)]
        assert await repo.drop_partitions(cutoff) == []
        for d in range(7):
            assert await repo.history(f"site-{d}") == ([] if d < 3 else [days[d]])
        assert await repo.latest() == latest_before  # latest status is never touched
    assert "check_history_p20260312" not in await partitions(pg_dsn, schema)
    tables = await query(pg_dsn, schema, "SELECT to_regclass('check_history_p20260310') AS t")
    assert tables[0]["t"] is None  # dropped, not just detached


async def test_detach_mode_keeps_the_partition_as_a_table(pg_dsn: str, schema: str) -> None:
    async with PostgresStatusRepository(pg_dsn, schema=schema, retention_mode="detach") as repo:
        await repo.migrate()
        await repo.ensure_partitions(D0)
        kept = result("s", D0 + timedelta(hours=1))
        await repo.save([kept])
        assert await repo.drop_partitions(D0 + DAY) == ["check_history_p20260310"]
        assert await repo.history("s") == []
    assert "check_history_p20260310" not in await partitions(pg_dsn, schema)
    assert await rows_in(pg_dsn, schema, "check_history_p20260310") == 1


async def test_prune_history_deletes_old_rows_of_the_default_partition_only(
    pg_dsn: str, schema: str, repo: PostgresStatusRepository
) -> None:
    await repo.ensure_partitions(D0)
    old = [result("s", D0 - 10 * DAY + timedelta(seconds=i)) for i in range(5)]
    recent = result("s", D0 + timedelta(hours=1))
    await repo.save([*old, recent])
    cutoff = D0 + timedelta(hours=2)  # past `recent` too, but its day is not over
    assert [await repo.prune_history(cutoff, max_rows=2) for _ in range(4)] == [2, 2, 1, 0]
    assert await repo.history("s") == [recent]


# --- the upgrade from an unpartitioned check_history (schema version 3) ---

_V2_COLUMNS = (
    "check_id, site_id, url, region, started_at, ok, total_ms, status_code, bytes_read,"
    " error_kind, error_message, outcome, tags"
)


async def _previous_release(pg_dsn: str, schema: str, rows: list[CheckResult]) -> None:
    """``schema`` as migrations 1-3 left it, with ``rows`` in its history."""
    conn = await asyncpg.connect(pg_dsn, server_settings={"search_path": quote_ident(schema)})
    try:
        await _bootstrap(conn, schema)
        for migration in load_migrations()[:3]:
            await conn.execute(migration.sql)
            await conn.execute(
                f"INSERT INTO {LEDGER} (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
        await conn.executemany(
            f"INSERT INTO check_history ({_V2_COLUMNS})"
            " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)",
            [
                (r.check_id, r.site_id, r.url, r.region, r.started_at, r.ok, r.total_ms,
                 r.status_code, r.bytes_read, r.error_kind.value, r.error_message, r.outcome,
                 list(r.tags))
                for r in rows
            ],
        )  # fmt: skip
    finally:
        await conn.close()


async def test_an_unpartitioned_history_is_upgraded_without_losing_a_row(
    pg_dsn: str, schema: str
) -> None:
    now = datetime.now(UTC)
    old = [result(f"s{i % 7}", now - timedelta(hours=i)) for i in range(500)]
    future = result("s0", now + 5 * DAY)  # clock skew: past the old table's new bound
    await _previous_release(pg_dsn, schema, [*old, future])
    async with PostgresStatusRepository(pg_dsn, schema=schema) as repo:
        assert await repo.migrate() == [m.version for m in load_migrations() if m.version >= 4]
        assert await rows_in(pg_dsn, schema, "check_history") == 501
        assert await rows_in(pg_dsn, schema, "check_history_legacy") == 500
        assert await rows_in(pg_dsn, schema, "check_history_default") == 1
        created = (await repo.ensure_partitions(now)).created
        # The legacy partition covers today and tomorrow: the first new day comes after.
        assert created and all(name > "check_history_p" for name in created)
        await repo.save(old[:50])  # a replay of rows stored before the upgrade
        assert await rows_in(pg_dsn, schema, "check_history") == 501
        history = await repo.history("s3", limit=1000)
        assert sorted(r.check_id for r in history) == sorted(
            r.check_id for r in old if r.site_id == "s3"
        )
        # The legacy partition is pruned in chunks, then dropped whole once past.
        assert await repo.prune_history(now - timedelta(hours=100), max_rows=1000) == 399
        legacy_until = datetime.combine(now.date(), datetime.min.time(), UTC) + 2 * DAY
        assert await repo.drop_partitions(legacy_until) == ["check_history_legacy"]
    rel = await query(
        pg_dsn, schema, "SELECT relkind::text FROM pg_class WHERE oid = 'check_history'::regclass"
    )
    assert rel[0]["relkind"] == "p"
    leftovers = await query(
        pg_dsn,
        schema,
        "SELECT to_regclass('sitemon_upgrade_0004') AS a,"
        " to_regclass('check_history_upgrade_hold') AS b",
    )
    assert tuple(leftovers[0]) == (None, None)


async def test_the_upgrade_attaches_without_a_scan_or_an_index_build(
    pg_dsn: str, schema: str
) -> None:
    # What keeps the final step's exclusive lock short: the bound was validated before
    # (so ATTACH skips its scan) and the key's index was built concurrently before (so
    # ATTACH builds none); both are on the legacy partition under their step-1/2 names.
    now = datetime.now(UTC)
    await _previous_release(
        pg_dsn, schema, [result("s", now - timedelta(hours=i)) for i in range(50)]
    )
    async with PostgresStatusRepository(pg_dsn, schema=schema) as repo:
        await repo.migrate()
    found = await query(
        pg_dsn,
        schema,
        "SELECT conname, contype::text, convalidated FROM pg_constraint"
        " WHERE conrelid = 'check_history_legacy'::regclass ORDER BY conname",
    )
    assert [tuple(r) for r in found] == [
        ("check_history_error_kind_check", "c", True),
        ("check_history_legacy_bound", "c", True),
        ("check_history_legacy_started_check", "u", True),
    ]
    indexes = await query(
        pg_dsn,
        schema,
        "SELECT indexname FROM pg_indexes WHERE tablename = 'check_history_legacy'"
        " AND schemaname = $1 ORDER BY indexname",
        schema,
    )
    # Its own indexes, attached to the parent's; none built by ATTACH.
    assert [r["indexname"] for r in indexes] == [
        "check_history_legacy_site_time",
        "check_history_legacy_started_brin",
        "check_history_legacy_started_check",
    ]


async def test_a_new_database_has_no_legacy_partition(pg_dsn: str, schema: str) -> None:
    async with PostgresStatusRepository(pg_dsn, schema=schema) as repo:
        await repo.migrate()
    assert await partitions(pg_dsn, schema) == ["check_history_default"]


async def test_an_index_left_invalid_by_a_lost_concurrent_build_is_rebuilt(
    pg_dsn: str, schema: str
) -> None:
    # Two processes migrating at once: one CREATE INDEX CONCURRENTLY loses a deadlock and
    # leaves the index INVALID; the other's IF NOT EXISTS skips it. Simulated here.
    now = datetime.now(UTC)
    await _previous_release(pg_dsn, schema, [result("s0", now - timedelta(hours=1))])
    conn = await asyncpg.connect(pg_dsn, server_settings={"search_path": quote_ident(schema)})
    try:
        await conn.execute(
            "CREATE UNIQUE INDEX check_history_started_check"
            " ON check_history (started_at, check_id)"
        )
        await conn.execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid ="
            " (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            "  WHERE c.relname = 'check_history_started_check' AND n.nspname = $1)",
            schema,
        )
    finally:
        await conn.close()
    async with PostgresStatusRepository(pg_dsn, schema=schema) as repo:
        assert await repo.migrate() == list(range(4, load_migrations()[-1].version + 1))
        assert await rows_in(pg_dsn, schema, "check_history") == 1
