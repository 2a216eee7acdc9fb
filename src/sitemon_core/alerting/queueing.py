"""What a change queues: one notification per notifier, held while the site is in
maintenance, and the reminders of a firing incident planned.

A ``RESOLVED`` is owed only if its ``FIRING`` is or will be sent: an incident that closed
before its held ``FIRING``'s hold ended has that ``FIRING`` dropped by the dispatcher, so
nothing about it is sent at all.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sitemon_core.alerting.maintenance import Maintenance
from sitemon_core.alerting.models import Incident, IncidentKind, Notification, Transition
from sitemon_core.alerting.policy import SiteAlerting
from sitemon_core.alerting.records import IdFactory, notifications
from sitemon_core.alerting.reminders import DueReminder, Reminders


class NotificationQueue:
    """Builds the notifications of changes and keeps what later ones depend on: the holds
    of ``FIRING`` notifications (by incident id) and the reminders' schedule."""

    def __init__(self, maintenance: Maintenance, make_id: IdFactory) -> None:
        self._maintenance = maintenance
        self._make_id = make_id
        self.holds: dict[str, datetime] = {}  # incident id -> end of its FIRING's hold
        self.reminders = Reminders()

    def resolution_owed(self, incident: Incident, resolved_at: datetime) -> bool:
        """Whether a ``RESOLVED`` is owed for ``incident`` closing at ``resolved_at``."""
        firing_hold = self.holds.pop(incident.id, None)
        return firing_hold is None or resolved_at >= firing_hold

    def notify(
        self,
        incident: Incident,
        transition: Transition,
        site: SiteAlerting,
        at: datetime,
        now: datetime,
    ) -> list[Notification]:
        """The notifications of a change at ``at`` (held in maintenance); a ``FIRING``
        plans the incident's reminders."""
        hold = self._maintenance.in_maintenance(incident.site_id, site.tags, at)
        if transition is Transition.FIRING:
            self.reminders.schedule(incident, site.policy, now)
            if hold is not None:
                self.holds[incident.id] = hold
        return self.build(incident, transition, site.policy.notifiers, now=now, hold=hold)

    def due_reminders(
        self,
        now: datetime,
        open_incident: Callable[[str, IncidentKind], Incident | None],
        site_of: Callable[[str], SiteAlerting],
    ) -> list[tuple[DueReminder, list[Notification]]]:
        """The reminders due now with their notification (none in maintenance)."""
        out = []
        for due in self.reminders.due(now, open_incident):
            site = site_of(due.incident.site_id)
            if self._maintenance.in_maintenance(due.incident.site_id, site.tags, now):
                continue
            queued = self.build(
                due.incident,
                Transition.REMINDER,
                (due.notifier,),
                now=now,
                hold=None,
                period=due.period,
            )
            out.append((due, queued))
        return out

    def build(
        self,
        incident: Incident,
        transition: Transition,
        names: tuple[str, ...],
        *,
        now: datetime,
        hold: datetime | None,
        period: int | None = None,
    ) -> list[Notification]:
        """One notification per notifier name."""
        return notifications(
            incident,
            transition,
            names,
            now=now,
            hold_until=hold,
            period=period,
            make_id=self._make_id,
        )
