"""Versioned SQL migrations for the PostgreSQL repository.

Migrations are the files ``sitemon_adapters/store/postgres/sql/NNNN_name.sql`` (package data),
applied in version order, each in its own transaction, and recorded in
``sitemon_schema_migrations``. Every transaction first takes a transaction-scoped
advisory lock with a fixed key, so persisters that start at the same time apply each
migration exactly once: the others wait, then see it recorded and skip it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import asyncpg  # no stubs (see [tool.mypy] overrides); typed at our boundary

# Any fixed 64-bit key works; it only has to be the same for every sitemon process and
# unlikely to collide with another application's advisory locks ("sitemon" + 1).
LOCK_KEY = 0x7369_7465_6D6F_6E01
LEDGER = "sitemon_schema_migrations"

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_CREATE_LEDGER = f"""
CREATE TABLE IF NOT EXISTS {LEDGER} (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


@dataclass(frozen=True)
class Migration:
    """One schema upgrade: its version, name and SQL script."""

    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """All packaged migrations in version order.

    Raises ``ValueError`` if two files share a version or versions have a gap: either
    would mean a broken package, and applying around it could corrupt the schema.
    """
    folder = resources.files("sitemon_adapters.store.postgres").joinpath("sql")
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            sql = entry.read_text(encoding="utf-8")
            found.append(Migration(int(match.group(1)), match.group(2), sql))
    found.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in found]
    if versions != list(range(1, len(found) + 1)):
        raise ValueError(f"migration versions must be 1..n without gaps, found {versions}")
    return found


def quote_ident(name: str) -> str:
    """``name`` as a quoted SQL identifier (safe for any schema name)."""
    return '"' + name.replace('"', '""') + '"'


async def _lock(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_KEY)


async def _bootstrap(conn: asyncpg.Connection, schema: str) -> None:
    async with conn.transaction():
        await _lock(conn)
        # Look before creating: CREATE SCHEMA IF NOT EXISTS still needs the CREATE
        # privilege on the database, which a least-privilege role may lack even when
        # an administrator already created the schema for it.
        exists = await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema)
        if not exists:
            await conn.execute(f"CREATE SCHEMA {quote_ident(schema)}")
        await conn.execute(_CREATE_LEDGER)


async def apply_migrations(conn: asyncpg.Connection, schema: str) -> list[int]:
    """Bring ``schema`` up to the newest version; return the versions applied now.

    ``conn``'s search_path must be ``schema`` (the repository's pool sets it), since
    the scripts use unqualified names. Idempotent and safe to run concurrently.
    """
    await _bootstrap(conn, schema)
    applied: list[int] = []
    for migration in load_migrations():
        async with conn.transaction():
            await _lock(conn)
            done = await conn.fetchval(
                f"SELECT 1 FROM {LEDGER} WHERE version = $1", migration.version
            )
            if done:
                continue
            await conn.execute(migration.sql)
            await conn.execute(
                f"INSERT INTO {LEDGER} (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
        applied.append(migration.version)
    return applied
