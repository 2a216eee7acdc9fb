"""The status bus inside one process, for the embedded deployment and for tests.

It keeps the Kafka adapter's semantics so the rest of the system cannot tell them apart:
an ordered log, one committed position per subscriber group, at-least-once delivery
(a batch not acknowledged before a restart is delivered again). Results stay Python
objects: nothing leaves the process, so nothing needs serialising.
"""

from __future__ import annotations

import asyncio
import collections
from types import TracebackType
from typing import Self

import attrs

from sitemon_core.errors import PublishError, SubscriberError
from sitemon_core.models import CheckResult
from sitemon_core.ports import Batch

DEFAULT_MAX_BUFFERED = 100_000


@attrs.define
class _Waiter:
    """A read waiting for results from ``position``: for ``full_at`` (a full batch), or
    until its timer (the timeout while empty, then the linger) fires."""

    position: int
    full_at: int
    linger_s: float
    future: asyncio.Future[None] = attrs.field(
        factory=lambda: asyncio.get_running_loop().create_future()
    )
    lingering: bool = False
    _timer: asyncio.TimerHandle | None = None

    def start(self, delay_s: float, lingering: bool) -> None:
        """Arm the timer: the read returns (what it has) after ``delay_s``."""
        self.lingering = lingering
        self._timer = asyncio.get_running_loop().call_later(delay_s, self.wake)

    def linger(self) -> None:
        """The first result came: wait at most ``linger_s`` more for the rest."""
        self.cancel()
        if self.linger_s <= 0:
            self.wake()
            return
        self.start(self.linger_s, lingering=True)

    def wake(self) -> None:
        """Let the read return."""
        if not self.future.done():
            self.future.set_result(None)

    def cancel(self) -> None:
        """Disarm the timer."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


@attrs.frozen
class _Ack:
    """A batch's token: acknowledging it commits the group up to ``end`` (exclusive)."""

    group: str
    end: int


class InMemoryStatusBus:
    """The shared log; hand out publishers and subscribers with ``publisher()`` and
    ``subscriber(group)``.

    At most ``max_buffered`` results are held; a result is dropped from memory once every
    group has acknowledged it. Must be used from a single event loop.
    """

    def __init__(self, *, max_buffered: int = DEFAULT_MAX_BUFFERED, linger_s: float = 0.0) -> None:
        """``linger_s``: once a read has a result, wait up to this long for a full batch
        (like Kafka's ``fetch.max.wait.ms``), so a persister saves a few larger batches
        rather than a transaction per handful of results at low rates. It is the default
        of ``subscriber(group, linger_s=...)``."""
        if max_buffered < 1:
            raise ValueError("max_buffered must be at least 1")
        if linger_s < 0:
            raise ValueError("linger_s must not be negative")
        self.max_buffered = max_buffered
        self.linger_s = linger_s
        self._log: collections.deque[CheckResult] = collections.deque()
        self._base = 0  # offset of self._log[0]
        self._committed: dict[str, int] = {}
        self._waiters: list[_Waiter] = []

    @property
    def end(self) -> int:
        """The offset the next published result will get."""
        return self._base + len(self._log)

    def publisher(self) -> InMemoryStatusPublisher:
        """A publisher appending to this bus."""
        return InMemoryStatusPublisher(self)

    def subscriber(
        self, group: str = "default", *, linger_s: float | None = None
    ) -> InMemoryStatusSubscriber:
        """A subscriber of ``group``, starting after the group's last acknowledged result.

        Like a Kafka consumer group with one partition, a group is meant to have one
        active subscriber; a new group starts at the oldest result still held. ``linger_s``
        (default: the bus's) is how long its reads wait for a full batch once they have a
        result: a longer linger means fewer, larger batches and results handed over later.
        """
        if linger_s is not None and linger_s < 0:
            raise ValueError("linger_s must not be negative")
        self._committed.setdefault(group, self._base)
        return InMemoryStatusSubscriber(
            self, group, self.linger_s if linger_s is None else linger_s
        )

    def committed(self, group: str) -> int:
        """The offset up to which ``group`` has acknowledged results."""
        return self._committed[group]

    async def _append(self, result: CheckResult) -> None:
        if len(self._log) >= self.max_buffered:
            raise PublishError(
                f"in-memory bus full: {self.max_buffered} results not yet acknowledged"
            )
        self._log.append(result)
        if self._waiters:
            self._notify()

    def _notify(self) -> None:
        # A waiting read is woken only when its batch is complete (or the bus can hold no
        # more); a first result only arms its linger timer. At low rates that is one wake-up
        # per linger instead of one per published result.
        end, full = self.end, len(self._log) >= self.max_buffered
        for waiter in self._waiters:
            if end >= waiter.full_at or full:
                waiter.wake()
            elif end > waiter.position and not waiter.lingering:
                waiter.linger()

    async def _read(
        self, position: int, max_results: int, timeout_s: float, linger_s: float
    ) -> list[CheckResult]:
        if self._must_wait(position, max_results, linger_s):
            has_some = position < self.end
            if has_some or timeout_s > 0:
                waiter = _Waiter(position, position + max_results, linger_s)
                # Empty: wait for a first result until the timeout; then linger for the rest.
                waiter.start(linger_s if has_some else timeout_s, lingering=has_some)
                await self._wait(waiter)
        start = position - self._base
        return [self._log[i] for i in range(start, min(start + max_results, len(self._log)))]

    async def _wait(self, waiter: _Waiter) -> None:
        self._waiters.append(waiter)
        try:
            await waiter.future
        finally:
            waiter.cancel()
            self._waiters.remove(waiter)

    def _must_wait(self, position: int, max_results: int, linger_s: float) -> bool:
        available = self.end - position
        if available <= 0:
            return True
        return linger_s > 0 and available < max_results and len(self._log) < self.max_buffered

    def _commit(self, group: str, end: int) -> None:
        if end > self.end:
            raise SubscriberError(f"acknowledging offset {end} beyond the log", retriable=False)
        self._committed[group] = max(self._committed[group], end)
        self._trim()

    def _trim(self) -> None:
        # Only what every group has acknowledged can go: a restart of the slowest group
        # resumes from its committed offset and must still find its results.
        oldest_needed = min(self._committed.values(), default=self._base)
        while self._base < oldest_needed:
            self._log.popleft()
            self._base += 1


class InMemoryStatusPublisher:
    """``StatusPublisher`` onto an ``InMemoryStatusBus``."""

    def __init__(self, bus: InMemoryStatusBus) -> None:
        self._bus = bus

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.flush()

    async def publish(self, result: CheckResult) -> None:
        """Append ``result``; raises ``PublishError`` when the bus holds ``max_buffered``."""
        await self._bus._append(result)

    async def flush(self) -> None:
        """Nothing to wait for: a published result is in the log already."""


class InMemoryStatusSubscriber:
    """``StatusSubscriber`` of one group on an ``InMemoryStatusBus``."""

    def __init__(self, bus: InMemoryStatusBus, group: str, linger_s: float = 0.0) -> None:
        self._bus = bus
        self.group = group
        self.linger_s = linger_s
        self._position = bus.committed(group)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def receive(self, max_results: int, timeout_s: float) -> Batch:
        """The next results after those already received, waiting up to ``timeout_s`` for
        at least one; an empty batch when none came."""
        if max_results < 1:
            raise ValueError("max_results must be at least 1")
        # Another subscriber of the group may have acknowledged past us (as after a Kafka
        # rebalance); what it acknowledged is not delivered again.
        self._position = max(self._position, self._bus.committed(self.group))
        results = await self._bus._read(self._position, max_results, timeout_s, self.linger_s)
        if not results:
            return Batch(results=())
        self._position += len(results)
        return Batch(results=tuple(results), token=_Ack(self.group, self._position))

    async def acknowledge(self, batch: Batch) -> None:
        """Commit the group's position to the end of ``batch`` (and everything before)."""
        if batch.token is None:
            return  # an empty batch
        if not isinstance(batch.token, _Ack) or batch.token.group != self.group:
            raise SubscriberError("batch was not received by this group", retriable=False)
        self._bus._commit(self.group, batch.token.end)

    def restart(self) -> None:
        """Forget received but unacknowledged results: they will be delivered again."""
        self._position = self._bus.committed(self.group)
