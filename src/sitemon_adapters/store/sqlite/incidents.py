"""IncidentRepository on SQLite: incidents and the notification outbox, embedded mode.

Its tables have their own schema ledger (``alerting_schema_version``), separate from the
status tables' ``schema_version``: the two evolve independently and ``migrate()`` of either
repository never touches the other's tables (both may live in the same file). Like the
status repository, one worker thread owns the connection and every write is one
``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import attrs

from sitemon_adapters.store.sqlite.connection import SqliteConnection
from sitemon_adapters.store.sqlite.rows import from_micros, to_micros
from sitemon_core.alerting.models import (
    DeliveryState,
    Incident,
    IncidentKind,
    Notification,
    Transition,
)
from sitemon_core.errors import RepositoryError

# Each entry upgrades the alerting tables by one version.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE incidents (
            id            TEXT    NOT NULL PRIMARY KEY,
            site_id       TEXT    NOT NULL,
            url           TEXT    NOT NULL,
            opened_at     INTEGER NOT NULL,
            resolved_at   INTEGER,
            error_kind    TEXT    NOT NULL,
            error_message TEXT    NOT NULL,
            status_code   INTEGER,
            regions       TEXT    NOT NULL,
            tags          TEXT    NOT NULL
        ) STRICT""",
        "CREATE INDEX incidents_open ON incidents (opened_at) WHERE resolved_at IS NULL",
        "CREATE INDEX incidents_site ON incidents (site_id, opened_at DESC)",
        # incident_resolved_at: the incident's resolved_at when the row was queued, so a
        # notification reads back exactly as it was queued (a FIRING stays a firing).
        """CREATE TABLE notifications (
            id                   TEXT    NOT NULL PRIMARY KEY,
            incident_id          TEXT    NOT NULL REFERENCES incidents (id),
            notifier             TEXT    NOT NULL,
            key                  TEXT    NOT NULL,
            transition           TEXT    NOT NULL,
            incident_resolved_at INTEGER,
            created_at           INTEGER NOT NULL,
            state                TEXT    NOT NULL,
            attempts             INTEGER NOT NULL,
            last_error           TEXT    NOT NULL,
            not_before           INTEGER,
            UNIQUE (notifier, key)
        ) STRICT""",
        "CREATE INDEX notifications_due ON notifications (created_at)"
        " WHERE state IN ('pending', 'held')",
        "CREATE INDEX notifications_incident ON notifications (incident_id)",
    ),
    # 2: incidents of a kind: 'down' (every incident before) or 'certificate' (a warning
    # about a certificate expiring soon, with that certificate's not_after).
    (
        "ALTER TABLE incidents ADD COLUMN kind TEXT NOT NULL DEFAULT 'down'"
        " CHECK (kind IN ('down', 'certificate'))",
        "ALTER TABLE incidents ADD COLUMN tls_not_after INTEGER",
    ),
)

_INCIDENT_COLUMNS = (
    "id, site_id, url, opened_at, resolved_at, error_kind, error_message, status_code,"
    " regions, tags, kind, tls_not_after"
)
_UPSERT_INCIDENT = (
    f"INSERT INTO incidents ({_INCIDENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    # A resolution is final: a replayed "still open" record never reopens it.
    " ON CONFLICT (id) DO UPDATE SET resolved_at = coalesce(resolved_at, excluded.resolved_at)"
)
_INSERT_NOTIFICATION = (
    "INSERT INTO notifications (id, incident_id, notifier, key, transition,"
    " incident_resolved_at, created_at, state, attempts, last_error, not_before)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
_SELECT_NOTIFICATIONS = (
    "SELECT n.id, n.notifier, n.key, n.transition, n.incident_resolved_at, n.created_at,"
    " n.state, n.attempts, n.last_error, n.not_before,"
    " i.id, i.site_id, i.url, i.opened_at, i.resolved_at, i.error_kind, i.error_message,"
    " i.status_code, i.regions, i.tags, i.kind, i.tls_not_after"
    " FROM notifications n JOIN incidents i ON i.id = n.incident_id"
)
_QUEUE_ORDER = " ORDER BY n.created_at, n.key, n.notifier"
_SELECT_DUE = (
    _SELECT_NOTIFICATIONS + " WHERE n.state IN ('pending', 'held')"
    " AND (n.not_before IS NULL OR n.not_before <= ?)" + _QUEUE_ORDER + " LIMIT ?"
)
_UPDATE_NOTIFICATION = (
    "UPDATE notifications SET state = ?, attempts = ?, last_error = ?, not_before = ? WHERE id = ?"
)


def _micros(value: datetime | None) -> int | None:
    return None if value is None else to_micros(value)


def _moment(value: int | None) -> datetime | None:
    return None if value is None else from_micros(value)


def incident_row(incident: Incident) -> tuple[Any, ...]:
    """``incident`` as an ``incidents`` row."""
    return (
        incident.id, incident.site_id, incident.url, to_micros(incident.opened_at),
        _micros(incident.resolved_at), incident.error_kind, incident.error_message,
        incident.status_code, json.dumps(incident.regions), json.dumps(incident.tags),
        incident.kind.value, _micros(incident.tls_not_after),
    )  # fmt: skip


def row_incident(row: Sequence[Any]) -> Incident:
    """An ``incidents`` row (in ``_INCIDENT_COLUMNS`` order) as an ``Incident``."""
    return Incident(
        id=row[0], site_id=row[1], url=row[2], opened_at=from_micros(row[3]),
        resolved_at=_moment(row[4]), error_kind=row[5], error_message=row[6],
        status_code=row[7], regions=tuple(json.loads(row[8])), tags=tuple(json.loads(row[9])),
        kind=IncidentKind(row[10]), tls_not_after=_moment(row[11]),
    )  # fmt: skip


def notification_row(n: Notification) -> tuple[Any, ...]:
    """``n`` as a ``notifications`` row."""
    return (
        n.id, n.incident.id, n.notifier, n.key, n.transition.value,
        _micros(n.incident.resolved_at), to_micros(n.created_at), n.state.value, n.attempts,
        n.last_error, _micros(n.not_before),
    )  # fmt: skip


def row_notification(row: Sequence[Any]) -> Notification:
    """A row of ``_SELECT_NOTIFICATIONS`` as the notification it was queued as."""
    incident = row_incident(row[10:])
    if incident.resolved_at != _moment(row[4]):
        incident = attrs.evolve(incident, resolved_at=_moment(row[4]))
    return Notification(
        id=row[0], key=row[2], notifier=row[1], transition=Transition(row[3]),
        incident=incident, created_at=from_micros(row[5]), state=DeliveryState(row[6]),
        attempts=row[7], last_error=row[8], not_before=_moment(row[9]),
    )  # fmt: skip


class SqliteIncidentRepository(SqliteConnection):
    """Incidents and their outbox in one SQLite file (see ``IncidentRepository``).

    Use as an async context manager; call ``migrate()`` once after opening.
    """

    async def migrate(self) -> None:
        """Create or upgrade the alerting tables; a no-op when already up to date."""
        await self.in_transaction(_migrate)

    async def record(self, incident: Incident, notifications: Sequence[Notification]) -> None:
        """Upsert ``incident`` and queue unseen notifications, in one transaction."""
        try:
            incident_values = incident_row(incident)
            rows = [notification_row(n) for n in notifications]
        except ValueError as exc:
            raise RepositoryError(f"cannot store incident: {exc}", retriable=False) from exc

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(_UPSERT_INCIDENT, incident_values)
            conn.executemany(_INSERT_NOTIFICATION, rows)

        await self.in_transaction(write)

    async def open_incidents(self) -> list[Incident]:
        """Every incident not resolved yet, oldest first."""
        rows = await self.query(
            f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE resolved_at IS NULL"
            " ORDER BY opened_at, id",
            (),
        )
        return [row_incident(row) for row in rows]

    async def find_incident(self, incident_id: str) -> Incident | None:
        """The stored incident with that id, if any."""
        rows = await self.query(
            f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE id = ?", (incident_id,)
        )
        return row_incident(rows[0]) if rows else None

    async def incidents(
        self, *, site_id: str | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[Incident]:
        """Incidents newest first; with ``since``, those open at some time since then."""
        if limit <= 0:
            return []
        since_micros = self.micros(since) if since is not None else None
        rows = await self.query(
            f"SELECT {_INCIDENT_COLUMNS} FROM incidents"
            " WHERE (?1 IS NULL OR site_id = ?1)"
            " AND (?2 IS NULL OR resolved_at IS NULL OR resolved_at >= ?2)"
            " ORDER BY opened_at DESC, id DESC LIMIT ?3",
            (site_id, since_micros, limit),
        )
        return [row_incident(row) for row in rows]

    async def notifications_of(self, incident_id: str) -> list[Notification]:
        """Every notification about one incident, oldest first."""
        rows = await self.query(
            _SELECT_NOTIFICATIONS + " WHERE n.incident_id = ?" + _QUEUE_ORDER, (incident_id,)
        )
        return [row_notification(row) for row in rows]

    async def due_notifications(self, now: datetime, limit: int) -> list[Notification]:
        """Pending or held notifications whose ``not_before`` has passed, oldest first."""
        if limit <= 0:
            return []
        rows = await self.query(_SELECT_DUE, (self.micros(now), limit))
        return [row_notification(row) for row in rows]

    async def update_notification(self, notification: Notification) -> None:
        """Store the delivery fields of ``notification`` (matched by id)."""
        n = notification
        values = (n.state.value, n.attempts, n.last_error, self.micros(n.not_before), n.id)
        await self.in_transaction(lambda conn: conn.execute(_UPDATE_NOTIFICATION, values))


def _migrate(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS alerting_schema_version (version INTEGER NOT NULL)")
    row = conn.execute("SELECT max(version) FROM alerting_schema_version").fetchone()
    current = row[0] or 0
    for version, statements in enumerate(MIGRATIONS[current:], start=current + 1):
        for statement in statements:
            conn.execute(statement)
        conn.execute("INSERT INTO alerting_schema_version (version) VALUES (?)", (version,))
