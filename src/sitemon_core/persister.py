"""The persister use case: receive a batch, save it, and only then acknowledge it."""

from __future__ import annotations

import asyncio
import logging
from collections import deque

import attrs

from sitemon_core.errors import RepositoryError, SubscriberError
from sitemon_core.ports import Batch, Clock, StatusRepository, StatusSubscriber
from sitemon_core.waiting import sleep_unless

log = logging.getLogger("sitemon.persister")


@attrs.frozen
class Backoff:
    """Exponential backoff between retries of a retriable failure."""

    initial_s: float = 0.2
    maximum_s: float = 5.0
    factor: float = 2.0

    def delay(self, attempt: int) -> float:
        """The wait before retry number ``attempt`` (1-based)."""
        return float(min(self.maximum_s, self.initial_s * self.factor ** (attempt - 1)))


@attrs.define
class PersisterStats:
    """Counters a persister keeps."""

    batches: int = 0
    saved: int = 0
    retries: int = 0


class Persister:
    """Moves results from a subscriber into a repository with at-least-once delivery.

    A batch is acknowledged only after the repository committed it; the repository's
    idempotent save makes the redelivery of an unacknowledged batch harmless.
    """

    def __init__(
        self,
        subscriber: StatusSubscriber,
        repository: StatusRepository,
        clock: Clock,
        *,
        batch_size: int = 5000,
        poll_timeout_s: float = 0.5,
        backoff: Backoff = Backoff(),
        max_in_flight: int = 2,
        drain_on_stop: bool = False,
    ) -> None:
        self._subscriber = subscriber
        self._repository = repository
        self._clock = clock
        self._batch_size = batch_size
        self._poll_timeout_s = poll_timeout_s
        self._backoff = backoff
        self._depth = max(1, max_in_flight)
        self._stop = asyncio.Event()
        self._drain = False
        self._drain_on_stop = drain_on_stop
        self.stats = PersisterStats()

    def request_stop(self, *, drain: bool | None = None) -> None:
        """Finish the batch in hand (if it can be saved now), then return from the loop.

        With ``drain`` (default: ``drain_on_stop``) the loop first keeps going until a
        receive comes back empty: the embedded mode uses it to store what its scanner
        published before stopping.
        """
        self._drain = self._drain_on_stop if drain is None else drain
        self._stop.set()

    async def run(self) -> PersisterStats:
        """Run receive → save → acknowledge until ``request_stop``.

        Up to ``max_in_flight`` batches are saved at once (a database takes more rows per
        second over two connections than over one), but batches are acknowledged strictly
        in the order received, each only after it and every earlier one were saved.
        """
        in_flight: deque[asyncio.Future[bool]] = deque()
        try:
            while not self._stop.is_set() or self._drain:
                batch = await self._receive()
                if not await self._settle(in_flight, keep=self._depth - 1):
                    return self.stats
                if batch is None:
                    continue
                if self._drain and self._stop.is_set() and not batch.results:
                    break
                if not batch.results and batch.token is None:
                    await asyncio.sleep(0)  # an adapter answering at once must not starve us
                    continue
                previous = in_flight[-1] if in_flight else None
                in_flight.append(asyncio.ensure_future(self._save_then_ack(batch, previous)))
            await self._settle(in_flight, keep=0)
        finally:
            for task in in_flight:
                task.cancel()
        return self.stats

    async def _settle(self, in_flight: deque[asyncio.Future[bool]], keep: int) -> bool:
        """Forget finished batches; wait for the oldest until at most ``keep`` are left.
        False when a save gave up (stopping during an outage)."""
        while in_flight and (len(in_flight) > keep or in_flight[0].done()):
            if not await in_flight[0]:  # re-raises a non-retriable repository error
                return False
            in_flight.popleft()
        return True

    async def _save_then_ack(self, batch: Batch, previous: asyncio.Future[bool] | None) -> bool:
        saved = await self._save(batch) if batch.results else True
        if previous is not None and not await previous:
            return False  # an earlier batch was not saved: this one must not be acknowledged
        if saved:
            await self._acknowledge(batch)
        return saved

    async def _receive(self) -> Batch | None:
        try:
            return await self._subscriber.receive(self._batch_size, self._poll_timeout_s)
        except SubscriberError as exc:
            if not exc.retriable:
                raise
            log.warning("receive failed, retrying", extra={"error": str(exc)})
            if await self._pause(self._backoff.initial_s):
                return Batch(())  # stopping: an empty batch also ends a drain
            return None

    async def _save(self, batch: Batch) -> bool:
        attempt = 0
        while True:
            try:
                await self._repository.save(batch.results)
            except RepositoryError as exc:
                if not exc.retriable:
                    raise
                attempt += 1
                self.stats.retries += 1
                delay = self._backoff.delay(attempt)
                log.warning(
                    "save failed, retrying",
                    extra={
                        "error": str(exc),
                        "attempt": attempt,
                        "retry_in_s": delay,
                        "batch_size": len(batch.results),
                    },
                )
                if await self._pause(delay):
                    return False
                continue
            self.stats.batches += 1
            self.stats.saved += len(batch.results)
            return True

    async def _acknowledge(self, batch: Batch) -> None:
        try:
            await self._subscriber.acknowledge(batch)
        except SubscriberError as exc:
            if not exc.retriable:
                raise
            # The saved batch will be redelivered and deduplicated by the repository.
            log.warning("acknowledge failed", extra={"error": str(exc)})

    async def _pause(self, seconds: float) -> bool:
        """Sleep on the clock; return True early if a stop was requested."""
        return await sleep_unless(self._clock, seconds, self._stop)
