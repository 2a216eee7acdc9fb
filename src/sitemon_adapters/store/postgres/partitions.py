"""``check_history``'s time partitions: created ahead of the data, dropped past the window.

Partitions are aligned on multiples of the partition size since the Unix epoch (UTC), so
every process computes the same boundaries; the size divides a day (1h … 1d). A day
partition is named ``check_history_p20261201``, a shorter one ``check_history_p20261201_0600``.
Besides them: ``check_history_default`` (rows no partition covers) and, after an upgrade,
``check_history_legacy`` (the former table, everything before its bound). Those two have no
lower bound; retention deletes their old rows in chunks, and drops the legacy one whole
once its upper bound is past the window.

Every function here runs inside the caller's transaction, with the search_path set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg  # no stubs (see [tool.mypy] overrides); typed at our boundary

from sitemon_adapters.store.postgres.migrations import quote_ident

PARENT = "check_history"
DEFAULT = "check_history_default"
DAY_S = 86_400
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# A partition's bounds as timestamptz (NULL for MINVALUE and for the default partition).
# pg_get_expr renders them as quoted literals with an offset, so the cast back is exact.
_LIST = f"""
SELECT c.relname::text AS name,
       c.relpartbound IS NOT NULL AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT' AS is_default,
       CASE WHEN b[1] LIKE '''%' THEN btrim(b[1], '''')::timestamptz END AS lower,
       CASE WHEN b[2] LIKE '''%' THEN btrim(b[2], '''')::timestamptz END AS upper
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
LEFT JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid),
                               'FROM \\((.*)\\) TO \\((.*)\\)') AS b ON true
WHERE i.inhparent = '{PARENT}'::regclass
ORDER BY lower NULLS FIRST, name"""

# Counting stops here: the gauge says "some outliers" or "a lot", never scans a huge table.
DEFAULT_ROWS_CAP = 1_000_000
_COUNT_DEFAULT = f"SELECT count(*) FROM (SELECT 1 FROM {DEFAULT} LIMIT {DEFAULT_ROWS_CAP}) AS d"

# DDL on a partitioned table waits for running queries; waiting without a bound would queue
# every insert behind it. Past this, the round fails (retriable) and the next one retries.
LOCK_TIMEOUT = "5s"


@dataclass(frozen=True)
class Partition:
    """One partition of ``check_history`` and its range (None: unbounded)."""

    name: str
    lower: datetime | None
    upper: datetime | None
    is_default: bool = False

    @property
    def pruned_by_rows(self) -> bool:
        """Whether retention deletes its rows in chunks (it spans more than one slot)."""
        return self.is_default or self.lower is None


def check_size(size_s: int) -> None:
    """Raise ``ValueError`` unless ``size_s`` is a whole number of hours dividing a day."""
    if size_s <= 0 or size_s % 3600 or DAY_S % size_s:
        raise ValueError(f"partition size must be whole hours dividing a day, got {size_s}s")


def slot_start(moment: datetime, size_s: int) -> datetime:
    """The start of the partition slot holding ``moment``."""
    elapsed = (moment - _EPOCH) // timedelta(seconds=size_s)
    return _EPOCH + elapsed * timedelta(seconds=size_s)


def partition_name(start: datetime, size_s: int) -> str:
    """``check_history_p20261201`` (or ``…_0600`` when partitions are shorter than a day)."""
    return f"{PARENT}_p" + start.strftime("%Y%m%d" if size_s == DAY_S else "%Y%m%d_%H%M")


def wanted_slots(now: datetime, size_s: int, ahead_s: float) -> list[datetime]:
    """Starts of the slots that must exist: the current one through ``now + ahead_s``."""
    first, last = slot_start(now, size_s), slot_start(now + timedelta(seconds=ahead_s), size_s)
    count = (last - first) // timedelta(seconds=size_s) + 1
    return [first + i * timedelta(seconds=size_s) for i in range(count)]


async def list_partitions(conn: asyncpg.Connection) -> list[Partition]:
    """Every partition of ``check_history``, oldest range first (unbounded ones first)."""
    return [
        Partition(r["name"], r["lower"], r["upper"], r["is_default"])
        for r in await conn.fetch(_LIST)
    ]


def _overlaps(partition: Partition, lower: datetime, upper: datetime) -> bool:
    if partition.is_default:
        return False
    below = partition.upper is not None and partition.upper <= lower
    above = partition.lower is not None and partition.lower >= upper
    return not (below or above)


async def ensure_partitions(
    conn: asyncpg.Connection, now: datetime, size_s: int, ahead_s: float
) -> list[str]:
    """Create the missing partitions from ``now``'s slot through ``now + ahead_s``; return
    their names. A slot an existing partition overlaps (the legacy one) is left alone."""
    await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
    existing = await list_partitions(conn)
    created = []
    for start in wanted_slots(now, size_s, ahead_s):
        end = start + timedelta(seconds=size_s)
        if any(_overlaps(p, start, end) for p in existing):
            continue
        name = partition_name(start, size_s)
        await _create(conn, name, start, end)
        created.append(name)
    return created


async def _create(conn: asyncpg.Connection, name: str, start: datetime, end: datetime) -> None:
    """Create ``name`` as a plain table, move the default partition's rows of its range
    into it, then ATTACH it: ATTACH locks the parent only in SHARE UPDATE EXCLUSIVE mode
    (inserts go on), where CREATE TABLE … PARTITION OF would lock out every insert."""
    table, low, high = quote_ident(name), _literal(start), _literal(end)
    await conn.execute(
        f"CREATE TABLE {table} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
    )
    await conn.execute(
        f"WITH moved AS (DELETE FROM {DEFAULT} WHERE started_at >= {low}"
        f" AND started_at < {high} RETURNING *) INSERT INTO {table} SELECT * FROM moved"
    )
    await conn.execute(
        f"ALTER TABLE {PARENT} ATTACH PARTITION {table} FOR VALUES FROM ({low}) TO ({high})"
    )


def _literal(moment: datetime) -> str:
    # Built from a datetime we computed, never from outside input.
    return f"'{moment.astimezone(UTC).isoformat()}'::timestamptz"


async def default_rows(conn: asyncpg.Connection) -> int:
    """Rows in the default partition, counted up to ``DEFAULT_ROWS_CAP``."""
    return int(await conn.fetchval(_COUNT_DEFAULT))


async def remove_expired(conn: asyncpg.Connection, cutoff: datetime, mode: str) -> list[str]:
    """Drop (``mode="drop"``) or detach (``"detach"``: it stays as a plain table, e.g. to
    archive it) every partition whose range ends at or before ``cutoff``; return names."""
    if mode not in ("drop", "detach"):
        raise ValueError(f"retention mode must be drop or detach, got {mode!r}")
    await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
    removed = []
    for partition in await list_partitions(conn):
        if partition.is_default or partition.upper is None or partition.upper > cutoff:
            continue
        table = quote_ident(partition.name)
        if mode == "drop":
            await conn.execute(f"DROP TABLE {table}")
        else:
            await conn.execute(f"ALTER TABLE {PARENT} DETACH PARTITION {table}")
        removed.append(partition.name)
    return removed


async def prune_rows(conn: asyncpg.Connection, cutoff: datetime, max_rows: int) -> int:
    """Delete up to ``max_rows`` rows started before ``cutoff`` from the partitions pruned
    by rows (default, legacy), by tuple id within each (a ctid is only unique within one
    partition, so never through the parent)."""
    deleted = 0
    for partition in await list_partitions(conn):
        if not partition.pruned_by_rows or deleted >= max_rows:
            continue
        table = quote_ident(partition.name)
        status = await conn.execute(
            f"DELETE FROM {table} WHERE ctid = ANY(ARRAY("
            f"SELECT ctid FROM {table} WHERE started_at < $1 LIMIT $2))",
            cutoff,
            max_rows - deleted,
        )
        deleted += int(status.rsplit(" ", 1)[-1])  # "DELETE <count>"
    return deleted
