"""Hourly rollups and per-region latest results in SQLite (status schema versions 5, 6).

``save_read_side`` runs inside ``save()``'s transaction: it is given only the results the
history insert really added (a replay never counts twice), adds them to the stored rollups
(read, ``Rollup.merge``, write back: exact integers, in key order) and keeps the newest
result per site and region. The arrays and the histogram are JSON text.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from sitemon_adapters.store.sqlite.rows import (
    COLUMN_LIST,
    COLUMNS,
    Row,
    from_micros,
    result_to_row,
    to_micros,
)
from sitemon_core.models import CheckResult
from sitemon_core.ordering import newer
from sitemon_core.rollup import Rollup, fold

# Status schema version 5 (columns spelled out: migrations never follow store.fields).
MIGRATION: tuple[str, ...] = (
    "CREATE TABLE site_region_status ("
    " check_id TEXT NOT NULL, site_id TEXT NOT NULL, url TEXT NOT NULL, region TEXT NOT NULL,"
    " started_at INTEGER NOT NULL, ok INTEGER NOT NULL, total_ms REAL NOT NULL,"
    " status_code INTEGER, dns_ms REAL, connect_ms REAL, tls_ms REAL, ttfb_ms REAL,"
    " transfer_ms REAL, regex_matched INTEGER, bytes_read INTEGER NOT NULL, final_url TEXT,"
    " error_kind TEXT NOT NULL, error_message TEXT NOT NULL, outcome TEXT,"
    " tags TEXT NOT NULL DEFAULT '[]', tls_not_after INTEGER, tls_version TEXT,"
    " tls_issuer TEXT, body_truncated INTEGER NOT NULL DEFAULT 0,"
    " degraded INTEGER NOT NULL DEFAULT 0, failed_condition TEXT,"
    " answers TEXT NOT NULL DEFAULT '[]', PRIMARY KEY (site_id, region)) STRICT",
    "INSERT INTO site_region_status SELECT * FROM site_status",
    "CREATE TABLE check_rollup_hourly ("
    " site_id TEXT NOT NULL, region TEXT NOT NULL, hour INTEGER NOT NULL,"
    " checks INTEGER NOT NULL, ok INTEGER NOT NULL, total_min_us INTEGER NOT NULL,"
    " total_max_us INTEGER NOT NULL, total_sum_us INTEGER NOT NULL,"
    " phase_sum_us TEXT NOT NULL, phase_count TEXT NOT NULL, histogram TEXT NOT NULL,"
    " PRIMARY KEY (site_id, hour, region)) STRICT",
)

# Status schema version 6: rollup retention finds the old hours without a scan.
HOUR_INDEX = ("CREATE INDEX check_rollup_hourly_hour ON check_rollup_hourly (hour)",)
# Chunked by rowid, as history retention is: short transactions however much has expired.
PRUNE = (
    "DELETE FROM check_rollup_hourly WHERE rowid IN"
    " (SELECT rowid FROM check_rollup_hourly WHERE hour < ? LIMIT ?)"
)

ROLLUP_LIST = (
    "site_id, region, hour, checks, ok, total_min_us, total_max_us, total_sum_us,"
    " phase_sum_us, phase_count, histogram"
)
_SELECT_ONE = (
    f"SELECT {ROLLUP_LIST} FROM check_rollup_hourly WHERE site_id = ? AND hour = ? AND region = ?"
)
_REPLACE = (
    f"INSERT OR REPLACE INTO check_rollup_hourly ({ROLLUP_LIST}) VALUES ({', '.join('?' * 11)})"
)
_UPSERT_REGION = (
    f"INSERT INTO site_region_status ({COLUMN_LIST}) VALUES ({', '.join('?' for _ in COLUMNS)})"
    " ON CONFLICT (site_id, region) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c not in ("site_id", "region"))
    + " WHERE (excluded.started_at, excluded.check_id)"
    " > (site_region_status.started_at, site_region_status.check_id)"
)
_CHUNK = 500  # ids per IN (...): well under SQLite's variable limit


def unseen(conn: sqlite3.Connection, results: Sequence[CheckResult]) -> list[CheckResult]:
    """The results the history insert will add: ids not stored yet, first of a repeated id.

    Exact inside the write transaction (BEGIN IMMEDIATE: no other writer in between).
    """
    ids = list({r.check_id for r in results})
    stored: set[str] = set()
    for at in range(0, len(ids), _CHUNK):
        chunk = ids[at : at + _CHUNK]
        sql = (
            f"SELECT check_id FROM check_history WHERE check_id IN ({', '.join('?' * len(chunk))})"
        )
        stored.update(row[0] for row in conn.execute(sql, chunk))
    fresh: list[CheckResult] = []
    for result in results:
        if result.check_id not in stored:
            stored.add(result.check_id)
            fresh.append(result)
    return fresh


def save_read_side(conn: sqlite3.Connection, added: Sequence[CheckResult]) -> None:
    """Fold ``added`` into the rollups and the per-region latest results."""
    for key, delta in sorted(fold(added).items()):
        row = conn.execute(_SELECT_ONE, (key[0], to_micros(key[2]), key[1])).fetchone()
        total = delta if row is None else row_to_rollup(row).merge(delta)
        conn.execute(_REPLACE, rollup_to_row(total))
    newest: dict[tuple[str, str], CheckResult] = {}
    for result in added:
        where = (result.site_id, result.region)
        if newer(result, newest.get(where)):
            newest[where] = result
    conn.executemany(_UPSERT_REGION, [result_to_row(newest[k]) for k in sorted(newest)])


def rollup_to_row(r: Rollup) -> tuple[Any, ...]:
    """A rollup as a row in ``ROLLUP_LIST`` order."""
    return (
        r.site_id,
        r.region,
        to_micros(r.start),
        r.checks,
        r.ok,
        r.total_min_us,
        r.total_max_us,
        r.total_sum_us,
        json.dumps(r.phase_sums_us),
        json.dumps(r.phase_counts),
        json.dumps({str(index): count for index, count in r.histogram}),
    )


def row_to_rollup(row: Row) -> Rollup:
    """The rollup stored as ``row`` (``ROLLUP_LIST`` order)."""
    (site_id, region, hour, checks, ok, low, high, total, sums, counts, histogram) = row
    return Rollup(
        site_id=site_id,
        region=region,
        start=from_micros(hour),
        checks=checks,
        ok=ok,
        total_min_us=low,
        total_max_us=high,
        total_sum_us=total,
        phase_sums_us=tuple(json.loads(sums)),
        phase_counts=tuple(json.loads(counts)),
        histogram=tuple(sorted((int(k), v) for k, v in json.loads(histogram).items())),
    )
