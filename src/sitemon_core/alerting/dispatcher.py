"""The dispatcher use case: deliver the outbox's due notifications, with retries.

Up to ``max_concurrency`` sends run at once (at most ``max_per_notifier`` to one notifier,
so one hanging receiver cannot take every slot; each send is bounded by the notifier's own
timeout), and one at a time per incident and notifier, oldest first. The outcome of
every attempt is stored on the notification:

- delivered: ``DELIVERED``;
- a retriable failure (5xx, timeout, refused): ``PENDING`` again with ``not_before`` after an
  exponential backoff, until the backoffs add up past ``deadline_s``: then ``FAILED``;
- a non-retriable failure (4xx) or a notifier name nobody configured: ``FAILED`` at once;
- a ``HELD`` notification (maintenance) whose hold ended: sent if its incident was still open
  when the hold ended, else ``DROPPED`` (it opened and closed inside the window). A held
  ``RESOLVED`` is always sent: the alerter queues it only when its ``FIRING`` is or will be
  sent (see ``Alerter._apply``), so dropping it would leave a receiver firing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import timedelta

import attrs

from sitemon_core.alerting.models import (
    Delivery,
    DeliveryState,
    Notification,
    Transition,
)
from sitemon_core.alerting.ports import IncidentRepository, Notifier
from sitemon_core.errors import RepositoryError
from sitemon_core.persister import Backoff
from sitemon_core.ports import Clock
from sitemon_core.waiting import sleep_unless

log = logging.getLogger("sitemon.dispatcher")

DEFAULT_RETRY = Backoff(initial_s=1.0, maximum_s=300.0, factor=2.0)


@attrs.define
class DispatcherStats:
    """Counters a dispatcher keeps."""

    attempts: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0
    store_errors: int = 0


class Dispatcher:
    """Sends due notifications through the ``Notifier`` each one names."""

    def __init__(
        self,
        repository: IncidentRepository,
        notifiers: Mapping[str, Notifier],
        clock: Clock,
        *,
        poll_interval_s: float = 1.0,
        batch_size: int = 100,
        max_concurrency: int = 16,
        max_per_notifier: int = 4,
        retry: Backoff = DEFAULT_RETRY,
        deadline_s: float = 3600.0,
    ) -> None:
        self._repository = repository
        self._notifiers = notifiers
        self._clock = clock
        self._poll_interval_s = poll_interval_s
        self._batch_size = batch_size
        self._max_concurrency = max(1, max_concurrency)
        self._max_per_notifier = max(1, max_per_notifier)
        self._retry = retry
        self._deadline_s = deadline_s
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._per_notifier: dict[str, int] = {}
        self._sending: dict[str, Notification] = {}  # in flight, by id
        # Ids whose attempt ended while a read of the due ones was out: that read may
        # answer with their rows as they were before the attempt was stored.
        self._ended_during_read: set[str] | None = None
        self.stats = DispatcherStats()

    def request_stop(self) -> None:
        """Stop taking notifications; ``run`` returns once the sends in flight finished."""
        self._stop.set()
        self._wake.set()

    def wake(self) -> None:
        """Look for due notifications now rather than at the next poll (the embedded
        alerter calls it after queuing some: no poll interval added to the latency)."""
        self._wake.set()

    async def run(self) -> DispatcherStats:
        """Poll the outbox and deliver until ``request_stop``."""
        try:
            while not self._stop.is_set():
                await self._start_due()
                await self._wait()
                self._reap()
        finally:
            if self._in_flight:
                await asyncio.gather(*self._in_flight.values(), return_exceptions=True)
            self._reap()
        return self.stats

    async def _start_due(self) -> None:
        if len(self._in_flight) >= self._max_concurrency:
            return
        ended: set[str] = set()
        self._ended_during_read = ended
        try:
            due = await self._repository.due_notifications(
                self._clock.utcnow(), self._batch_size + len(self._in_flight)
            )
        except RepositoryError as exc:
            if not exc.retriable:
                raise
            self.stats.store_errors += 1
            log.warning("reading due notifications failed", extra={"error": str(exc)})
            return
        finally:
            self._ended_during_read = None
        if ended:  # stale rows: sending them again would repeat a delivery or skip a backoff
            due = [n for n in due if n.id not in ended]
        # One notification per (incident, notifier) at a time, oldest first: a receiver
        # gets an incident's FIRING before its RESOLVED (unless the FIRING is waiting for
        # a retry: then the RESOLVED is not held back).
        blocked = {(n.incident.id, n.notifier) for n in self._sending.values()}
        for notification in due:
            if len(self._in_flight) >= self._max_concurrency:
                break
            name, pair = notification.notifier, (notification.incident.id, notification.notifier)
            if pair in blocked or self._per_notifier.get(name, 0) >= self._max_per_notifier:
                blocked.add(pair)
                continue
            blocked.add(pair)
            self._per_notifier[name] = self._per_notifier.get(name, 0) + 1
            self._sending[notification.id] = notification
            self._in_flight[notification.id] = asyncio.ensure_future(self._deliver(notification))

    async def _wait(self) -> None:
        """Until a send finishes, a wake-up or stop, or the poll interval passed."""
        sleeper = asyncio.ensure_future(
            sleep_unless(self._clock, self._poll_interval_s, self._wake)
        )
        try:
            await asyncio.wait(
                {sleeper, *self._in_flight.values()}, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            sleeper.cancel()
            self._wake.clear()

    def _reap(self) -> None:
        for key, task in list(self._in_flight.items()):
            if task.done():
                del self._in_flight[key]
                if not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]  # a non-retriable store error

    async def _deliver(self, notification: Notification) -> None:
        name = notification.notifier
        try:
            updated = await self._attempt(notification)
            await self._update(updated)
        except RepositoryError as exc:
            if not exc.retriable:
                raise
            # Left as it was: still due, attempted again at a next poll.
            self.stats.store_errors += 1
            log.warning("checking a held notification failed", extra={"error": str(exc)})
        finally:
            self._per_notifier[name] -= 1
            del self._sending[notification.id]
            if self._ended_during_read is not None:
                self._ended_during_read.add(notification.id)

    async def _attempt(self, notification: Notification) -> Notification:
        """One delivery attempt; the notification as it is to be stored after it."""
        notifier = self._notifiers.get(notification.notifier)
        if notifier is None:
            self.stats.failed += 1
            error = f"no notifier named {notification.notifier!r} is configured"
            return attrs.evolve(notification, state=DeliveryState.FAILED, last_error=error)
        if notification.state is DeliveryState.HELD and not await self._still_relevant(
            notification
        ):
            self.stats.dropped += 1
            return attrs.evolve(notification, state=DeliveryState.DROPPED)
        self.stats.attempts += 1
        try:
            delivery = await notifier.send(notification)
        except Exception as exc:  # a notifier bug must not stop every other delivery
            log.exception("notifier raised", extra={"notifier": notification.notifier})
            delivery = Delivery(delivered=False, retriable=True, error=type(exc).__name__)
        return self._outcome(notification, delivery)

    async def _still_relevant(self, notification: Notification) -> bool:
        if notification.transition is Transition.RESOLVED:
            return True
        incident = await self._repository.find_incident(notification.incident.id)
        if incident is None or incident.resolved_at is None:
            return incident is not None
        hold_end = notification.not_before
        return hold_end is not None and incident.resolved_at >= hold_end

    def _outcome(self, notification: Notification, delivery: Delivery) -> Notification:
        attempts = notification.attempts + 1
        if delivery.delivered:
            self.stats.delivered += 1
            return attrs.evolve(
                notification,
                state=DeliveryState.DELIVERED,
                attempts=attempts,
                last_error="",
                not_before=None,
            )
        if delivery.retriable and self._waited(attempts) <= self._deadline_s:
            self.stats.retried += 1
            delay = timedelta(seconds=self._retry.delay(attempts))
            return attrs.evolve(
                notification,
                state=DeliveryState.PENDING,
                attempts=attempts,
                last_error=delivery.error,
                not_before=self._clock.utcnow() + delay,
            )
        self.stats.failed += 1
        return attrs.evolve(
            notification, state=DeliveryState.FAILED, attempts=attempts, last_error=delivery.error
        )

    def _waited(self, attempts: int) -> float:
        """The backoff time the next retry would have waited in total since the first
        attempt (the deadline is stored nowhere: it is a function of ``attempts``)."""
        return sum(self._retry.delay(n) for n in range(1, attempts + 1))

    async def _update(self, notification: Notification) -> None:
        try:
            await self._repository.update_notification(notification)
        except RepositoryError as exc:
            if not exc.retriable:
                raise
            # It stays due and is attempted again: receivers deduplicate on the key.
            self.stats.store_errors += 1
            log.warning("storing a delivery outcome failed", extra={"error": str(exc)})
