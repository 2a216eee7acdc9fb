"""When to re-send an open incident: per notifier, every ``AlertPolicy.reminder_period``.

Reminder number ``k`` of an incident to a notifier is due at ``opened_at + k * period``; the
number is part of the notification key, so it is the same after a restart: a restarted
alerter queues the current period's reminder at once, and if it was queued before the
restart the repository ignores the duplicate key.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable
from datetime import datetime, timedelta

import attrs

from sitemon_core.alerting.models import Incident, IncidentKind
from sitemon_core.alerting.policy import AlertPolicy


@attrs.frozen
class DueReminder:
    """Reminder number ``period`` of ``incident`` to ``notifier`` is due."""

    incident: Incident
    notifier: str
    period: int


class Reminders:
    """A heap of the next reminder of every (open incident, notifier with a period)."""

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int, str, str, IncidentKind, str, float]] = []
        self._tie = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def schedule(self, incident: Incident, policy: AlertPolicy, now: datetime) -> None:
        """Plan the reminders of ``incident`` to each of its notifiers: the current
        period's (due at once if its time has passed), then one per period."""
        for name in policy.notifiers:
            period = policy.reminder_period(name)
            if period is not None:
                self._push(incident, name, period, max(1, _periods(incident, period, now)))

    def due(
        self, now: datetime, open_incident: Callable[[str, IncidentKind], Incident | None]
    ) -> list[DueReminder]:
        """The reminders due at ``now`` of incidents still open (``open_incident`` gives a
        site's open incident of a kind); each is planned again for its next period.
        Entries of closed incidents are forgotten."""
        out: list[DueReminder] = []
        while self._heap and self._heap[0][0] <= now:
            _, _, incident_id, site_id, kind, name, period = heapq.heappop(self._heap)
            incident = open_incident(site_id, kind)
            if incident is None or incident.id != incident_id:
                continue
            number = _periods(incident, period, now)
            out.append(DueReminder(incident, name, number))
            self._push(incident, name, period, number + 1)
        return out

    def _push(self, incident: Incident, name: str, period: float, number: int) -> None:
        due = incident.opened_at + timedelta(seconds=number * period)
        entry = (due, next(self._tie), incident.id, incident.site_id, incident.kind, name, period)
        heapq.heappush(self._heap, entry)


def _periods(incident: Incident, period: float, now: datetime) -> int:
    """How many whole periods have passed since the incident opened."""
    return max(0, math.floor((now - incident.opened_at).total_seconds() / period))
