"""The ports: what the core needs from the outside world, as small role-named protocols.

Adapters in ``sitemon_adapters`` implement them (aiohttp, Kafka, PostgreSQL, SQLite,
in-memory); the core only ever sees these types.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Protocol

import attrs

from sitemon_core.models import CheckResult, Site, SiteStatus


class SiteProber(Protocol):
    """Checks one site once.

    One adapter per probe kind (``site.kind``); a router that picks the prober by kind is a
    ``SiteProber`` too, so the scanner never knows the kinds.
    """

    async def probe(self, site: Site) -> CheckResult:
        """Check ``site`` and return what was found.

        Every failure of the target (DNS, refused, timeout, TLS, bad HTTP...) is returned as
        a classified result within about ``site.timeout_s``; this never raises for them.
        """
        ...


class StatusPublisher(Protocol):
    """Hands check results to the bus."""

    async def publish(self, result: CheckResult) -> None:
        """Queue ``result`` for delivery (may return before the broker acknowledged it).

        Raises ``PublishError`` when the result cannot be queued (buffer bound reached,
        serialisation failure); the caller counts it as dropped.
        """
        ...

    async def flush(self) -> None:
        """Wait until everything queued so far is delivered or has failed."""
        ...


@attrs.frozen
class Batch:
    """Results received together, plus the adapter's opaque token to acknowledge them."""

    results: Sequence[CheckResult]
    token: object = None


class StatusSubscriber(Protocol):
    """Receives check results from the bus in batches, with explicit acknowledgement."""

    async def receive(self, max_results: int, timeout_s: float) -> Batch:
        """Return the next results (possibly none after ``timeout_s``).

        Results of a batch that is never acknowledged are delivered again, to this or
        another subscriber of the group, after a restart or rebalance.
        """
        ...

    async def acknowledge(self, batch: Batch) -> None:
        """Mark ``batch`` as processed (for Kafka: commit its offsets). Call only after the
        results are durably saved."""
        ...


class StatusRepository(Protocol):
    """Stores the latest status per site and the history of every check."""

    async def save(self, results: Sequence[CheckResult]) -> None:
        """Save a batch atomically and idempotently.

        History gets each check once (a replayed ``check_id`` is ignored); the latest
        status of a site changes only for a result newer than the one stored, so replays
        and out-of-order deliveries never overwrite newer data.
        Raises ``RepositoryError`` (``retriable`` when trying again may help).
        """
        ...

    async def latest(self) -> list[SiteStatus]:
        """The latest status of every site, ordered by site id."""
        ...

    async def history(
        self, site_id: str, *, since: datetime | None = None, limit: int = 1000
    ) -> list[CheckResult]:
        """Checks of ``site_id`` started at or after ``since``, newest first, at most ``limit``."""
        ...

    async def prune_history(self, started_before: datetime, *, max_rows: int) -> int:
        """Delete at most ``max_rows`` history rows of checks started before
        ``started_before``; return how many were deleted (fewer than ``max_rows``: none
        are left). Latest statuses are never deleted.
        Raises ``RepositoryError`` (``retriable`` when trying again may help).
        """
        ...

    async def prune_rollups(self, period_before: datetime, *, max_rows: int) -> int:
        """Delete at most ``max_rows`` rollups whose period starts before ``period_before``;
        return how many were deleted (fewer than ``max_rows``: none are left). Raw history
        and latest statuses are never touched (nor are rollups by ``prune_history``).
        Raises ``RepositoryError`` (``retriable`` when trying again may help).
        """
        ...


class Clock(Protocol):
    """Time, injectable so scheduling is testable without sleeping."""

    def monotonic(self) -> float:
        """Seconds on a monotonic clock (for schedules and durations)."""
        ...

    def utcnow(self) -> datetime:
        """The current UTC wall time (timezone-aware), for timestamps in results."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Suspend for ``seconds`` of this clock's time."""
        ...


@attrs.frozen
class SitesAssigned:
    """After a rebalance: every site this member owns now (the others are no longer its own).

    ``details`` says where they came from (partitions, load time) for the log line.
    """

    sites: tuple[Site, ...]
    details: Mapping[str, object] = attrs.field(factory=dict)
    # Wall-clock seconds since when the sites new to this member went unchecked (the
    # previous owner had stopped: this member's rebalance began after it left or died);
    # None when unknown (first assignment), and then nothing is caught up.
    since: float | None = None


@attrs.frozen
class SitesChanged:
    """Sites of this member's share added or replaced (``upserted``) or removed, live."""

    upserted: tuple[Site, ...] = ()
    removed: tuple[str, ...] = ()


CatalogueEvent = SitesAssigned | SitesChanged


class SiteCatalogue(Protocol):
    """The share of a shared site catalogue that this scanner owns, and its changes.

    Ownership is decided outside the core (for Kafka: the consumer group's partition
    assignment), so several scanners split the catalogue and take over a dead one's share.
    """

    def events(self) -> AsyncIterator[CatalogueEvent]:
        """The ownership and change events, in order, until ``leave``.

        A ``SitesAssigned`` comes first, once this member's share is loaded, and again after
        every rebalance; records that cannot be decoded are counted and skipped here.
        """
        ...

    async def leave(self) -> None:
        """Give up this member's share now (others take it over without waiting)."""
        ...

    def describe(self) -> str:
        """Where the catalogue lives, for log lines."""
        ...


class CatalogueEditor(Protocol):
    """Reads and writes the whole shared catalogue (for ``sites apply`` / ``sites list``)."""

    async def read_all(self) -> dict[str, Site]:
        """Every site the catalogue holds now, by id (removed ones are absent)."""
        ...

    async def write(self, upserted: Sequence[Site], removed: Sequence[str]) -> None:
        """Publish sites added or changed, and removals; return once all are durable."""
        ...
