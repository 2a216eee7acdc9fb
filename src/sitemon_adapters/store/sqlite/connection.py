"""One SQLite connection owned by one worker thread, for repositories built on it.

sqlite3 connections are bound to the thread that made them and every call blocks, so the
connection lives in a dedicated thread and every operation is shipped there; the event
loop only awaits. ``SqliteStatusRepository`` and ``SqliteIncidentRepository`` build on it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar

from sitemon_adapters.store.sqlite.rows import to_micros
from sitemon_core.errors import RepositoryError

T = TypeVar("T")


class SqliteConnection:
    """An async context manager around one SQLite connection (WAL, synchronous FULL)."""

    def __init__(self, path: str, *, busy_timeout_s: float = 5.0) -> None:
        self._path = path
        self._busy_timeout_ms = int(busy_timeout_s * 1000)
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None

    async def __aenter__(self) -> Self:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        try:
            self._conn = await self._run(self._connect)
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._executor is None:
            return
        try:
            if self._conn is not None:
                await self._run(self._conn.close)
        finally:
            self._conn = None
            self._executor.shutdown(wait=True)
            self._executor = None

    @staticmethod
    def micros(value: datetime | None) -> int | None:
        """``value`` as microseconds since the epoch; a naive datetime is refused."""
        try:
            return None if value is None else to_micros(value)
        except ValueError as exc:
            raise RepositoryError(str(exc), retriable=False) from exc

    async def query(self, sql: str, params: tuple[object, ...]) -> list[Any]:
        """The rows ``sql`` selects."""

        def run(conn: sqlite3.Connection) -> list[Any]:
            return conn.execute(sql, params).fetchall()

        return await self._with_connection(run)

    async def in_transaction(self, work: Callable[[sqlite3.Connection], object]) -> None:
        """Run ``work`` in one ``BEGIN IMMEDIATE`` transaction, rolled back if it fails."""

        def transaction(conn: sqlite3.Connection) -> None:
            # IMMEDIATE takes the write lock up front, so a busy database fails (or waits
            # busy_timeout) at BEGIN instead of half-way through.
            conn.execute("BEGIN IMMEDIATE")
            try:
                work(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        await self._with_connection(transaction)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            conn.execute("PRAGMA journal_mode = WAL")
            # FULL: a saved batch is acknowledged on the bus right after, so it must
            # survive a power loss, not only a process crash.
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            conn.close()
            raise
        return conn

    async def _with_connection(self, work: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._conn
        if conn is None:
            raise RepositoryError("the SQLite repository is not open", retriable=False)
        return await self._run(lambda: work(conn))

    async def _run(self, work: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, work)
        except sqlite3.Error as exc:
            raise RepositoryError(f"SQLite: {exc}", retriable=_is_transient(exc)) from exc
        except (ValueError, OverflowError) as exc:  # a value SQLite cannot store
            raise RepositoryError(f"SQLite: {exc}", retriable=False) from exc


def _is_transient(exc: sqlite3.Error) -> bool:
    # Another writer held the lock past busy_timeout: trying again later can succeed.
    name = getattr(exc, "sqlite_errorname", "")
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in str(exc)
