"""StatusRepository on SQLite, for the embedded (single-process) deployment.

sqlite3 connections are bound to the thread that made them and every call blocks, so the
connection lives in one dedicated worker thread and every operation is shipped there;
the event loop only awaits. Writes are one transaction per batch.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from sitemon_adapters.store.sqlite import rollups
from sitemon_adapters.store.sqlite.connection import SqliteConnection
from sitemon_adapters.store.sqlite.rows import (
    COLUMN_LIST,
    COLUMNS,
    Row,
    result_to_row,
    row_to_result,
    to_micros,
)
from sitemon_core.errors import RepositoryError
from sitemon_core.models import CheckResult, SiteStatus
from sitemon_core.ordering import newer

# The columns as the first schema version made them. Migrations are history: they never
# follow ``store.fields``; a new field gets a migration of its own.
_VERSION_1_COLUMNS = """
    check_id      TEXT    NOT NULL,
    site_id       TEXT    NOT NULL,
    url           TEXT    NOT NULL,
    region        TEXT    NOT NULL,
    started_at    INTEGER NOT NULL,
    ok            INTEGER NOT NULL,
    total_ms      REAL    NOT NULL,
    status_code   INTEGER,
    dns_ms        REAL,
    connect_ms    REAL,
    tls_ms        REAL,
    ttfb_ms       REAL,
    transfer_ms   REAL,
    regex_matched INTEGER,
    bytes_read    INTEGER NOT NULL,
    final_url     TEXT,
    error_kind    TEXT    NOT NULL,
    error_message TEXT    NOT NULL"""

# Each entry upgrades the schema by one version; migrate() applies those not yet applied.
# STRICT makes SQLite reject a value of the wrong type instead of storing it anyway.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        f"CREATE TABLE check_history ({_VERSION_1_COLUMNS}, PRIMARY KEY (check_id)) STRICT",
        "CREATE INDEX check_history_site_time"
        " ON check_history (site_id, started_at DESC, check_id DESC)",
        f"CREATE TABLE site_status ({_VERSION_1_COLUMNS}, PRIMARY KEY (site_id)) STRICT",
    ),
    # Version 2: history retention deletes by start time.
    ("CREATE INDEX check_history_started ON check_history (started_at)",),
    # Version 3: the outcome (for SQL readers; derived for the rows already there, as
    # CheckResult.outcome derives it) and the site's tags as a JSON array.
    tuple(
        statement
        for table in ("check_history", "site_status")
        for statement in (
            f"ALTER TABLE {table} ADD COLUMN outcome TEXT",
            f"ALTER TABLE {table} ADD COLUMN tags TEXT NOT NULL DEFAULT '[]'",
            f"UPDATE {table} SET outcome = CASE WHEN ok THEN 'up'"
            " WHEN error_kind <> 'none' THEN error_kind"
            " WHEN regex_matched = 0 THEN 'regex_miss' ELSE 'bad_status' END",
        )
    ),
    # Version 4: the fields of result schema 3 (certificate, truncation, verdict, DNS).
    tuple(
        f"ALTER TABLE {table} ADD COLUMN {column}"
        for table in ("check_history", "site_status")
        for column in (
            "tls_not_after INTEGER",
            "tls_version TEXT",
            "tls_issuer TEXT",
            "body_truncated INTEGER NOT NULL DEFAULT 0",
            "degraded INTEGER NOT NULL DEFAULT 0",
            "failed_condition TEXT",
            "answers TEXT NOT NULL DEFAULT '[]'",
        )
    ),
    # Version 5: the read side (per-region latest results, hourly rollups).
    rollups.MIGRATION,
    # Version 6: rollup retention by hour.
    rollups.HOUR_INDEX,
)

_PLACEHOLDERS = ", ".join("?" for _ in COLUMNS)
_INSERT_HISTORY = (
    f"INSERT INTO check_history ({COLUMN_LIST}) VALUES ({_PLACEHOLDERS})"
    " ON CONFLICT (check_id) DO NOTHING"
)
# (started_at, check_id) orders results totally (``sitemon_core.ordering``; SQLite's BINARY
# collation compares UTF-8 bytes, which is code point order), so a replay or an
# out-of-order delivery never replaces a newer status, and two results with the same start
# time always resolve the same way whatever order they arrive in.
_UPSERT_STATUS = (
    f"INSERT INTO site_status ({COLUMN_LIST}) VALUES ({_PLACEHOLDERS})"
    " ON CONFLICT (site_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c != "site_id")
    + " WHERE (excluded.started_at, excluded.check_id)"
    " > (site_status.started_at, site_status.check_id)"
)
_SELECT_LATEST = f"SELECT {COLUMN_LIST} FROM site_status ORDER BY site_id"
_SELECT_HISTORY = (
    f"SELECT {COLUMN_LIST} FROM check_history"
    " WHERE site_id = ? AND started_at >= ?"
    " ORDER BY started_at DESC, check_id DESC LIMIT ?"
)
_PRUNE_HISTORY = (
    "DELETE FROM check_history WHERE rowid IN"
    " (SELECT rowid FROM check_history WHERE started_at < ? LIMIT ?)"
)
_SITE_ID = COLUMNS.index("site_id")


class SqliteStatusRepository(SqliteConnection):
    """Latest status and history of checks in one SQLite file (WAL mode).

    Use as an async context manager; call ``migrate()`` once after opening.
    """

    async def migrate(self) -> None:
        """Create or upgrade the tables; a no-op when already up to date."""
        await self.in_transaction(_migrate)

    async def save(self, results: Sequence[CheckResult]) -> None:
        """Save a batch in one transaction (see ``StatusRepository.save``)."""
        if results:
            batch = list(results)  # the caller may mutate its sequence while we wait
            await self.in_transaction(lambda conn: _save(conn, batch))

    async def latest(self) -> list[SiteStatus]:
        """The latest status of every site, ordered by site id."""
        rows = await self.query(_SELECT_LATEST, ())
        return [SiteStatus(site_id=row[_SITE_ID], latest=row_to_result(row)) for row in rows]

    async def history(
        self, site_id: str, *, since: datetime | None = None, limit: int = 1000
    ) -> list[CheckResult]:
        """Checks of ``site_id`` started at or after ``since``, newest first, at most ``limit``."""
        if limit <= 0:
            return []  # SQLite reads a negative LIMIT as "no limit"
        try:
            since_micros = -(2**63) if since is None else to_micros(since)
        except ValueError as exc:
            raise RepositoryError(str(exc), retriable=False) from exc
        rows = await self.query(_SELECT_HISTORY, (site_id, since_micros, limit))
        return [row_to_result(row) for row in rows]

    async def prune_history(self, started_before: datetime, *, max_rows: int) -> int:
        """Delete up to ``max_rows`` checks started before ``started_before``."""
        try:
            cutoff = to_micros(started_before)
        except ValueError as exc:
            raise RepositoryError(str(exc), retriable=False) from exc
        if max_rows <= 0:
            return 0
        deleted = 0

        def prune(conn: sqlite3.Connection) -> None:
            nonlocal deleted
            deleted = conn.execute(_PRUNE_HISTORY, (cutoff, max_rows)).rowcount

        await self.in_transaction(prune)
        return deleted

    async def prune_rollups(self, period_before: datetime, *, max_rows: int) -> int:
        """Delete up to ``max_rows`` rollups whose hour starts before ``period_before``."""
        try:
            cutoff = to_micros(period_before)
        except ValueError as exc:
            raise RepositoryError(str(exc), retriable=False) from exc
        deleted = 0

        def prune(conn: sqlite3.Connection) -> None:
            nonlocal deleted
            deleted = conn.execute(rollups.PRUNE, (cutoff, max_rows)).rowcount

        if max_rows > 0:
            await self.in_transaction(prune)
        return deleted

    async def read(self, sql: str, params: Sequence[object]) -> list[Row]:
        """The rows of one read statement (for the read adapter, ``sqlite.queries``)."""
        return await self.query(sql, tuple(params))


def _migrate(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    current = row[0] or 0
    for version, statements in enumerate(MIGRATIONS[current:], start=current + 1):
        for statement in statements:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))


def _save(conn: sqlite3.Connection, results: list[CheckResult]) -> None:
    added = rollups.unseen(conn, results)  # before the insert: what it will really add
    rows = [result_to_row(result) for result in results]
    conn.executemany(_INSERT_HISTORY, rows)
    conn.executemany(_UPSERT_STATUS, _newest_per_site(results, rows))
    rollups.save_read_side(conn, added)


def _newest_per_site(results: list[CheckResult], rows: list[Row]) -> list[Row]:
    # One upsert per site instead of one per result; the WHERE clause of the upsert
    # still guards against anything newer already stored.
    newest: dict[str, tuple[CheckResult, Row]] = {}
    for result, row in zip(results, rows, strict=True):
        current = newest.get(result.site_id)
        if newer(result, None if current is None else current[0]):
            newest[result.site_id] = (result, row)
    return [row for _, row in newest.values()]
