"""The partition keeper and retention by partition, over a scripted partitioned history."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

import attrs

from sitemon_adapters.store.memory import InMemoryStatusRepository
from sitemon_core.errors import RepositoryError
from sitemon_core.partitions import PartitionKeeper, PartitionState, PartitionStats
from sitemon_core.retention import HistoryRetention, RetentionStats
from tests.unit.fakes import EPOCH, ManualClock, settle

HOUR = 3600.0


class DayPartitions:
    """Records what it is asked; day partitions named by their start's offset in hours."""

    def __init__(self) -> None:
        self.ensured: list[datetime] = []
        self.dropped_before: list[datetime] = []
        self.default_rows = 0
        self.fail_next = False

    async def ensure_partitions(self, now: datetime) -> PartitionState:
        if self.fail_next:
            self.fail_next = False
            raise RepositoryError("lock timeout", retriable=True)
        self.ensured.append(now)
        return PartitionState((f"p{len(self.ensured)}",), self.default_rows)

    async def drop_partitions(self, started_before: datetime) -> list[str]:
        self.dropped_before.append(started_before)
        return ["p0", "p1"] if len(self.dropped_before) == 1 else []


async def test_the_keeper_runs_at_start_and_on_its_timer() -> None:
    clock, history = ManualClock(), DayPartitions()
    keeper = PartitionKeeper(history, clock, every_s=HOUR)
    task = asyncio.create_task(keeper.run())
    await settle()
    assert history.ensured == [EPOCH]
    history.default_rows = 3
    await clock.advance(HOUR)
    assert history.ensured == [EPOCH, EPOCH + timedelta(hours=1)]
    assert (keeper.stats.rounds, keeper.stats.added, keeper.stats.default_rows) == (2, 2, 3.0)
    history.fail_next = True
    await clock.advance(HOUR)  # a failed round is counted, not fatal
    await clock.advance(HOUR)
    assert keeper.stats.failures == 1 and keeper.stats.rounds == 3
    keeper.request_stop()
    await asyncio.wait_for(task, 1)


async def test_retention_drops_partitions_at_the_cutoff_then_prunes_rows() -> None:
    clock, history = ManualClock(), DayPartitions()
    repository = InMemoryStatusRepository()
    retention = HistoryRetention(
        repository, clock, keep_s=48 * HOUR, every_s=HOUR, partitions=history
    )
    await retention.prune_once()
    await retention.prune_once()
    assert history.dropped_before == [EPOCH - timedelta(hours=48)] * 2
    assert retention.stats.partitions_removed == 2
    assert retention.stats.rounds == 2


def test_stats_can_be_log_fields() -> None:
    # The supervisor logs a service's stats as the extra fields of its "stopped" line;
    # a field named like a LogRecord attribute ("created") makes that line raise.
    reserved = set(vars(logging.LogRecord("n", 0, "p", 0, "m", (), None)))
    for stats in (PartitionStats(), RetentionStats()):
        assert not set(attrs.asdict(stats)) & reserved
