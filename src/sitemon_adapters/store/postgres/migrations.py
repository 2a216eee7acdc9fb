"""Versioned SQL migrations for the PostgreSQL repository.

Migrations are the files ``sitemon_adapters/store/postgres/sql/NNNN_name.sql`` (package data),
applied in version order, each in its own transaction, and recorded in
``sitemon_schema_migrations``. Every transaction first takes a transaction-scoped
advisory lock with a fixed key, so persisters that start at the same time apply each
migration exactly once: the others wait, then see it recorded and skip it.

A migration that must not hold its locks for long is split into steps by
``-- sitemon:step`` lines: each step is its own transaction (same lock, skipped once the
migration is recorded, which the last step does), and a ``-- sitemon:step no-transaction``
step runs alone outside any transaction (``CREATE INDEX CONCURRENTLY``), with ``@schema@``
standing for the quoted schema. Every step must be safe to run again after a crash.

Only transaction-scoped locks and ``SET LOCAL`` are used, so this works through a pooler
in transaction mode (PgBouncer) too.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg  # no stubs (see [tool.mypy] overrides); typed at our boundary

# Any fixed 64-bit key works; it only has to be the same for every sitemon process and
# unlikely to collide with another application's advisory locks ("sitemon" + 1).
LOCK_KEY = 0x7369_7465_6D6F_6E01
LEDGER = "sitemon_schema_migrations"

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_STEP = re.compile(r"^-- sitemon:step( no-transaction)?[ \t]*$", re.MULTILINE)

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

    @property
    def steps(self) -> list[Step]:
        """The script's steps, in order (one transactional step unless split)."""
        parts = _STEP.split(self.sql)
        steps = [Step(parts[0], transactional=True)] if _has_sql(parts[0]) else []
        for flag, sql in zip(parts[1::2], parts[2::2], strict=True):
            steps.append(Step(sql, transactional=flag is None))
        if not steps or not steps[-1].transactional:
            steps.append(Step("", transactional=True))  # the ledger row needs a transaction
        return steps


def _has_sql(text: str) -> bool:
    """Whether ``text`` holds more than comments (an empty query fails in the driver)."""
    return any(line.strip() and not line.strip().startswith("--") for line in text.splitlines())


@dataclass(frozen=True)
class Step:
    """Part of a migration: SQL run in one transaction, or alone outside any."""

    sql: str
    transactional: bool


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


async def lock_schema(conn: asyncpg.Connection, schema: str) -> None:
    """Inside a transaction: take the migration lock, and make ``schema`` the search_path
    until the transaction ends (``SET LOCAL``: nothing leaks to a pooled connection)."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_KEY)
    await set_local_schema(conn, schema)


async def set_local_schema(conn: asyncpg.Connection, schema: str) -> None:
    """Inside a transaction: ``schema`` (then nothing else) as its search_path."""
    await conn.execute("SELECT set_config('search_path', $1, true)", quote_ident(schema))


async def _bootstrap(conn: asyncpg.Connection, schema: str) -> None:
    async with conn.transaction():
        await lock_schema(conn, schema)
        # Look before creating: CREATE SCHEMA IF NOT EXISTS still needs the CREATE
        # privilege on the database, which a least-privilege role may lack even when
        # an administrator already created the schema for it.
        exists = await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema)
        if not exists:
            await conn.execute(f"CREATE SCHEMA {quote_ident(schema)}")
        await conn.execute(_CREATE_LEDGER)


async def apply_migrations(conn: asyncpg.Connection, schema: str) -> list[int]:
    """Bring ``schema`` up to the newest version; return the versions applied now.

    The scripts use unqualified names: each transaction sets its search_path to ``schema``.
    Idempotent and safe to run concurrently.
    """
    await _bootstrap(conn, schema)
    applied: list[int] = []
    for migration in load_migrations():
        if await _apply(conn, schema, migration):
            applied.append(migration.version)
    return applied


async def _apply(conn: asyncpg.Connection, schema: str, migration: Migration) -> bool:
    """Run ``migration``'s steps unless it is recorded; whether it ran now."""
    steps = migration.steps
    for index, step in enumerate(steps):
        last = index == len(steps) - 1
        for attempt in range(1, _DEADLOCK_ATTEMPTS + 1):
            try:
                if not await _run_step(conn, schema, migration, step, last=last):
                    return False
                break
            except asyncpg.DeadlockDetectedError:
                # Two processes in a no-transaction step (CREATE INDEX CONCURRENTLY waits
                # for every older transaction): the victim runs the step again; it is
                # written to be repeatable, and by then finds the work done.
                if attempt == _DEADLOCK_ATTEMPTS:
                    raise
    return True


_DEADLOCK_ATTEMPTS = 5


async def _run_step(
    conn: asyncpg.Connection, schema: str, migration: Migration, step: Step, *, last: bool
) -> bool:
    """Run one step; False if the migration turned out to be recorded already."""
    if not step.transactional:
        if await _done(conn, schema, migration):
            return False
        await conn.execute(step.sql.replace("@schema@", quote_ident(schema)))
        return True
    async with conn.transaction():
        await lock_schema(conn, schema)
        if await _done(conn, schema, migration, locked=True):
            return False
        if _has_sql(step.sql):
            await conn.execute(step.sql)
        if last:
            await conn.execute(
                f"INSERT INTO {LEDGER} (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
    return True


async def _done(
    conn: asyncpg.Connection, schema: str, migration: Migration, *, locked: bool = False
) -> bool:
    table = f"{quote_ident(schema)}.{LEDGER}" if not locked else LEDGER
    return bool(await conn.fetchval(f"SELECT 1 FROM {table} WHERE version = $1", migration.version))


@functools.cache
def latest_version() -> int:
    """The schema version this release reads and writes (its newest migration)."""
    return len(load_migrations())


async def schema_problem(conn: asyncpg.Connection, schema: str) -> str | None:
    """Why this release cannot read ``schema`` (quoted: ``quote_ident``) — absent, or older
    than ``latest_version`` — or ``None``. Reads only: a reader (``sitemon-run web``) needs
    no right beyond SELECT, and never migrates."""
    version = 0
    ledger = f"{schema}.{LEDGER}"
    if await conn.fetchval("SELECT to_regclass($1)", ledger) is not None:
        version = await conn.fetchval(f"SELECT coalesce(max(version), 0) FROM {ledger}")
    needed = latest_version()
    if version >= needed:
        return None
    found = "has no sitemon tables" if version == 0 else f"is at version {version}"
    return (
        f"schema {schema} {found}, this release needs version {needed}: "
        "run `sitemon-run migrate -c <config>` (a reader never changes the schema)"
    )
