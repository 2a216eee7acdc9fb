"""What a (re)starting alerter reads back from the store so it repeats nothing.

A site with an open incident starts ``DOWN`` (no second ``FIRING``; its ``RESOLVED`` is
owed if its ``FIRING`` was queued). Every site whose last incident changed within the
restore window ignores results not newer than that change: they belong to the batch that
was stored but not acknowledged before the stop, and are delivered again. Certificate
warnings are restored the same way, apart: they never make a site ``DOWN``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import attrs

from sitemon_core.alerting.models import DeliveryState, Incident, IncidentKind, Transition
from sitemon_core.alerting.ports import IncidentRepository
from sitemon_core.alerting.state import SiteTracker

# Enough for every site of the largest deployment sitemon targets; incidents() is
# newest first, so a cut only loses the oldest (least likely to be replayed).
_MAX_RECENT = 1_000_000


@attrs.frozen
class Restored:
    """Open incidents (with whether their ``FIRING`` was queued) and each site's newest
    incident resolved within the window."""

    open: list[tuple[Incident, bool]]
    resolved: list[Incident]
    holds: dict[str, datetime]  # incident id -> end of its held FIRING's hold

    def trackers(self) -> Iterator[tuple[Incident, SiteTracker]]:
        """Each site's newest outage and the tracker it restarts with."""
        for incident in self.resolved:
            if incident.kind is IncidentKind.DOWN:
                yield incident, SiteTracker(since=incident.resolved_at)
        for incident, notified in self.open:  # after: an open incident is the newest
            if incident.kind is IncidentKind.DOWN:
                yield (
                    incident,
                    SiteTracker.restored_down(notified=notified, since=incident.opened_at),
                )

    def certificates(self) -> Iterator[Incident]:
        """Each site's newest certificate warning (resolved within the window, or open)."""
        for incident in self.resolved:
            if incident.kind is IncidentKind.CERTIFICATE:
                yield incident
        for incident, _ in self.open:  # after: an open warning is the site's newest
            if incident.kind is IncidentKind.CERTIFICATE:
                yield incident


async def read_stored(repository: IncidentRepository, since: datetime) -> Restored:
    """Read what the store says about the sites' alert state (see the module's doc)."""
    opened: list[tuple[Incident, bool]] = []
    holds: dict[str, datetime] = {}
    for incident in await repository.open_incidents():
        queued = await repository.notifications_of(incident.id)
        # No FIRING was queued when the incident opened while its site was flapping.
        firing = [n for n in queued if n.transition is Transition.FIRING]
        opened.append((incident, bool(firing)))
        for n in firing:
            if n.state is DeliveryState.HELD and n.not_before is not None:
                holds[incident.id] = max(n.not_before, holds.get(incident.id, n.not_before))
    newest: dict[tuple[str, IncidentKind], Incident] = {}
    for incident in await repository.incidents(since=since, limit=_MAX_RECENT):
        if incident.resolved_at is not None:
            newest.setdefault((incident.site_id, incident.kind), incident)
    return Restored(open=opened, resolved=list(newest.values()), holds=holds)
