"""The alerter use case: results in, incidents and queued notifications out.

Certificate warnings (``certificates.py``) are tracked beside the up/down state, from the
same results, as incidents of their own kind.

It never sends anything itself: every change is stored with the notifications it causes
(the outbox) and a ``Dispatcher`` delivers them, so a slow or dead receiver cannot delay
the checks, the persister or this loop. A batch is acknowledged only after every change
it caused is stored; a crash before that replays the batch, and the repository's
idempotent writes make the replay harmless.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

import attrs

from sitemon_core.alerting.certificates import CertificateWatch
from sitemon_core.alerting.maintenance import Maintenance
from sitemon_core.alerting.models import (
    DeliveryState,
    Incident,
    IncidentKind,
    Notification,
    Transition,
)
from sitemon_core.alerting.policy import SiteAlerting
from sitemon_core.alerting.ports import IncidentRepository
from sitemon_core.alerting.queueing import NotificationQueue
from sitemon_core.alerting.records import IdFactory, new_id, open_incident
from sitemon_core.alerting.restore import read_stored
from sitemon_core.alerting.state import Change, Event, SiteTracker
from sitemon_core.errors import RepositoryError, SubscriberError
from sitemon_core.models import CheckResult
from sitemon_core.persister import Backoff
from sitemon_core.ports import Batch, Clock, StatusSubscriber
from sitemon_core.waiting import sleep_unless

log = logging.getLogger("sitemon.alerter")

Record = tuple[Incident, list[Notification]]

DEFAULT_SITE = SiteAlerting()
NO_MAINTENANCE = Maintenance()
DEFAULT_BACKOFF = Backoff()

_TRANSITIONS = {
    Event.DOWN: Transition.FIRING,
    Event.STILL_DOWN: Transition.FIRING,
    Event.UP: Transition.RESOLVED,
    Event.FLAPPING: Transition.FLAPPING,
}


@attrs.define
class AlerterStats:
    """Counters an alerter keeps."""

    batches: int = 0
    results: int = 0
    incidents_opened: int = 0
    incidents_resolved: int = 0
    flapping: int = 0
    certificate_warnings_opened: int = 0
    certificate_warnings_resolved: int = 0
    notifications_enqueued: int = 0
    notifications_held: int = 0
    reminders: int = 0
    retries: int = 0


class Alerter:
    """Keeps every site's alert state and records incidents with their notifications.

    ``sites`` maps a site id to its alerting settings; a result of any other site uses
    ``default``. ``restore_window_s``: how far back a restart looks for resolved incidents
    (results up to their resolution are ignored: a replay). ``on_queued`` is called after
    notifications were stored (``Dispatcher.wake`` in one process). Call ``run`` once;
    ``request_stop`` ends it after the batch in hand.
    """

    def __init__(
        self,
        subscriber: StatusSubscriber,
        repository: IncidentRepository,
        clock: Clock,
        *,
        sites: Mapping[str, SiteAlerting],
        default: SiteAlerting = DEFAULT_SITE,
        maintenance: Maintenance = NO_MAINTENANCE,
        batch_size: int = 5000,
        poll_timeout_s: float = 0.5,
        backoff: Backoff = DEFAULT_BACKOFF,
        restore_window_s: float = 3600.0,
        on_queued: Callable[[], object] | None = None,
        make_id: IdFactory = new_id,
    ) -> None:
        self._subscriber = subscriber
        self._repository = repository
        self._clock = clock
        self._sites = sites
        self._default = default
        self._batch_size = batch_size
        self._poll_timeout_s = poll_timeout_s
        self._backoff = backoff
        self._make_id = make_id
        self._restore_window_s = restore_window_s
        self._on_queued = on_queued
        self._trackers: dict[str, SiteTracker] = {}
        self._open: dict[str, Incident] = {}  # site id -> its open incident
        self._latest: dict[str, Incident] = {}  # site id -> its newest incident
        self._certificates = CertificateWatch(make_id)
        self._queue = NotificationQueue(maintenance, make_id)
        self._stop = asyncio.Event()
        self.stats = AlerterStats()

    def request_stop(self) -> None:
        """Finish the batch in hand (if it can be stored now), then return from ``run``."""
        self._stop.set()

    async def run(self) -> AlerterStats:
        """Restore state from the open incidents, then receive → record → acknowledge."""
        if not await self._restore():
            return self.stats
        while not self._stop.is_set():
            batch = await self._receive()
            if batch is not None and (batch.results or batch.token is not None):
                if not await self._handle(batch):
                    break
            elif batch is not None:
                await asyncio.sleep(0)  # an adapter answering at once must not starve us
            if not await self._send_reminders():
                break
        return self.stats

    async def _restore(self) -> bool:
        """Rebuild the sites' state from the store (see ``restore``); False if stopped."""
        now = self._clock.utcnow()
        attempt = 0
        while True:
            try:
                restored = await read_stored(
                    self._repository, now - timedelta(seconds=self._restore_window_s)
                )
                break
            except RepositoryError as exc:
                if not exc.retriable:
                    raise
                attempt += 1
                if await self._retry_pause(exc, "restore", attempt):
                    return False
        self._queue.holds.update(restored.holds)
        for incident, tracker in restored.trackers():
            self._trackers[incident.site_id] = tracker
            self._latest[incident.site_id] = incident
            if incident.is_open:
                self._open[incident.site_id] = incident
                if tracker.notified:
                    self._queue.reminders.schedule(
                        incident, self._site(incident.site_id).policy, now
                    )
        for incident in restored.certificates():
            self._certificates.restore(incident)
            if incident.is_open:
                self._queue.reminders.schedule(incident, self._site(incident.site_id).policy, now)
        return True

    async def _handle(self, batch: Batch) -> bool:
        records: list[Record] = []
        now = self._clock.utcnow()
        for result in batch.results:
            site = self._site(result.site_id)
            tracker = self._trackers.get(result.site_id)
            if tracker is None:
                tracker = self._trackers[result.site_id] = SiteTracker()
            for change in tracker.observe(result, site.policy, site.interval_s):
                record = self._apply(change, site, now)
                if record is not None:
                    records.append(record)
            certificate = self._certificate(result, site, now)
            if certificate is not None:
                records.append(certificate)
        self.stats.results += len(batch.results)
        if not await self._store(records):
            return False
        self.stats.batches += 1
        await self._acknowledge(batch)
        return True

    def _apply(self, change: Change, site: SiteAlerting, now: datetime) -> Record | None:
        """Update the open incidents for ``change``; the incident and notifications to store."""
        site_id = change.result.site_id
        owed = True
        if change.event is Event.DOWN:
            incident = open_incident(change, site.tags, self._make_id)
            self._open[site_id] = self._latest[site_id] = incident
            self.stats.incidents_opened += 1
        elif change.event is Event.UP:
            opened = self._open.pop(site_id, None)
            if opened is None:
                return None
            incident = attrs.evolve(opened, resolved_at=change.result.started_at)
            self._latest[site_id] = incident
            self.stats.incidents_resolved += 1
            owed = self._queue.resolution_owed(incident, change.result.started_at)
        else:  # FLAPPING or STILL_DOWN: about the newest incident
            found = self._latest.get(site_id)
            if found is None:
                return None
            incident = found
            self.stats.flapping += change.event is Event.FLAPPING
        if not (change.notify and owed):
            return incident, []
        return self._notify(incident, _TRANSITIONS[change.event], site, change.result, now)

    def _certificate(self, result: CheckResult, site: SiteAlerting, now: datetime) -> Record | None:
        """Open or resolve the site's certificate warning for ``result``."""
        change = self._certificates.observe(result, site.tls_expiry_warning_s, site.tags)
        if change is None:
            return None
        incident = change.incident
        if change.transition is Transition.FIRING:
            self.stats.certificate_warnings_opened += 1
        else:
            self.stats.certificate_warnings_resolved += 1
            if not self._queue.resolution_owed(incident, result.started_at):
                return incident, []
        return self._notify(incident, change.transition, site, result, now)

    def _notify(
        self,
        incident: Incident,
        transition: Transition,
        site: SiteAlerting,
        result: CheckResult,
        now: datetime,
    ) -> Record:
        """The record of ``incident`` with its notifications (held in maintenance)."""
        queued = self._queue.notify(incident, transition, site, result.started_at, now)
        self._count(queued)
        return incident, queued

    def _count(self, queued: list[Notification]) -> None:
        self.stats.notifications_enqueued += len(queued)
        self.stats.notifications_held += sum(n.state is DeliveryState.HELD for n in queued)

    async def _send_reminders(self) -> bool:
        """Queue the reminders due now (none while the site is in maintenance)."""
        if not len(self._queue.reminders):
            return True
        now = self._clock.utcnow()
        records: list[Record] = []
        for due, queued in self._queue.due_reminders(now, self._open_incident, self._site):
            self._count(queued)
            self.stats.reminders += len(queued)
            records.append((due.incident, queued))
        return await self._store(records)

    def _open_incident(self, site_id: str, kind: IncidentKind) -> Incident | None:
        opened = self._open if kind is IncidentKind.DOWN else self._certificates.open
        return opened.get(site_id)

    def _site(self, site_id: str) -> SiteAlerting:
        return self._sites.get(site_id, self._default)

    async def _store(self, records: list[Record]) -> bool:
        """Record each change in order, retrying retriable failures; False when stopping."""
        for incident, queued in records:
            attempt = 0
            while True:
                try:
                    await self._repository.record(incident, queued)
                    break
                except RepositoryError as exc:
                    if not exc.retriable:
                        raise
                    attempt += 1
                    self.stats.retries += 1
                    if await self._retry_pause(exc, "record", attempt):
                        return False
        if self._on_queued is not None and any(queued for _, queued in records):
            self._on_queued()
        return True

    async def _retry_pause(self, exc: RepositoryError, operation: str, attempt: int) -> bool:
        delay = self._backoff.delay(attempt)
        log.warning(
            f"{operation} failed, retrying",
            extra={"error": str(exc), "attempt": attempt, "retry_in_s": delay},
        )
        return await sleep_unless(self._clock, delay, self._stop)

    async def _receive(self) -> Batch | None:
        try:
            return await self._subscriber.receive(self._batch_size, self._poll_timeout_s)
        except SubscriberError as exc:
            if not exc.retriable:
                raise
            log.warning("receive failed, retrying", extra={"error": str(exc)})
            await sleep_unless(self._clock, self._backoff.initial_s, self._stop)
            return None

    async def _acknowledge(self, batch: Batch) -> None:
        try:
            await self._subscriber.acknowledge(batch)
        except SubscriberError as exc:
            if not exc.retriable:
                raise
            # The batch comes again; its results are no newer than those seen, so ignored.
            log.warning("acknowledge failed", extra={"error": str(exc)})
