"""Scenario — history retention: dropping day partitions vs the chunked DELETE.

Two schemas on the devservices PostgreSQL (durable defaults) get the same N results spread
over ten days (10 M at full scale, 200 k with ``--quick``): ``partitioned`` is what
migration 0004 builds (one partition per day, made ahead by ``ensure_partitions``);
``flat`` is one unpartitioned ``check_history`` with the same columns and indexes (``LIKE
… INCLUDING ALL``), as the previous release had. Both are filled through the repository's
own ``save`` (binary COPY into staging + ``INSERT … ON CONFLICT``, batches of 5,000, the
persister's write path without Kafka), day by day alternating between them, so insert
rows/s compare under the same conditions.

Then retention removes the five oldest days from each: the partitioned one by
``drop_partitions`` (DROP TABLE per day), the flat one by the previous release's chunked
DELETE (10,000 rows by ctid per transaction). For each: wall time, WAL bytes written
(``pg_current_wal_lsn()`` difference, after a CHECKPOINT so both pay full-page writes
alike), and table + index size right after (and after a VACUUM for the flat table, whose
dead tuples otherwise stay until autovacuum reaches them).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks import report
from sitemon_core.models import CheckResult, PhaseTimings

DAYS = 10
DROPPED_DAYS = 5
BATCH = 5000
CHUNK = 10_000
SITES = 10_000
# The previous release's retention statement (unpartitioned check_history).
_CHUNKED_DELETE = """
DELETE FROM check_history WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM check_history WHERE started_at < $1 LIMIT $2))"""


def day_results(first: datetime, day: int, count: int) -> list[CheckResult]:
    """``count`` plausible results spread evenly over day ``day`` after ``first``."""
    start = first + timedelta(days=day)
    step = timedelta(seconds=86_400 / count)
    return [
        CheckResult(
            check_id=uuid.uuid4().hex,
            site_id=f"site-{n % SITES}",
            url=f"https://site-{n % SITES}.example.com/health",
            region="bench",
            started_at=start + n * step,
            ok=n % 50 != 0,
            total_ms=12.5 + n % 100,
            status_code=200 if n % 50 else 503,
            timings=PhaseTimings(dns_ms=1.1, connect_ms=2.2, tls_ms=5.5, ttfb_ms=3.3),
            bytes_read=986,
        )
        for n in range(count)
    ]


async def _flatten(conn: Any, schema: str) -> None:
    """Replace the schema's partitioned check_history by one plain table, same indexes."""
    await conn.execute(f"SET search_path TO {schema}")
    await conn.execute("CREATE TABLE check_history_flat (LIKE check_history INCLUDING ALL)")
    await conn.execute("DROP TABLE check_history")
    await conn.execute("ALTER TABLE check_history_flat RENAME TO check_history")


async def _size_mb(conn: Any, schema: str) -> float:
    """Table + index bytes of check_history (all partitions), in MB."""
    # pg_partition_tree gives nothing for a plain table: then the table itself.
    total = await conn.fetchval(
        "SELECT coalesce((SELECT sum(pg_total_relation_size(relid))"
        " FROM pg_partition_tree($1::regclass)), pg_total_relation_size($1::regclass))",
        f"{schema}.check_history",
    )
    return float(total) / 1e6


async def _measured(conn: Any, work: Any) -> tuple[float, float]:
    """Run ``work()`` after a checkpoint; its seconds and WAL MB."""
    await conn.execute("CHECKPOINT")
    lsn0 = await conn.fetchval("SELECT pg_current_wal_lsn()")
    began = time.perf_counter()
    await work()
    seconds = time.perf_counter() - began
    wal = await conn.fetchval("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1)", lsn0)
    return seconds, float(wal) / 1e6


async def scenario(dsn: str, rows: int) -> dict[str, Any]:
    """Fill both schemas, then run both retentions; every figure measured."""
    import asyncpg  # type: ignore[import-untyped]

    from sitemon_adapters.store.postgres import PostgresStatusRepository

    tag = uuid.uuid4().hex[:6]
    schemas = {"partitioned": f"bench_part_{tag}", "flat": f"bench_flat_{tag}"}
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first = today - timedelta(days=DAYS - 1)
    cutoff = first + timedelta(days=DROPPED_DAYS)
    conn = await asyncpg.connect(dsn)
    repos = {
        name: PostgresStatusRepository(dsn, schema=schema, partitions_ahead_s=(DAYS + 2) * 86_400.0)
        for name, schema in schemas.items()
    }
    try:
        async with repos["partitioned"] as part, repos["flat"] as flat:
            for repo in (part, flat):
                await repo.migrate()
            await part.ensure_partitions(first)
            await _flatten(conn, schemas["flat"])
            insert_s = {"partitioned": 0.0, "flat": 0.0}
            per_day = rows // DAYS
            for day in range(DAYS):
                results = day_results(first, day, per_day)
                for name, repo in (("partitioned", part), ("flat", flat)):
                    began = time.perf_counter()
                    for offset in range(0, per_day, BATCH):
                        await repo.save(results[offset : offset + BATCH])
                    insert_s[name] += time.perf_counter() - began
                report.progress(f"history_retention: day {day + 1}/{DAYS} filled")
            await conn.execute(f"ANALYZE {schemas['partitioned']}.check_history")
            await conn.execute(f"ANALYZE {schemas['flat']}.check_history")
            before = {name: await _size_mb(conn, s) for name, s in schemas.items()}
            dropped: list[str] = []

            async def drop() -> None:
                dropped.extend(await part.drop_partitions(cutoff))

            drop_s, drop_wal = await _measured(conn, drop)
            deleted = [0]

            async def chunked() -> None:
                await conn.execute(f"SET search_path TO {schemas['flat']}")
                while True:
                    status = await conn.execute(_CHUNKED_DELETE, cutoff, CHUNK)
                    count = int(status.rsplit(" ", 1)[-1])
                    deleted[0] += count
                    if count < CHUNK:
                        break

            delete_s, delete_wal = await _measured(conn, chunked)
            after = {name: await _size_mb(conn, s) for name, s in schemas.items()}
            vacuum_s, vacuum_wal = await _measured(
                conn, lambda: conn.execute(f"VACUUM {schemas['flat']}.check_history")
            )
            flat_vacuumed = await _size_mb(conn, schemas["flat"])
    finally:
        for schema in schemas.values():
            await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.close()
    filled = per_day * DAYS
    return {
        "rows": filled,
        "days": DAYS,
        "removed_days": DROPPED_DAYS,
        "insert_rows_per_s": {name: filled / s for name, s in insert_s.items()},
        "insert_ratio": insert_s["flat"] / insert_s["partitioned"],
        "size_before_mb": before,
        "partitioned": {
            "partitions_dropped": len(dropped),
            "seconds": drop_s,
            "wal_mb": drop_wal,
            "size_after_mb": after["partitioned"],
        },
        "flat": {
            "rows_deleted": deleted[0],
            "seconds": delete_s,
            "wal_mb": delete_wal,
            "size_after_mb": after["flat"],
            "vacuum_s": vacuum_s,
            "vacuum_wal_mb": vacuum_wal,
            "size_after_vacuum_mb": flat_vacuumed,
        },
    }


def run(ctx: Any) -> dict[str, Any]:
    """The scenario on the devservices PostgreSQL (10 M rows; 200 k with --quick)."""
    rows = 200_000 if ctx.quick else 10_000_000
    data = asyncio.run(scenario(ctx.postgres().dsn, rows))
    part, flat = data["partitioned"], data["flat"]
    report.table(
        f"History retention: {data['rows']:,} rows over {DAYS} days, the oldest "
        f"{DROPPED_DAYS} days removed",
        ["method", "MB before", "time s", "WAL MB", "table+index MB after"],
        [
            [
                f"drop {part['partitions_dropped']} partitions",
                data["size_before_mb"]["partitioned"],
                part["seconds"],
                part["wal_mb"],
                part["size_after_mb"],
            ],
            [
                f"chunked DELETE ({flat['rows_deleted']:,} rows)",
                data["size_before_mb"]["flat"],
                flat["seconds"],
                flat["wal_mb"],
                flat["size_after_mb"],
            ],
            [
                "  + VACUUM after the DELETE",
                flat["size_after_mb"],
                flat["vacuum_s"],
                flat["vacuum_wal_mb"],
                flat["size_after_vacuum_mb"],
            ],
        ],
    )
    speeds = data["insert_rows_per_s"]
    report.table(
        "Repository save rows/s (COPY + ON CONFLICT, batches of 5,000, same run)",
        ["check_history", "rows/s", "vs unpartitioned"],
        [
            ["partitioned by day", speeds["partitioned"], f"{data['insert_ratio']:.1%}"],
            ["unpartitioned", speeds["flat"], "100%"],
        ],
    )
    return data
