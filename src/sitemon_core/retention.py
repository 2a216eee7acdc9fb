"""The history retention use case: keep the check history to a time window.

At 100,000 sites a minute the history grows by ~144 M rows a day; without a bound it fills
the database. Every ``every_s`` the persister side deletes the history of checks started
more than ``keep_s`` ago. A store with time partitions (``PartitionedHistory``) drops the
partitions past the window whole (O(1), no dead tuples); what is not in such a partition
(or the whole history, in a store without them) is deleted in chunks (short transactions,
no long lock, no huge WAL burst). The latest status of every site is never deleted.

Rollups (hourly, per site and region) have their own, longer window (``rollup_keep_s``, e.g.
400 days: a year of uptime outlives the raw history). Each cutoff applies to its own data
only: the history cutoff never deletes a rollup, the rollup cutoff never a history row.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import attrs

from sitemon_core.errors import RepositoryError
from sitemon_core.partitions import PartitionedHistory
from sitemon_core.ports import Clock, StatusRepository
from sitemon_core.rollup import period_start
from sitemon_core.waiting import sleep_unless

log = logging.getLogger("sitemon.retention")


@attrs.define
class RetentionStats:
    """Counters of a retention loop."""

    rounds: int = 0
    deleted: int = 0
    failures: int = 0
    partitions_removed: int = 0
    rollups_deleted: int = 0


class HistoryRetention:
    """Deletes history older than ``keep_s`` and rollups older than ``rollup_keep_s`` (None:
    kept forever), every ``every_s``, ``chunk`` rows at a time."""

    def __init__(
        self,
        repository: StatusRepository,
        clock: Clock,
        *,
        keep_s: float,
        every_s: float = 600.0,
        chunk: int = 10_000,
        partitions: PartitionedHistory | None = None,
        rollup_keep_s: float | None = None,
    ) -> None:
        if keep_s <= 0 or every_s <= 0 or chunk <= 0:
            raise ValueError("keep_s, every_s and chunk must be > 0")
        if rollup_keep_s is not None and rollup_keep_s < keep_s:
            # Rollups are what is left of the history past its window, never less of it.
            raise ValueError("rollup_keep_s must not be shorter than keep_s")
        self._repository = repository
        self._clock = clock
        self._keep = timedelta(seconds=keep_s)
        self._every_s = every_s
        self._chunk = chunk
        self._partitions = partitions
        self._rollup_keep = None if rollup_keep_s is None else timedelta(seconds=rollup_keep_s)
        self._stop = asyncio.Event()
        self.stats = RetentionStats()

    def request_stop(self) -> None:
        """Stop after the chunk being deleted (if any)."""
        self._stop.set()

    async def prune_once(self) -> int:
        """One round: delete history older than its window, then rollups older than theirs;
        return the history rows deleted (the rollups deleted are counted in ``stats``)."""
        now = self._clock.utcnow()
        cutoff = now - self._keep
        if self._partitions is not None:
            removed = await self._partitions.drop_partitions(cutoff)
            self.stats.partitions_removed += len(removed)
            if removed:
                log.info("history partitions removed", extra={"names": removed})
        deleted = await self._in_chunks(self._repository.prune_history, cutoff)
        self.stats.rounds += 1
        self.stats.deleted += deleted
        if self._rollup_keep is not None:
            # Whole hours only: the rollup holding the cutoff keeps its older checks' counts.
            before = period_start(now - self._rollup_keep)
            rollups = await self._in_chunks(self._repository.prune_rollups, before)
            self.stats.rollups_deleted += rollups
            if rollups:
                log.info("rollups pruned", extra={"deleted": rollups, "before": str(before)})
        return deleted

    async def _in_chunks(self, prune: Callable[..., Awaitable[int]], cutoff: datetime) -> int:
        """Call ``prune(cutoff, max_rows=chunk)`` until a chunk comes back short."""
        deleted = 0
        while not self._stop.is_set():
            count = await prune(cutoff, max_rows=self._chunk)
            deleted += count
            if count < self._chunk:
                break
            await asyncio.sleep(0)  # let the persister run between chunks
        return deleted

    async def run(self) -> RetentionStats:
        """A round now, then one every ``every_s``, until ``request_stop``."""
        while not self._stop.is_set():
            try:
                deleted = await self.prune_once()
            except RepositoryError as exc:
                # Not fatal: the rows are still there, the next round deletes them.
                self.stats.failures += 1
                log.log(
                    logging.WARNING if exc.retriable else logging.ERROR,
                    "history pruning failed, retrying next round",
                    extra={"error": str(exc), "retry_in_s": self._every_s},
                )
            else:
                if deleted:
                    log.info(
                        "history pruned",
                        extra={
                            "deleted": deleted,
                            "older_than": str(self._keep),
                            "deleted_total": self.stats.deleted,
                        },
                    )
            await sleep_unless(self._clock, self._every_s, self._stop)
        return self.stats
