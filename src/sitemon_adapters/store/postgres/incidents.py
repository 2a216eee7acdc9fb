"""IncidentRepository on PostgreSQL (tables of migrations 0003 and 0007) through an asyncpg
pool.

``record`` is one transaction: an upsert of the incident (a stored resolution wins) and an
``INSERT … ON CONFLICT DO NOTHING`` of its notifications (unique by notifier and key), so
replays after a crash change nothing. Text is cleaned with ``clean_text`` like results.
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from types import TracebackType
from typing import Any, Self

import asyncpg  # no stubs: Any at our boundary, typed by our signatures
import attrs

from sitemon_adapters.store.postgres.dsn import dsn_passwords
from sitemon_adapters.store.postgres.errors import TRANSLATED, leaks, translate
from sitemon_adapters.store.postgres.migrations import apply_migrations, quote_ident
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
_UPSERT_INCIDENT = f"""
INSERT INTO incidents ({_INCIDENT_COLUMNS})
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (id) DO UPDATE SET resolved_at = coalesce(incidents.resolved_at, excluded.resolved_at)
"""
_INSERT_NOTIFICATION = """
INSERT INTO notifications (id, incident_id, notifier, key, transition, incident_resolved_at,
                           created_at, state, attempts, last_error, not_before)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING
"""
_SELECT_NOTIFICATIONS = """
SELECT n.id, n.notifier, n.key, n.transition, n.incident_resolved_at, n.created_at, n.state,
       n.attempts, n.last_error, n.not_before,
       i.id, i.site_id, i.url, i.opened_at, i.resolved_at, i.error_kind, i.error_message,
       i.status_code, i.regions, i.tags, i.kind, i.tls_not_after
FROM notifications n JOIN incidents i ON i.id = n.incident_id"""
_QUEUE_ORDER = " ORDER BY n.created_at, n.key, n.notifier"
_SELECT_DUE = (
    _SELECT_NOTIFICATIONS + " WHERE n.state IN ('pending', 'held')"
    " AND (n.not_before IS NULL OR n.not_before <= $1)" + _QUEUE_ORDER + " LIMIT $2"
)
_SELECT_OF = _SELECT_NOTIFICATIONS + " WHERE n.incident_id = $1" + _QUEUE_ORDER
_SELECT_INCIDENTS = f"""
SELECT {_INCIDENT_COLUMNS} FROM incidents
WHERE ($1::text IS NULL OR site_id = $1)
  AND ($2::timestamptz IS NULL OR resolved_at IS NULL OR resolved_at >= $2)
ORDER BY opened_at DESC, id DESC LIMIT $3"""
_UPDATE_NOTIFICATION = """
UPDATE notifications SET state = $1, attempts = $2, last_error = $3, not_before = $4
WHERE id = $5"""


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
    ) -> None:
        if not schema:
            raise ValueError("schema must not be empty")
        self._dsn = dsn
        self._secrets = dsn_passwords(dsn)
        self._schema = schema
        self._options: dict[str, Any] = {
            "min_size": pool_min,
            "max_size": pool_max,
            "timeout": connect_timeout_s,
            "command_timeout": command_timeout_s,
            "server_settings": {
                "search_path": quote_ident(schema),
                "application_name": application_name,
            },
        }
        if ssl is not None:  # otherwise the DSN's sslmode (default: prefer) applies
            self._options["ssl"] = ssl
        self._command_timeout_s = command_timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._pool: asyncpg.Pool | None = None

    def __repr__(self) -> str:
        # Never the DSN: it may hold a password.
        return f"PostgresIncidentRepository(schema={self._schema!r})"

    async def __aenter__(self) -> Self:
        try:
            self._pool = await asyncpg.create_pool(self._dsn, **self._options)
        except TRANSLATED as exc:
            raise self._error(exc, "connect") from self._cause(exc)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), self._connect_timeout_s)
        except (TimeoutError, *TRANSLATED):
            pool.terminate()

    async def migrate(self) -> list[int]:
        """Create or upgrade the schema (every sitemon table); return the versions applied."""
        async with self._connection("migrate") as conn:
            return await apply_migrations(conn, self._schema)

    async def record(self, incident: Incident, notifications: Sequence[Notification]) -> None:
        """Upsert ``incident`` and queue unseen notifications, in one transaction."""
        values = incident_record(incident)
        rows = [notification_record(n) for n in notifications]
        async with self._connection("record") as conn, conn.transaction():
            await conn.execute(_UPSERT_INCIDENT, *values)
            if rows:
                await conn.executemany(_INSERT_NOTIFICATION, rows)

    async def open_incidents(self) -> list[Incident]:
        """Every incident not resolved yet, oldest first."""
        sql = (
            f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE resolved_at IS NULL"
            " ORDER BY opened_at, id"
        )
        async with self._connection("open incidents") as conn:
            return [record_incident(r) for r in await conn.fetch(sql)]

    async def find_incident(self, incident_id: str) -> Incident | None:
        """The stored incident with that id, if any."""
        sql = f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE id = $1"
        async with self._connection("find incident") as conn:
            row = await conn.fetchrow(sql, clean_text(incident_id))
        return None if row is None else record_incident(row)

    async def incidents(
        self, *, site_id: str | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[Incident]:
        """Incidents newest first; with ``since``, those open at some time since then."""
        if limit <= 0:
            return []
        site = None if site_id is None else clean_text(site_id)
        async with self._connection("incidents") as conn:
            rows = await conn.fetch(_SELECT_INCIDENTS, site, _aware(since, "since"), limit)
        return [record_incident(r) for r in rows]

    async def notifications_of(self, incident_id: str) -> list[Notification]:
        """Every notification about one incident, oldest first."""
        async with self._connection("notifications") as conn:
            rows = await conn.fetch(_SELECT_OF, clean_text(incident_id))
        return [record_notification(r) for r in rows]

    async def due_notifications(self, now: datetime, limit: int) -> list[Notification]:
        """Pending or held notifications whose ``not_before`` has passed, oldest first."""
        if limit <= 0:
            return []
        async with self._connection("due notifications") as conn:
            rows = await conn.fetch(_SELECT_DUE, _aware(now, "now"), limit)
        return [record_notification(r) for r in rows]

    async def update_notification(self, notification: Notification) -> None:
        """Store the delivery fields of ``notification`` (matched by id)."""
        n = notification
        values = (n.state.value, n.attempts, clean_text(n.last_error))
        not_before = _aware(n.not_before, "not_before")
        async with self._connection("update notification") as conn:
            await conn.execute(_UPDATE_NOTIFICATION, *values, not_before, clean_text(n.id))

    @asynccontextmanager
    async def _connection(self, operation: str) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection; any driver or socket error becomes ``RepositoryError``."""
        pool = self._pool
        if pool is None:
            raise RepositoryError("the PostgreSQL repository is not open", retriable=False)
        try:
            async with pool.acquire(timeout=self._command_timeout_s) as conn:
                yield conn
        except TRANSLATED as exc:
            raise self._error(exc, operation) from self._cause(exc)

    def _error(self, exc: BaseException, operation: str) -> RepositoryError:
        return translate(exc, operation, self._secrets)

    def _cause(self, exc: BaseException) -> BaseException | None:
        # Keep the driver exception for debugging unless it would print the password.
        return None if leaks(exc, self._secrets) else exc
