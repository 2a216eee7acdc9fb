"""``StatusQueries`` on SQLite: the reads of ``RollupReads`` on the repository's connection.

Times are integer microseconds since the epoch (``rows.to_micros``), so an hour's bucket of
``step`` is ``hour - hour % step`` (the epoch is a UTC midnight and steps divide a day).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sitemon_adapters.store.rollup_queries import RegionState, RollupStatusQueries
from sitemon_adapters.store.sqlite.repository import SqliteStatusRepository
from sitemon_adapters.store.sqlite.rollups import ROLLUP_LIST, row_to_rollup
from sitemon_adapters.store.sqlite.rows import COLUMN_LIST, from_micros, row_to_result, to_micros
from sitemon_core.models import CheckResult, Site
from sitemon_core.rollup import Rollup

_STATES = "SELECT site_id, region, ok, started_at, url, degraded FROM site_region_status"
_ROLLUPS = (
    f"SELECT {ROLLUP_LIST} FROM check_rollup_hourly"
    " WHERE site_id = ? AND hour >= ? AND hour < ? ORDER BY hour, region"
)
_CHECKS = (
    f"SELECT {COLUMN_LIST} FROM check_history WHERE site_id = ? AND started_at >= ?"
    " AND started_at < ? AND (started_at, check_id) < (?, ?)"
    " ORDER BY started_at DESC, check_id DESC LIMIT ?"
)
_LAST = (2**63 - 1, "\U0010ffff")  # after every stored (started_at, check_id)


def _marks(count: int) -> str:
    return ", ".join("?" * count)


class SqliteRollupReads:
    """``RollupReads`` through a ``SqliteStatusRepository``'s connection."""

    def __init__(self, repository: SqliteStatusRepository) -> None:
        self._repository = repository

    async def ping(self) -> None:
        """One statement."""
        await self._repository.read("SELECT 1", ())

    async def region_states(self) -> list[RegionState]:
        """Every site's per-region state."""
        rows = await self._repository.read(_STATES, ())
        return [
            RegionState(
                site_id=r[0],
                region=r[1],
                ok=bool(r[2]),
                started_at=from_micros(r[3]),
                url=r[4],
                degraded=bool(r[5]),
            )
            for r in rows
        ]

    async def region_latest(self, site_ids: Sequence[str]) -> list[CheckResult]:
        """The newest result per region."""
        sql = (
            f"SELECT {COLUMN_LIST} FROM site_region_status"
            f" WHERE site_id IN ({_marks(len(site_ids))}) ORDER BY site_id, region"
        )
        return [row_to_result(row) for row in await self._repository.read(sql, site_ids)]

    async def window_sums(
        self, site_ids: Sequence[str], starts: Sequence[datetime], end: datetime
    ) -> list[tuple[str, str, tuple[tuple[int, int], ...]]]:
        """(checks, ok) per window start, per site and region."""
        sums = ", ".join(
            "sum(CASE WHEN hour >= ? THEN checks ELSE 0 END),"
            " sum(CASE WHEN hour >= ? THEN ok ELSE 0 END)"
            for _ in starts
        )
        sql = (
            f"SELECT site_id, region, {sums} FROM check_rollup_hourly"
            f" WHERE site_id IN ({_marks(len(site_ids))}) AND hour >= ? AND hour < ?"
            " GROUP BY site_id, region"
        )
        micros = [to_micros(s) for s in starts]
        params = [m for m in micros for _ in (0, 1)] + [*site_ids, min(micros), to_micros(end)]
        rows = await self._repository.read(sql, params)
        return [
            (r[0], r[1], tuple((r[2 + 2 * i], r[3 + 2 * i]) for i in range(len(starts))))
            for r in rows
        ]

    async def bucket_sums(
        self, site_ids: Sequence[str], start: datetime, end: datetime, step: timedelta
    ) -> list[tuple[str, datetime, int, int]]:
        """(site, bucket, checks, ok) of every region together."""
        sql = (
            "SELECT site_id, hour - hour % ? AS bucket, sum(checks), sum(ok)"
            f" FROM check_rollup_hourly WHERE site_id IN ({_marks(len(site_ids))})"
            " AND hour >= ? AND hour < ? GROUP BY site_id, bucket"
        )
        step_us = step // timedelta(microseconds=1)
        params = [step_us, *site_ids, to_micros(start), to_micros(end)]
        rows = await self._repository.read(sql, params)
        return [(r[0], from_micros(r[1]), r[2], r[3]) for r in rows]

    async def rollups(self, site_id: str, start: datetime, end: datetime) -> list[Rollup]:
        """Hourly rollups of one site in a range."""
        rows = await self._repository.read(_ROLLUPS, (site_id, to_micros(start), to_micros(end)))
        return [row_to_rollup(row) for row in rows]

    async def checks_page(
        self,
        site_id: str,
        start: datetime,
        end: datetime,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[CheckResult]:
        """One keyset page of raw history."""
        at, check_id = _LAST if after is None else (to_micros(after[0]), after[1])
        params = (site_id, to_micros(start), to_micros(end), at, check_id, limit)
        return [row_to_result(row) for row in await self._repository.read(_CHECKS, params)]


def sqlite_status_queries(
    repository: SqliteStatusRepository, sites: Iterable[Site] = ()
) -> RollupStatusQueries:
    """``StatusQueries`` over an open SQLite repository and the configured sites."""
    return RollupStatusQueries(SqliteRollupReads(repository), sites)
