"""StatusRepository on PostgreSQL through an asyncpg connection pool.

A batch is saved in one transaction: binary COPY into a session-local staging table,
then one ``INSERT … SELECT`` into the history (duplicates skipped) whose added rows are
folded into the hourly rollups in the same statement (``postgres.rollups``), and an upsert
of the newest result per site and region into ``site_region_status`` (guarded so only
newer results win; ``site_status`` is the view of each site's newest). COPY
plus set-based SQL is ~2x faster than ``executemany`` (see MEASUREMENTS.md), and the
staging table is what makes the batch idempotent.

History is partitioned by day (see ``partitions``); its unique key is (started_at, check_id)
since a partitioned table's keys must hold the partition key, and a replay carries its
started_at. Every write is one transaction that sets its own search_path (``SET
LOCAL``) and takes only transaction-scoped advisory locks; reads name their tables with the
schema and need no transaction. So the repository works behind PgBouncer in transaction
mode (with ``statement_cache_size=0``), and a connection goes back to the pool with no
session state to reset (no ``RESET ALL`` round trip per use).
"""

from __future__ import annotations

import ssl as ssl_module
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from types import TracebackType
from typing import Self

import asyncpg  # no stubs (see [tool.mypy] overrides); typed at our boundary

from sitemon_adapters.store.postgres import partitions
from sitemon_adapters.store.postgres.migrations import apply_migrations, lock_schema
from sitemon_adapters.store.postgres.pool import PoolSettings, PostgresPool
from sitemon_adapters.store.postgres.rollups import insert_and_fold_sql, upsert_region_status_sql
from sitemon_adapters.store.postgres.rows import (
    COLUMN_LIST,
    COLUMNS,
    clean_text,
    record_to_result,
    result_to_record,
    staging_table_sql,
)
from sitemon_core.errors import RepositoryError
from sitemon_core.models import CheckResult, SiteStatus
from sitemon_core.partitions import PartitionState

STAGING = "sitemon_staging"

# Created once per connection (IF NOT EXISTS: after a reconnect it is simply made again)
# and emptied by every commit. Re-creating it per batch (ON COMMIT DROP) measured the same
# speed but writes and deletes catalog rows on every batch, bloating pg_class/pg_attribute.
_CREATE_STAGING = staging_table_sql(STAGING)

# Rows are inserted and upserted in key order so two persisters saving overlapping
# batches (a replay after a rebalance) take row locks in the same order instead of
# deadlocking (a deadlock would still only be a retriable error; the sort costs ~nothing).
# The region upsert keeps one row per site and region (DISTINCT ON: ON CONFLICT DO UPDATE
# cannot touch a row twice); ``site_status`` is a view of the newest of them (migration
# 0009), so a result is written once as "latest". ORDER BY and the guard are
# ``sitemon_core.ordering``: later started_at wins, then the larger check_id (COLLATE "C":
# code point order, as Python compares str).
_MERGE = f"""
{insert_and_fold_sql(STAGING)};
{upsert_region_status_sql(STAGING)}"""

_SELECT_LATEST = f"SELECT {COLUMN_LIST} FROM site_status ORDER BY site_id"
_SELECT_HISTORY = (
    f"SELECT {COLUMN_LIST} FROM check_history WHERE site_id = $1"
    " ORDER BY started_at DESC, check_id DESC LIMIT $2"
)
_SELECT_HISTORY_SINCE = (
    f"SELECT {COLUMN_LIST} FROM check_history WHERE site_id = $1 AND started_at >= $3"
    " ORDER BY started_at DESC, check_id DESC LIMIT $2"
)
# One pruner per schema at a time: the others find the lock taken and skip the round
# (two deleting the same rows would only wait on each other's row locks).
_PRUNE_LOCK = "SELECT pg_try_advisory_xact_lock(1936287085, hashtext(current_schema()))"
_PRUNE_ROLLUPS = (
    "DELETE FROM check_rollup_hourly WHERE ctid = ANY(ARRAY("
    "SELECT ctid FROM check_rollup_hourly WHERE hour < $1 LIMIT $2))"
)
_SITE_ID = COLUMNS.index("site_id")


class PostgresStatusRepository:
    """Latest status and history of checks in PostgreSQL (see ``StatusRepository``).

    Use as an async context manager (the pool is created inside the running loop), then
    call ``migrate()``. All tables live in ``schema`` (see ``pool`` for how a pooler is
    kept happy). Every failure is raised as ``RepositoryError``; after the server comes
    back, broken pooled connections are replaced on the next acquire.
    """

    def __init__(
        self,
        dsn: str,
        *,
        schema: str = "public",
        pool_min: int = 1,
        pool_max: int = 4,
        ssl: ssl_module.SSLContext | None = None,
        connect_timeout_s: float = 10.0,
        command_timeout_s: float = 60.0,
        application_name: str = "sitemon",
        statement_cache_size: int = 100,
        partition_size_s: int = partitions.DAY_S,
        partitions_ahead_s: float = 2 * partitions.DAY_S,
        retention_mode: str = "drop",
    ) -> None:
        settings = PoolSettings(
            schema=schema, pool_min=pool_min, pool_max=pool_max, ssl=ssl,
            connect_timeout_s=connect_timeout_s, command_timeout_s=command_timeout_s,
            application_name=application_name, statement_cache_size=statement_cache_size,
        )  # fmt: skip
        partitions.check_size(partition_size_s)
        if retention_mode not in ("drop", "detach"):
            raise ValueError(f"retention_mode must be drop or detach, got {retention_mode!r}")
        self._pool = PostgresPool(dsn, settings)
        self._schema = schema
        self._partition_size_s = partition_size_s
        self._partitions_ahead_s = partitions_ahead_s
        self._retention_mode = retention_mode

    def __repr__(self) -> str:
        # Never the DSN: it may hold a password.
        return f"PostgresStatusRepository(schema={self._schema!r})"

    async def __aenter__(self) -> Self:
        await self._pool.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._pool.close()

    async def migrate(self) -> list[int]:
        """Create the schema and tables or upgrade them; return the versions applied.

        Idempotent, and safe when several processes start at once (see ``migrations``).
        """
        async with self._connection("migrate") as conn:
            return await apply_migrations(conn, self._schema)

    async def save(self, results: Sequence[CheckResult]) -> None:
        """Save a batch in one transaction (see ``StatusRepository.save``).

        Text is cleaned of characters PostgreSQL cannot store (see ``clean_text``).
        """
        if not results:
            return
        try:
            records = [result_to_record(result) for result in results]
        except ValueError as exc:
            raise RepositoryError(f"cannot store result: {exc}", retriable=False) from exc
        async with self._transaction("save") as conn:
            await conn.execute(_CREATE_STAGING)
            await conn.copy_records_to_table(STAGING, records=records, columns=COLUMNS)
            await conn.execute(_MERGE)

    async def latest(self) -> list[SiteStatus]:
        """The latest status of every site, ordered by site id."""
        async with self._transaction("latest") as conn:
            rows = await conn.fetch(_SELECT_LATEST)
        return [SiteStatus(site_id=row[_SITE_ID], latest=record_to_result(row)) for row in rows]

    async def history(
        self, site_id: str, *, since: datetime | None = None, limit: int = 1000
    ) -> list[CheckResult]:
        """Checks of ``site_id`` started at or after ``since``, newest first, at most ``limit``."""
        if limit <= 0:
            return []  # PostgreSQL rejects a negative LIMIT
        if since is not None and since.utcoffset() is None:
            raise RepositoryError(f"naive datetime {since.isoformat()} as since", retriable=False)
        site_id = clean_text(site_id)  # find a site whose id was cleaned when saved
        async with self._transaction("history") as conn:
            if since is None:
                rows = await conn.fetch(_SELECT_HISTORY, site_id, limit)
            else:
                rows = await conn.fetch(_SELECT_HISTORY_SINCE, site_id, limit, since)
        return [record_to_result(row) for row in rows]

    async def prune_history(self, started_before: datetime, *, max_rows: int) -> int:
        """Delete up to ``max_rows`` checks started before ``started_before`` from the
        partitions without a time slot of their own (default, legacy); 0 when another
        process is pruning this schema right now. Day partitions go whole, by
        ``drop_partitions``."""
        _check_aware(started_before, "cutoff")
        if max_rows <= 0:
            return 0
        async with self._transaction("prune history") as conn:
            if not await conn.fetchval(_PRUNE_LOCK):
                return 0
            return await partitions.prune_rows(conn, started_before, max_rows)

    async def prune_rollups(self, period_before: datetime, *, max_rows: int) -> int:
        """Delete up to ``max_rows`` rollups whose hour starts before ``period_before``, by
        tuple id (found through the BRIN index on hour), under the pruning lock: 0 when
        another process is pruning this schema right now. History is never touched."""
        _check_aware(period_before, "cutoff")
        if max_rows <= 0:
            return 0
        async with self._transaction("prune rollups") as conn:
            if not await conn.fetchval(_PRUNE_LOCK):
                return 0
            status = await conn.execute(_PRUNE_ROLLUPS, period_before, max_rows)
        return int(status.rsplit(" ", 1)[-1])  # "DELETE <count>"

    async def drop_partitions(self, started_before: datetime) -> list[str]:
        """Drop (or detach, per ``retention_mode``) the partitions whose range ends at or
        before ``started_before``: O(1) each, no dead tuples. None while another process
        prunes this schema."""
        _check_aware(started_before, "cutoff")
        async with self._transaction("drop partitions") as conn:
            if not await conn.fetchval(_PRUNE_LOCK):
                return []
            return await partitions.remove_expired(conn, started_before, self._retention_mode)

    async def ensure_partitions(self, now: datetime) -> PartitionState:
        """Create the history partitions from ``now``'s through ``partitions_ahead_s``
        later, under the migration lock (one creator at a time); count the default
        partition's rows."""
        _check_aware(now, "now")
        async with self._connection("create partitions") as conn, conn.transaction():
            await lock_schema(conn, self._schema)
            created = await partitions.ensure_partitions(
                conn, now, self._partition_size_s, self._partitions_ahead_s
            )
            return PartitionState(tuple(created), await partitions.default_rows(conn))

    def _transaction(self, operation: str) -> AbstractAsyncContextManager[asyncpg.Connection]:
        """A pooled connection in a transaction whose search_path is the schema."""
        return self._pool.transaction(operation)

    def _connection(self, operation: str) -> AbstractAsyncContextManager[asyncpg.Connection]:
        return self._pool.connection(operation)

    @property
    def schema(self) -> str:
        """The schema, quoted as an SQL identifier: read SQL qualifies its tables with it."""
        return self._pool.schema

    def connection(self, operation: str) -> AbstractAsyncContextManager[asyncpg.Connection]:
        """A pooled connection, outside any transaction, for the read adapters
        (``postgres.queries``, whose SQL names tables as ``schema.table``): one round trip a
        read, safe behind PgBouncer's transaction pooling; any driver or socket error
        becomes ``RepositoryError`` naming ``operation``."""
        return self._pool.connection(operation)


def _check_aware(moment: datetime, what: str) -> None:
    if moment.utcoffset() is None:
        raise RepositoryError(f"naive datetime {moment.isoformat()} as {what}", retriable=False)
