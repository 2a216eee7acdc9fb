"""Hourly rollups and per-region latest results in PostgreSQL (tables of migration
``*_rollups.sql``): the SQL ``save()`` runs after the COPY into staging, and the row mapping.

One statement inserts the batch into the history and folds exactly the rows that insert
added (``ON CONFLICT DO NOTHING … RETURNING``: a replay never counts twice) into the hourly
rollups, in key order (two consumer workers lock rollup rows in the same order: no deadlock).
The fold is ``sitemon_core.rollup``'s, in SQL: times clamped and rounded to whole
microseconds as ``to_us`` does, the histogram bucket by ``width_bucket`` over the very float
edges ``bucket_lower_ms`` computes (written into the SQL from Python, so both agree bit for
bit). Folding in the database keeps the consumer's CPU per row flat (BENCHMARKS.md).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sitemon_adapters.store.postgres.rows import COLUMN_LIST, COLUMNS
from sitemon_core.rollup import HISTOGRAM_BUCKETS, MAX_MS, PHASES, Rollup, bucket_lower_ms

_SUMS = tuple(f"{phase}_sum_us" for phase in PHASES)
_COUNTS = tuple(f"{phase}_n" for phase in PHASES)
ROLLUP_COLUMNS = (
    "site_id",
    "region",
    "hour",
    "checks",
    "ok",
    "total_min_us",
    "total_max_us",
    "total_sum_us",
    *_SUMS,
    *_COUNTS,
    "histogram",
)
_ROLLUP_LIST = ", ".join(ROLLUP_COLUMNS)
# repr() is the shortest text that reads back as the same double (PostgreSQL reads it so too).
_EDGES = ",".join(repr(bucket_lower_ms(i)) for i in range(1, HISTOGRAM_BUCKETS))


def _clamped(column: str) -> str:
    # clamp_ms: NaN counts as 0 (PostgreSQL orders NaN above every number, so test it first);
    # NULL (phase not measured) stays NULL: greatest() and least() would ignore it.
    return (
        f"CASE WHEN {column} IS NULL THEN NULL WHEN {column} = 'NaN'::float8 THEN 0::float8"
        f" ELSE least(greatest({column}, 0::float8), {MAX_MS!r}::float8) END"
    )


def _us(column: str) -> str:
    # to_us: round() of a double rounds half to even in PostgreSQL, as Python's round() does.
    return f"round({_clamped(column)} * 1000.0::float8)::bigint"


_PHASE_COLUMNS = [f"{phase}_ms" for phase in PHASES]
_ADD_PHASES = ",\n    ".join(f"{c} = r.{c} + excluded.{c}" for c in (*_SUMS, *_COUNTS))


def insert_and_fold_sql(staging: str) -> str:
    """The history insert from ``staging`` and the fold of the rows it added into the
    hourly rollups, as one statement.

    One aggregation per rollup key: a key with one added row (the usual case: a batch holds
    a site's one check of the hour) gets its one-bucket histogram as an expression; only a
    key with several rows counts its buckets, in a sub-query over that key's array (a first
    aggregation by key and bucket, then by key, cost ~15 % more of the save's CPU)."""
    phase_us = ", ".join(f"{_us(c)} AS {c}_us" for c in _PHASE_COLUMNS)
    phase_sums = ", ".join(f"coalesce(sum({c}_us), 0)" for c in _PHASE_COLUMNS)
    phase_counts = ", ".join(f"count({c}_us)" for c in _PHASE_COLUMNS)
    return f"""
WITH added AS (
    INSERT INTO check_history ({COLUMN_LIST})
    SELECT {COLUMN_LIST} FROM {staging} ORDER BY check_id
    ON CONFLICT (started_at, check_id) DO NOTHING
    RETURNING site_id, region, started_at, ok, total_ms, {", ".join(_PHASE_COLUMNS)}
), timed AS (
    SELECT site_id, region, date_trunc('hour', started_at, 'UTC') AS hour, ok,
           {_us("total_ms")} AS total_us,
           width_bucket({_clamped("total_ms")}, '{{{_EDGES}}}'::float8[]) AS bucket,
           {phase_us}
    FROM added
)
INSERT INTO check_rollup_hourly AS r ({_ROLLUP_LIST})
SELECT site_id, region, hour, count(*), count(*) FILTER (WHERE ok),
       min(total_us), max(total_us), sum(total_us), {phase_sums}, {phase_counts},
       CASE WHEN count(*) = 1 THEN jsonb_build_object(min(bucket)::text, 1)
            ELSE (SELECT jsonb_object_agg(b::text, n)
                  FROM (SELECT b, count(*) AS n FROM unnest(array_agg(bucket)) AS b
                        GROUP BY b) AS per_bucket)
       END
FROM timed GROUP BY site_id, region, hour ORDER BY site_id, hour, region
ON CONFLICT (site_id, hour, region) DO UPDATE SET
    checks       = r.checks + excluded.checks,
    ok           = r.ok + excluded.ok,
    total_min_us = least(r.total_min_us, excluded.total_min_us),
    total_max_us = greatest(r.total_max_us, excluded.total_max_us),
    total_sum_us = r.total_sum_us + excluded.total_sum_us,
    {_ADD_PHASES},
    histogram    = sitemon_hist_add(r.histogram, excluded.histogram)"""


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


def record_to_rollup(record: Sequence[Any]) -> Rollup:
    """The rollup stored as ``record`` (values in ``ROLLUP_COLUMNS`` order)."""
    site_id, region, hour, checks, ok, low, high, total = record[:8]
    phases = len(PHASES)
    return Rollup(
        site_id=site_id,
        region=region,
        start=hour,
        checks=checks,
        ok=ok,
        total_min_us=low,
        total_max_us=high,
        total_sum_us=total,
        phase_sums_us=tuple(record[8 : 8 + phases]),
        phase_counts=tuple(record[8 + phases : 8 + 2 * phases]),
        histogram=tuple(sorted((int(k), v) for k, v in json.loads(record[-1]).items())),
    )
