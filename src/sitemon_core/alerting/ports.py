"""The ports alerting needs: where incidents live, and who is told about them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sitemon_core.alerting.models import Delivery, Incident, Notification


class Notifier(Protocol):
    """Sends one notification once (one HTTP request); the dispatcher does the retries.

    Never raises for a failing receiver: a refused connection, a timeout, a 5xx or a 4xx
    are a ``Delivery`` with ``delivered=False`` (and ``retriable`` for all but a 4xx).
    The whole attempt is bounded by the notifier's timeout, whatever the receiver does
    (a hanging endpoint, a 100 MB answer, bytes dripping in).
    """

    async def send(self, notification: Notification) -> Delivery:
        """Deliver ``notification`` or say why not."""
        ...


class IncidentRepository(Protocol):
    """Incidents and their notification outbox (memory, SQLite, PostgreSQL).

    A transition is stored with the notifications it causes in one transaction, so a
    crash between the two can neither lose a notification nor send one for an incident
    change that was never stored. Every write is idempotent (replays after a crash).
    """

    async def open_incidents(self) -> list[Incident]:
        """Every incident not resolved yet (the alerter rebuilds its state from them)."""
        ...

    async def find_incident(self, incident_id: str) -> Incident | None:
        """The incident as stored now (the dispatcher checks a held notification is still
        relevant), or None if there is no such incident."""
        ...

    async def incidents(
        self, *, site_id: str | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[Incident]:
        """Incidents newest first (by opening), optionally of one site and, with ``since``,
        only those open at some time since then (resolved since, or still open)."""
        ...

    async def record(self, incident: Incident, notifications: Sequence[Notification]) -> None:
        """Store an incident (new, or its new state) and enqueue its notifications, atomically.

        Notifications whose ``key`` is already stored are ignored (idempotent replays).
        """
        ...

    async def due_notifications(self, now: datetime, limit: int) -> list[Notification]:
        """Pending notifications whose ``not_before`` has passed (or is unset), oldest first,
        and held ones whose hold has ended."""
        ...

    async def notifications_of(self, incident_id: str) -> list[Notification]:
        """Every notification queued about one incident, oldest first, with its outcome."""
        ...

    async def update_notification(self, notification: Notification) -> None:
        """Store a notification's new delivery state, attempts, error and ``not_before``."""
        ...
