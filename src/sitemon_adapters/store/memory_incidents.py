"""An in-process IncidentRepository: the unit tests' fake and the contract's reference.

Same semantics as the SQL adapters: an incident's ``resolved_at`` is set once and never
cleared by a replay; a notification is unique by (notifier, key); a notification keeps the
incident as it was when it was queued (only ``resolved_at`` can differ from the stored one).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import attrs

from sitemon_core.alerting.models import DeliveryState, Incident, Notification
from sitemon_core.errors import RepositoryError

_DUE_STATES = (DeliveryState.PENDING, DeliveryState.HELD)


def _check_aware(value: datetime | None, what: str) -> None:
    if value is not None and value.utcoffset() is None:
        raise RepositoryError(f"naive datetime {value.isoformat()} as {what}", retriable=False)


class InMemoryIncidentRepository:
    """Incidents and the notification outbox in dicts."""

    def __init__(self) -> None:
        self._incidents: dict[str, Incident] = {}
        self._outbox: dict[str, Notification] = {}  # by notification id, in insertion order
        self._keys: set[tuple[str, str]] = set()
        self.records = 0

    async def record(self, incident: Incident, notifications: Sequence[Notification]) -> None:
        """Upsert the incident (a stored resolution wins) and add unseen notifications."""
        _check_aware(incident.opened_at, "opened_at")
        _check_aware(incident.resolved_at, "resolved_at")
        stored = self._incidents.get(incident.id)
        if stored is not None and stored.resolved_at is not None:
            incident = attrs.evolve(incident, resolved_at=stored.resolved_at)
        self._incidents[incident.id] = incident
        for notification in notifications:
            unique = (notification.notifier, notification.key)
            if unique not in self._keys and notification.id not in self._outbox:
                self._keys.add(unique)
                self._outbox[notification.id] = notification
        self.records += 1

    async def open_incidents(self) -> list[Incident]:
        """Every incident not resolved yet, oldest first."""
        found = [i for i in self._incidents.values() if i.resolved_at is None]
        return sorted(found, key=lambda i: (i.opened_at, i.id))

    async def find_incident(self, incident_id: str) -> Incident | None:
        """The stored incident with that id, if any."""
        return self._incidents.get(incident_id)

    async def incidents(
        self, *, site_id: str | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[Incident]:
        """Incidents newest first; with ``since``, those open at some time since then."""
        _check_aware(since, "since")
        found = [
            i
            for i in self._incidents.values()
            if (site_id is None or i.site_id == site_id)
            and (since is None or i.resolved_at is None or i.resolved_at >= since)
        ]
        found.sort(key=lambda i: (i.opened_at, i.id), reverse=True)
        return found[: max(0, limit)]

    async def notifications_of(self, incident_id: str) -> list[Notification]:
        """Every notification about one incident, oldest first."""
        found = [n for n in self._outbox.values() if n.incident.id == incident_id]
        return sorted(found, key=_queue_order)

    async def due_notifications(self, now: datetime, limit: int) -> list[Notification]:
        """Pending or held notifications whose ``not_before`` has passed, oldest first."""
        _check_aware(now, "now")
        due = [
            n
            for n in self._outbox.values()
            if n.state in _DUE_STATES and (n.not_before is None or n.not_before <= now)
        ]
        return sorted(due, key=_queue_order)[: max(0, limit)]

    async def update_notification(self, notification: Notification) -> None:
        """Store the delivery fields of ``notification`` (matched by id)."""
        _check_aware(notification.not_before, "not_before")
        stored = self._outbox.get(notification.id)
        if stored is not None:
            self._outbox[notification.id] = attrs.evolve(
                stored,
                state=notification.state,
                attempts=notification.attempts,
                last_error=notification.last_error,
                not_before=notification.not_before,
            )


def _queue_order(notification: Notification) -> tuple[datetime, str, str]:
    return (notification.created_at, notification.key, notification.notifier)
