"""Hourly rollups and per-region latest results in PostgreSQL (tables of migration
``*_rollups.sql``): the SQL ``save()`` runs after the history insert, and the row mapping.

The history insert returns the rows it really added (``ON CONFLICT DO NOTHING … RETURNING``);
only those are folded (``sitemon_core.rollup.fold``) into deltas, copied into a staging table
and added to the stored rows in key order, so a replay never counts twice and two consumer
workers lock rollup rows in the same order (no deadlock).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sitemon_adapters.store.postgres.rows import COLUMN_LIST, COLUMNS
from sitemon_core.rollup import Rollup

ROLLUP_STAGING = "sitemon_rollup_staging"
ROLLUP_COLUMNS = (
    "site_id",
    "region",
    "hour",
    "checks",
    "ok",
    "total_min_us",
    "total_max_us",
    "total_sum_us",
    "phase_sum_us",
    "phase_count",
    "histogram",
)
_ROLLUP_LIST = ", ".join(ROLLUP_COLUMNS)

CREATE_ROLLUP_STAGING = f"""CREATE TEMP TABLE IF NOT EXISTS {ROLLUP_STAGING} (
    site_id text COLLATE "C", region text COLLATE "C", hour timestamptz, checks integer,
    ok integer, total_min_us bigint, total_max_us bigint, total_sum_us bigint,
    phase_sum_us bigint[], phase_count bigint[], histogram jsonb) ON COMMIT DELETE ROWS"""


def insert_history_sql(staging: str) -> str:
    """The history insert that returns the rows it added (duplicates skipped)."""
    return (
        f"INSERT INTO check_history ({COLUMN_LIST})"
        f" SELECT {COLUMN_LIST} FROM {staging} ORDER BY check_id"
        f" ON CONFLICT (check_id) DO NOTHING RETURNING {COLUMN_LIST}"
    )


def upsert_region_status_sql(staging: str) -> str:
    """The newest result per site and region, guarded like ``site_status``."""
    return f"""
INSERT INTO site_region_status ({COLUMN_LIST})
SELECT DISTINCT ON (site_id, region) {COLUMN_LIST} FROM {staging}
ORDER BY site_id, region, started_at DESC, check_id DESC
ON CONFLICT (site_id, region) DO UPDATE SET
    {", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c not in ("site_id", "region"))},
    updated_at = now()
WHERE (excluded.started_at, excluded.check_id)
    > (site_region_status.started_at, site_region_status.check_id)"""


# ORDER BY the primary key: every transaction locks rollup rows in the same order.
MERGE_ROLLUPS = f"""
INSERT INTO check_rollup_hourly AS r ({_ROLLUP_LIST})
SELECT {_ROLLUP_LIST} FROM {ROLLUP_STAGING} ORDER BY site_id, hour, region
ON CONFLICT (site_id, hour, region) DO UPDATE SET
    checks       = r.checks + excluded.checks,
    ok           = r.ok + excluded.ok,
    total_min_us = least(r.total_min_us, excluded.total_min_us),
    total_max_us = greatest(r.total_max_us, excluded.total_max_us),
    total_sum_us = r.total_sum_us + excluded.total_sum_us,
    phase_sum_us = sitemon_array_add(r.phase_sum_us, excluded.phase_sum_us),
    phase_count  = sitemon_array_add(r.phase_count, excluded.phase_count),
    histogram    = sitemon_hist_add(r.histogram, excluded.histogram)"""


def rollup_records(rollups: Iterable[Rollup]) -> list[tuple[Any, ...]]:
    """Rollups as staging rows (``ROLLUP_COLUMNS`` order), sorted by the table's key."""
    ordered = sorted(rollups, key=lambda r: (r.site_id, r.start, r.region))
    return [
        (
            r.site_id,
            r.region,
            r.start,
            r.checks,
            r.ok,
            r.total_min_us,
            r.total_max_us,
            r.total_sum_us,
            list(r.phase_sums_us),
            list(r.phase_counts),
            json.dumps({str(index): count for index, count in r.histogram}),
        )
        for r in ordered
    ]


def record_to_rollup(record: Sequence[Any]) -> Rollup:
    """The rollup stored as ``record`` (values in ``ROLLUP_COLUMNS`` order)."""
    (site_id, region, hour, checks, ok, low, high, total, sums, counts, histogram) = record
    return Rollup(
        site_id=site_id,
        region=region,
        start=hour,
        checks=checks,
        ok=ok,
        total_min_us=low,
        total_max_us=high,
        total_sum_us=total,
        phase_sums_us=tuple(sums),
        phase_counts=tuple(counts),
        histogram=tuple(sorted((int(k), v) for k, v in json.loads(histogram).items())),
    )


SELECT_ROLLUPS = f"SELECT {_ROLLUP_LIST} FROM check_rollup_hourly"
