"""The asyncpg pool under both PostgreSQL repositories, with the rules that keep them
working behind PgBouncer in transaction mode:

- no ``search_path`` startup parameter (PgBouncer refuses it: "unsupported startup
  parameter"; a pooler that passed it on would share it with other clients): a write sets
  its own with ``SET LOCAL`` inside its transaction, a read names its tables
  ``schema.table``;
- ``statement_cache_size`` configurable (0 behind a transaction pooler: a prepared
  statement lives in one server connection, the next transaction may get another);
- nothing to reset when a connection goes back to the pool (no session state is ever
  left), which saves the default ``RESET ALL`` round trip per use.

Every driver or socket error becomes a ``RepositoryError`` naming the operation, without
the DSN's password.
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg  # no stubs (see [tool.mypy] overrides); typed at our boundary
import attrs

from sitemon_adapters.store.postgres.dsn import dsn_passwords
from sitemon_adapters.store.postgres.errors import TRANSLATED, leaks, translate
from sitemon_adapters.store.postgres.migrations import quote_ident, set_local_schema
from sitemon_core.errors import RepositoryError


@attrs.frozen(kw_only=True)
class PoolSettings:
    """How a repository connects: its schema, pool bounds, TLS, timeouts, the name the
    server shows for its sessions, and asyncpg's prepared-statement cache size."""

    schema: str = "public"
    pool_min: int = 1
    pool_max: int = 4
    ssl: ssl_module.SSLContext | None = None
    connect_timeout_s: float = 10.0
    command_timeout_s: float = 60.0
    application_name: str = "sitemon"
    statement_cache_size: int = 100

    def __attrs_post_init__(self) -> None:
        if not self.schema:
            raise ValueError("schema must not be empty")


class PostgresPool:
    """An asyncpg pool opened inside the running loop (``open``), closed without hanging
    on a dead server (``close``)."""

    def __init__(self, dsn: str, settings: PoolSettings) -> None:
        self._dsn = dsn
        self._secrets = dsn_passwords(dsn)
        self.settings = settings
        self._pool: asyncpg.Pool | None = None

    @property
    def schema(self) -> str:
        """The schema quoted as an SQL identifier, to qualify table names with."""
        return quote_ident(self.settings.schema)

    async def open(self) -> None:
        """Create the pool (``min_size`` connections); a failure is a ``RepositoryError``."""
        s = self.settings
        options: dict[str, Any] = {
            "min_size": s.pool_min,
            "max_size": s.pool_max,
            "timeout": s.connect_timeout_s,
            "command_timeout": s.command_timeout_s,
            "statement_cache_size": s.statement_cache_size,
            "server_settings": {"application_name": s.application_name},
            # asyncpg still rolls back a transaction left open; nothing else to reset.
            "reset": _no_session_state,
        }
        if s.ssl is not None:  # otherwise the DSN's sslmode (default: prefer) applies
            options["ssl"] = s.ssl
        try:
            self._pool = await asyncpg.create_pool(self._dsn, **options)
        except TRANSLATED as exc:
            raise self.error(exc, "connect") from self._cause(exc)

    async def close(self) -> None:
        """Close gracefully, or terminate after ``connect_timeout_s`` (a dead or hung
        server must not hang shutdown)."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), self.settings.connect_timeout_s)
        except (TimeoutError, *TRANSLATED):
            pool.terminate()

    @asynccontextmanager
    async def connection(self, operation: str) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection outside any transaction (for SQL naming ``schema.table``)."""
        pool = self._pool
        if pool is None:
            raise RepositoryError("the PostgreSQL repository is not open", retriable=False)
        try:
            async with pool.acquire(timeout=self.settings.command_timeout_s) as conn:
                yield conn
        except TRANSLATED as exc:
            raise self.error(exc, operation) from self._cause(exc)

    @asynccontextmanager
    async def transaction(self, operation: str) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection in a transaction whose search_path is the schema."""
        async with self.connection(operation) as conn, conn.transaction():
            await set_local_schema(conn, self.settings.schema)
            yield conn

    def error(self, exc: BaseException, operation: str) -> RepositoryError:
        """``exc`` as a ``RepositoryError`` about ``operation``, password removed."""
        return translate(exc, operation, self._secrets)

    def _cause(self, exc: BaseException) -> BaseException | None:
        # Keep the driver exception for debugging unless it would print the password.
        return None if leaks(exc, self._secrets) else exc


async def _no_session_state(_conn: asyncpg.Connection) -> None:
    """The pool's reset: the repositories leave no session state (``SET LOCAL`` only,
    transaction-scoped advisory locks only, no LISTEN, no cursors outside transactions)."""
