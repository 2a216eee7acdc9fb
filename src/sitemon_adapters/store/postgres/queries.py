"""``StatusQueries`` on PostgreSQL: the reads of ``RollupReads`` over the repository's pool.

Uptime and the bar are summed by the database from ``check_rollup_hourly`` (primary key
site, hour, region: one index range per site); ``checks`` pages ``check_history`` by keyset
on ``(started_at, check_id)`` through ``check_history_site_time``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import attrs

from sitemon_adapters.store.postgres.migrations import schema_problem
from sitemon_adapters.store.postgres.repository import PostgresStatusRepository
from sitemon_adapters.store.postgres.rollups import ROLLUP_COLUMNS, record_to_rollup
from sitemon_adapters.store.postgres.rows import COLUMN_LIST, clean_text, record_to_result
from sitemon_adapters.store.rollup_queries import RegionState, RollupStatusQueries
from sitemon_core.errors import RepositoryError
from sitemon_core.models import CheckResult, Site
from sitemon_core.rollup import Rollup

ROLLUP_LIST = ", ".join(ROLLUP_COLUMNS)


@attrs.frozen
class _Sql:
    """The read statements, every table named as ``schema.table`` (no search_path, no
    transaction: one round trip a read)."""

    states: str
    region_latest: str
    buckets: str
    rollups: str
    checks: str
    schema: str

    @classmethod
    def of(cls, schema: str) -> _Sql:
        """The statements over the quoted ``schema``."""
        region, rollup, history = (
            f"{schema}.{t}" for t in ("site_region_status", "check_rollup_hourly", "check_history")
        )
        return cls(
            schema=schema,
            states=f"SELECT site_id, region, ok, started_at, url, degraded FROM {region}",
            region_latest=(
                f"SELECT {COLUMN_LIST} FROM {region} WHERE site_id = ANY($1::text[])"
                " ORDER BY site_id, region"
            ),
            buckets=f"""
SELECT site_id, date_bin($4::interval, hour, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
       sum(checks)::bigint, sum(ok)::bigint
FROM {rollup}
WHERE site_id = ANY($1::text[]) AND hour >= $2 AND hour < $3
GROUP BY 1, 2""",
            rollups=(
                f"SELECT {ROLLUP_LIST} FROM {rollup}"
                " WHERE site_id = $1 AND hour >= $2 AND hour < $3 ORDER BY hour, region"
            ),
            checks=f"""
SELECT {COLUMN_LIST} FROM {history}
WHERE site_id = $1 AND started_at >= $2 AND started_at < $3
  AND ($4::timestamptz IS NULL OR (started_at, check_id) < ($4, $5::text))
ORDER BY started_at DESC, check_id DESC
LIMIT $6""",
        )

    def windows(self, windows: int) -> str:
        """One sum per window start ($2..): a single range scan answers every window."""
        sums = ", ".join(
            f"sum(CASE WHEN hour >= ${i + 2} THEN checks ELSE 0 END)::bigint,"
            f" sum(CASE WHEN hour >= ${i + 2} THEN ok ELSE 0 END)::bigint"
            for i in range(windows)
        )
        return (
            f"SELECT site_id, region, {sums} FROM {self.schema}.check_rollup_hourly"
            f" WHERE site_id = ANY($1::text[]) AND hour >= ${windows + 2}"
            f" AND hour < ${windows + 3} GROUP BY site_id, region"
        )


class PostgresRollupReads:
    """``RollupReads`` through a ``PostgresStatusRepository``'s pool."""

    def __init__(self, repository: PostgresStatusRepository, *, check_schema: bool = False) -> None:
        self._repository = repository
        self._sql = _Sql.of(repository.schema)
        self._check_schema = check_schema

    async def ping(self) -> None:
        """One round trip; with ``check_schema``, also fails (``RepositoryError``) while the
        schema is absent or older than this release reads (a reader never migrates it)."""
        async with self._repository.connection("ping") as conn:
            await conn.fetchval("SELECT 1")
            problem = await schema_problem(conn, self._sql.schema) if self._check_schema else None
        if problem is not None:
            raise RepositoryError(problem, retriable=True)

    async def region_states(self) -> list[RegionState]:
        """Every site's per-region state."""
        async with self._repository.connection("region states") as conn:
            rows = await conn.fetch(self._sql.states)
        return list(map(RegionState._make, rows))  # columns in RegionState's order

    async def region_latest(self, site_ids: Sequence[str]) -> list[CheckResult]:
        """The newest result per region."""
        async with self._repository.connection("region latest") as conn:
            rows = await conn.fetch(self._sql.region_latest, [clean_text(s) for s in site_ids])
        return [record_to_result(row) for row in rows]

    async def window_sums(
        self, site_ids: Sequence[str], starts: Sequence[datetime], end: datetime
    ) -> list[tuple[str, str, tuple[tuple[int, int], ...]]]:
        """(checks, ok) per window start, per site and region."""
        ids = [clean_text(s) for s in site_ids]
        async with self._repository.connection("uptime") as conn:
            rows = await conn.fetch(self._sql.windows(len(starts)), ids, *starts, min(starts), end)
        return [
            (r[0], r[1], tuple((r[2 + 2 * i], r[3 + 2 * i]) for i in range(len(starts))))
            for r in rows
        ]

    async def bucket_sums(
        self, site_ids: Sequence[str], start: datetime, end: datetime, step: timedelta
    ) -> list[tuple[str, datetime, int, int]]:
        """(site, bucket, checks, ok) of every region together."""
        ids = [clean_text(s) for s in site_ids]
        async with self._repository.connection("uptime bar") as conn:
            rows = await conn.fetch(self._sql.buckets, ids, start, end, step)
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    async def rollups(self, site_id: str, start: datetime, end: datetime) -> list[Rollup]:
        """Hourly rollups of one site in a range."""
        async with self._repository.connection("rollups") as conn:
            rows = await conn.fetch(self._sql.rollups, clean_text(site_id), start, end)
        return [record_to_rollup(row) for row in rows]

    async def checks_page(
        self,
        site_id: str,
        start: datetime,
        end: datetime,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[CheckResult]:
        """One keyset page of raw history."""
        at, check_id = after if after is not None else (None, None)
        async with self._repository.connection("checks") as conn:
            rows = await conn.fetch(
                self._sql.checks, clean_text(site_id), start, end, at, check_id, limit
            )
        return [record_to_result(row) for row in rows]


def postgres_status_queries(
    repository: PostgresStatusRepository, sites: Iterable[Site] = (), *, check_schema: bool = False
) -> RollupStatusQueries:
    """``StatusQueries`` over an open PostgreSQL repository and the configured sites
    (``check_schema``: ``ping`` also requires the schema this release reads)."""
    return RollupStatusQueries(PostgresRollupReads(repository, check_schema=check_schema), sites)
