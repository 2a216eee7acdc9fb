"""Keeping a partitioned history ahead of the data: the partition keeper use case.

A store that keeps the check history in time partitions (PostgreSQL) needs each partition
to exist before the first row of its time arrives; rows nothing covers land in a default
partition, which works but defeats retention by partition. The keeper creates them ahead
(at start and then every ``every_s``, so a persister that runs for weeks stays ahead) and
reports how many rows sit in the default partition (normally none).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Protocol

import attrs

from sitemon_core.errors import RepositoryError
from sitemon_core.ports import Clock
from sitemon_core.waiting import sleep_unless

log = logging.getLogger("sitemon.partitions")


@attrs.frozen
class PartitionState:
    """What one round found: partitions created now, rows in the default partition."""

    created: tuple[str, ...] = ()
    default_rows: int = 0


class PartitionedHistory(Protocol):
    """A history kept in time partitions (``StatusRepository`` adapters may also be one)."""

    async def ensure_partitions(self, now: datetime) -> PartitionState:
        """Create every partition from ``now``'s through the configured time ahead.

        Raises ``RepositoryError`` (``retriable`` when trying again may help).
        """
        ...

    async def drop_partitions(self, started_before: datetime) -> list[str]:
        """Drop (or detach) every partition holding only checks started before
        ``started_before``; return their names (none when another process is at it)."""
        ...


@attrs.define
class PartitionStats:
    """Counters of the keeper; ``default_rows`` is a gauge (a float, hence a gauge)."""

    rounds: int = 0
    added: int = 0  # not "created": the stats become log record fields, which has that one
    failures: int = 0
    default_rows: float = 0.0


class PartitionKeeper:
    """Creates history partitions ahead of time, every ``every_s`` (a ``Service``)."""

    def __init__(self, history: PartitionedHistory, clock: Clock, *, every_s: float) -> None:
        if every_s <= 0:
            raise ValueError("every_s must be > 0")
        self._history = history
        self._clock = clock
        self._every_s = every_s
        self._stop = asyncio.Event()
        self.stats = PartitionStats()

    def request_stop(self) -> None:
        """Stop after the current round."""
        self._stop.set()

    async def keep_once(self) -> PartitionState:
        """One round: create what is missing, refresh the default partition's count."""
        state = await self._history.ensure_partitions(self._clock.utcnow())
        self.stats.rounds += 1
        self.stats.added += len(state.created)
        self.stats.default_rows = float(state.default_rows)
        return state

    async def run(self) -> PartitionStats:
        """A round now, then one every ``every_s``, until ``request_stop``."""
        while not self._stop.is_set():
            try:
                state = await self.keep_once()
            except RepositoryError as exc:
                # Not fatal: the partitions already made cover the next days.
                self.stats.failures += 1
                log.log(
                    logging.WARNING if exc.retriable else logging.ERROR,
                    "creating history partitions failed, retrying next round",
                    extra={"error": str(exc), "retry_in_s": self._every_s},
                )
            else:
                if state.created:
                    log.info("history partitions created", extra={"names": list(state.created)})
                if state.default_rows:
                    log.warning(
                        "rows outside every history partition",
                        extra={"default_partition_rows": state.default_rows},
                    )
            await sleep_unless(self._clock, self._every_s, self._stop)
        return self.stats
