"""IncidentRepository on PostgreSQL (tables of migrations 0003 and 0007) through an asyncpg
pool.

``record`` is one transaction: an upsert of the incident (a stored resolution wins) and an
``INSERT … ON CONFLICT DO NOTHING`` of its notifications (unique by notifier and key), so
replays after a crash change nothing. Text is cleaned with ``clean_text`` like results.
The pool follows ``pool``'s rules, so the alerter and the web's incident reads work behind
PgBouncer in transaction mode (with ``statement_cache_size: 0``).
"""

from __future__ import annotations

import ssl as ssl_module
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self

import attrs

from sitemon_adapters.store.postgres.migrations import apply_migrations
from sitemon_adapters.store.postgres.pool import PoolSettings, PostgresPool
from sitemon_adapters.store.postgres.rows import clean_text
from sitemon_core.alerting.models import (
    DeliveryState,
    Incident,
    IncidentKind,
    Notification,
    Transition,
)
from sitemon_core.errors import RepositoryError

_INCIDENT_COLUMNS = (
    "id, site_id, url, opened_at, resolved_at, error_kind, error_message, status_code,"
    " regions, tags, kind, tls_not_after"
)
_SELECT_NOTIFICATIONS = """
SELECT n.id, n.notifier, n.key, n.transition, n.incident_resolved_at, n.created_at, n.state,
       n.attempts, n.last_error, n.not_before,
       i.id, i.site_id, i.url, i.opened_at, i.resolved_at, i.error_kind, i.error_message,
       i.status_code, i.regions, i.tags, i.kind, i.tls_not_after
FROM {s}.notifications n JOIN {s}.incidents i ON i.id = n.incident_id"""
_QUEUE_ORDER = " ORDER BY n.created_at, n.key, n.notifier"


@attrs.frozen
class _Statements:
    """The SQL with every table named ``schema.table`` (``{s}`` in the templates): no
    search_path is needed, so a read is one round trip outside any transaction, and the
    repository works behind PgBouncer in transaction mode."""

    upsert_incident: str = f"""
INSERT INTO {{s}}.incidents AS i ({_INCIDENT_COLUMNS})
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (id) DO UPDATE SET resolved_at = coalesce(i.resolved_at, excluded.resolved_at)"""
    insert_notification: str = """
INSERT INTO {s}.notifications (id, incident_id, notifier, key, transition,
                               incident_resolved_at, created_at, state, attempts,
                               last_error, not_before)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING"""
    select_due: str = (
        _SELECT_NOTIFICATIONS + " WHERE n.state IN ('pending', 'held')"
        " AND (n.not_before IS NULL OR n.not_before <= $1)" + _QUEUE_ORDER + " LIMIT $2"
    )
    select_of: str = _SELECT_NOTIFICATIONS + " WHERE n.incident_id = $1" + _QUEUE_ORDER
    select_incidents: str = f"""
SELECT {_INCIDENT_COLUMNS} FROM {{s}}.incidents
WHERE ($1::text IS NULL OR site_id = $1)
  AND ($2::timestamptz IS NULL OR resolved_at IS NULL OR resolved_at >= $2)
ORDER BY opened_at DESC, id DESC LIMIT $3"""
    select_open: str = (
        f"SELECT {_INCIDENT_COLUMNS} FROM {{s}}.incidents WHERE resolved_at IS NULL"
        " ORDER BY opened_at, id"
    )
    select_incident: str = f"SELECT {_INCIDENT_COLUMNS} FROM {{s}}.incidents WHERE id = $1"
    update_notification: str = """
UPDATE {s}.notifications SET state = $1, attempts = $2, last_error = $3, not_before = $4
WHERE id = $5"""

    @classmethod
    def in_schema(cls, schema_sql: str) -> _Statements:
        """Every statement with ``{s}`` replaced by the quoted schema."""
        templates = attrs.asdict(cls())
        return cls(**{name: sql.replace("{s}", schema_sql) for name, sql in templates.items()})


def _aware(value: datetime | None, what: str) -> datetime | None:
    if value is not None and value.utcoffset() is None:
        # asyncpg would read a naive datetime as local time: refuse to guess the instant.
        raise RepositoryError(f"naive datetime {value.isoformat()} as {what}", retriable=False)
    return value


def incident_record(i: Incident) -> tuple[Any, ...]:
    """``i`` as the parameters of ``_UPSERT_INCIDENT``."""
    return (
        clean_text(i.id), clean_text(i.site_id), clean_text(i.url),
        _aware(i.opened_at, "opened_at"), _aware(i.resolved_at, "resolved_at"),
        clean_text(i.error_kind), clean_text(i.error_message), i.status_code,
        [clean_text(r) for r in i.regions], [clean_text(t) for t in i.tags], i.kind.value,
        _aware(i.tls_not_after, "tls_not_after"),
    )  # fmt: skip


def record_incident(r: Sequence[Any]) -> Incident:
    """A row in ``_INCIDENT_COLUMNS`` order as an ``Incident``."""
    return Incident(
        id=r[0], site_id=r[1], url=r[2], opened_at=r[3], resolved_at=r[4], error_kind=r[5],
        error_message=r[6], status_code=r[7], regions=tuple(r[8]), tags=tuple(r[9]),
        kind=IncidentKind(r[10]), tls_not_after=r[11],
    )  # fmt: skip


def notification_record(n: Notification) -> tuple[Any, ...]:
    """``n`` as the parameters of ``_INSERT_NOTIFICATION``."""
    return (
        clean_text(n.id), clean_text(n.incident.id), clean_text(n.notifier), clean_text(n.key),
        n.transition.value, _aware(n.incident.resolved_at, "resolved_at"),
        _aware(n.created_at, "created_at"), n.state.value, n.attempts, clean_text(n.last_error),
        _aware(n.not_before, "not_before"),
    )  # fmt: skip


def record_notification(r: Sequence[Any]) -> Notification:
    """A row of ``_SELECT_NOTIFICATIONS`` as the notification it was queued as."""
    incident = record_incident(r[10:])
    if incident.resolved_at != r[4]:
        incident = attrs.evolve(incident, resolved_at=r[4])
    return Notification(
        id=r[0], notifier=r[1], key=r[2], transition=Transition(r[3]), incident=incident,
        created_at=r[5], state=DeliveryState(r[6]), attempts=r[7], last_error=r[8],
        not_before=r[9],
    )  # fmt: skip


class PostgresIncidentRepository:
    """Incidents and their outbox in PostgreSQL (see ``IncidentRepository``).

    Use as an async context manager, then call ``migrate()`` (the same versioned
    migrations as ``PostgresStatusRepository``). Every failure is a ``RepositoryError``.
    """

    def __init__(
        self,
        dsn: str,
        *,
        schema: str = "public",
        pool_min: int = 1,
        pool_max: int = 2,
        ssl: ssl_module.SSLContext | None = None,
        connect_timeout_s: float = 10.0,
        command_timeout_s: float = 60.0,
        application_name: str = "sitemon-alerting",
        statement_cache_size: int = 100,
    ) -> None:
        settings = PoolSettings(
            schema=schema, pool_min=pool_min, pool_max=pool_max, ssl=ssl,
            connect_timeout_s=connect_timeout_s, command_timeout_s=command_timeout_s,
            application_name=application_name, statement_cache_size=statement_cache_size,
        )  # fmt: skip
        self._pool = PostgresPool(dsn, settings)
        self._schema = schema
        self._sql = _Statements.in_schema(self._pool.schema)

    def __repr__(self) -> str:
        # Never the DSN: it may hold a password.
        return f"PostgresIncidentRepository(schema={self._schema!r})"

    async def __aenter__(self) -> Self:
        await self._pool.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._pool.close()

    async def migrate(self) -> list[int]:
        """Create or upgrade the schema (every sitemon table); return the versions applied."""
        async with self._pool.connection("migrate") as conn:
            return await apply_migrations(conn, self._schema)

    async def record(self, incident: Incident, notifications: Sequence[Notification]) -> None:
        """Upsert ``incident`` and queue unseen notifications, in one transaction."""
        values = incident_record(incident)
        rows = [notification_record(n) for n in notifications]
        async with self._pool.connection("record") as conn, conn.transaction():
            await conn.execute(self._sql.upsert_incident, *values)
            if rows:
                await conn.executemany(self._sql.insert_notification, rows)

    async def open_incidents(self) -> list[Incident]:
        """Every incident not resolved yet, oldest first."""
        async with self._pool.connection("open incidents") as conn:
            return [record_incident(r) for r in await conn.fetch(self._sql.select_open)]

    async def find_incident(self, incident_id: str) -> Incident | None:
        """The stored incident with that id, if any."""
        async with self._pool.connection("find incident") as conn:
            row = await conn.fetchrow(self._sql.select_incident, clean_text(incident_id))
        return None if row is None else record_incident(row)

    async def incidents(
        self, *, site_id: str | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[Incident]:
        """Incidents newest first; with ``since``, those open at some time since then."""
        if limit <= 0:
            return []
        site = None if site_id is None else clean_text(site_id)
        since = _aware(since, "since")
        async with self._pool.connection("incidents") as conn:
            rows = await conn.fetch(self._sql.select_incidents, site, since, limit)
        return [record_incident(r) for r in rows]

    async def notifications_of(self, incident_id: str) -> list[Notification]:
        """Every notification about one incident, oldest first."""
        async with self._pool.connection("notifications") as conn:
            rows = await conn.fetch(self._sql.select_of, clean_text(incident_id))
        return [record_notification(r) for r in rows]

    async def due_notifications(self, now: datetime, limit: int) -> list[Notification]:
        """Pending or held notifications whose ``not_before`` has passed, oldest first."""
        if limit <= 0:
            return []
        async with self._pool.connection("due notifications") as conn:
            rows = await conn.fetch(self._sql.select_due, _aware(now, "now"), limit)
        return [record_notification(r) for r in rows]

    async def update_notification(self, notification: Notification) -> None:
        """Store the delivery fields of ``notification`` (matched by id)."""
        n = notification
        values = (n.state.value, n.attempts, clean_text(n.last_error))
        not_before = _aware(n.not_before, "not_before")
        async with self._pool.connection("update notification") as conn:
            await conn.execute(self._sql.update_notification, *values, not_before, clean_text(n.id))
