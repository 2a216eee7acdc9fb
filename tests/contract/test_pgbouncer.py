"""The PostgreSQL repository behind a real PgBouncer in transaction mode.

The port's whole contract runs through PgBouncer too (``postgres-pgbouncer`` in
test_status_repository); these are what transaction pooling breaks when an adapter
relies on its session: a ``search_path`` set per connection (another client's next
transaction gets that server connection), session advisory locks, prepared statements.
PgBouncer's pool is smaller than the clients' pools, so server connections are shared.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg  # type: ignore[import-untyped]
import pytest

from sitemon_adapters.store.postgres import PostgresStatusRepository
from sitemon_adapters.store.postgres.migrations import quote_ident
from sitemon_core.models import CheckResult

pytestmark = pytest.mark.timeout(120)

D0 = datetime(2026, 3, 10, tzinfo=UTC)


def result(site_id: str, at: datetime) -> CheckResult:
    """A result of ``site_id`` started at ``at``."""
    return CheckResult(
        check_id=uuid.uuid4().hex,
        site_id=site_id,
        url="https://x.example/",
        region="eu",
        started_at=at,
        ok=True,
        total_ms=1.0,
    )


@pytest.fixture
async def schemas(pg_dsn: str) -> AsyncIterator[list[str]]:
    """Two fresh schema names, dropped after the test."""
    names = [f"bouncer_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    yield names
    conn = await asyncpg.connect(pg_dsn)
    try:
        for name in names:
            await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(name)} CASCADE")
    finally:
        await conn.close()


async def test_two_schemas_sharing_server_connections_never_mix(
    pgbouncer_dsn: str, pg_dsn: str, schemas: list[str]
) -> None:
    repos = [
        PostgresStatusRepository(pgbouncer_dsn, schema=s, pool_max=6, statement_cache_size=0)
        for s in schemas
    ]
    async with repos[0], repos[1]:
        await asyncio.gather(*(r.migrate() for r in repos))
        await asyncio.gather(*(r.ensure_partitions(D0) for r in repos))
        saves = [
            repos[i % 2].save([result(f"{schemas[i % 2]}-{i}", D0 + timedelta(seconds=i))])
            for i in range(60)
        ]
        await asyncio.gather(*saves)
        for repo, schema in zip(repos, schemas, strict=True):
            latest = await repo.latest()
            assert len(latest) == 30
            assert all(s.site_id.startswith(schema) for s in latest)
    conn = await asyncpg.connect(pg_dsn)
    try:
        for schema in schemas:
            count = await conn.fetchval(f"SELECT count(*) FROM {quote_ident(schema)}.check_history")
            assert count == 30
    finally:
        await conn.close()


async def test_partitions_and_retention_through_the_pooler(
    pgbouncer_dsn: str, schemas: list[str]
) -> None:
    async with PostgresStatusRepository(
        pgbouncer_dsn, schema=schemas[0], statement_cache_size=0
    ) as repo:
        await repo.migrate()
        created = (await repo.ensure_partitions(D0)).created
        assert created == (
            "check_history_p20260310",
            "check_history_p20260311",
            "check_history_p20260312",
        )
        await repo.save([result("s", D0 + timedelta(hours=1)), result("s", D0 - timedelta(days=9))])
        assert (await repo.ensure_partitions(D0)).default_rows == 1
        assert await repo.drop_partitions(D0 + timedelta(days=1)) == ["check_history_p20260310"]
        assert await repo.prune_history(D0, max_rows=10) == 1
        assert await repo.history("s") == []
        assert len(await repo.latest()) == 1
