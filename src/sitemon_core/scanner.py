"""The scanner use case: check every site on its own interval and publish each result."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

import attrs

from sitemon_core.errors import PublishError
from sitemon_core.models import CheckResult, ErrorKind, Site, new_check_id
from sitemon_core.ports import Clock, SiteProber, StatusPublisher
from sitemon_core.schedule import Schedule
from sitemon_core.verdict import judge_response_time
from sitemon_core.waiting import sleep_unless

log = logging.getLogger("sitemon.scanner")

# Without a wake gap, a check due within this many seconds starts now: saves a wake-up per
# site at high rates. With one, the gap does that, and checks never start early.
_EARLY_START_S = 0.002

ResultObserver = Callable[[CheckResult, float], None]


@attrs.define
class ScannerStats:
    """Counters a scanner keeps; read them for logs, benchmarks and tests."""

    started: int = 0
    published: int = 0
    dropped: int = 0
    overlapped: int = 0
    abandoned: int = 0
    late_starts: int = 0
    max_lag_s: float = 0.0


@attrs.frozen
class CatalogueChange:
    """What a call to ``Scanner.set_sites`` changed."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]


class Scanner:
    """Schedules every site without drift, bounds concurrency, and publishes results.

    A site whose previous check is still running when it is due again is skipped for that
    run (counted as ``overlapped``) so one slow site never piles up work.

    ``min_wake_gap_s``: once awake, the scanner starts every check due, then sleeps at least
    this long (at most half the shortest interval) before its next timed wake-up (see
    ``Schedule.next_wake``): checks start up to that much late, never early, and a small
    catalogue costs a wake-up per gap instead of one per check. 0 (the default) wakes for
    each due time.
    """

    def __init__(
        self,
        prober: SiteProber,
        publisher: StatusPublisher,
        clock: Clock,
        *,
        region: str,
        max_concurrency: int = 256,
        max_jitter_s: float | None = None,
        late_after_s: float = 1.0,
        observer: ResultObserver | None = None,
        drain_timeout_s: float = 5.0,
        sites: Iterable[Site] = (),
        wall_grid: bool = False,
        min_wake_gap_s: float = 0.0,
    ) -> None:
        if min_wake_gap_s < 0:
            raise ValueError("min_wake_gap_s must not be negative")
        self._prober = prober
        self._publisher = publisher
        self._clock = clock
        self._region = region
        self._free_slots = max_concurrency
        # wall_grid: sites handed over between scanners keep their slots (see Schedule).
        self._schedule = Schedule(max_jitter_s=max_jitter_s, wall_grid=wall_grid)
        self._late_after_s = late_after_s
        self._observer = observer
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._task_site: dict[asyncio.Task[None], str] = {}
        self._wake = asyncio.Event()
        self._waiting_for_slot = False
        self._stopping = False
        self._drain_timeout_s = drain_timeout_s
        self._min_wake_gap_s = min_wake_gap_s
        self._early_s = _EARLY_START_S if min_wake_gap_s == 0 else 0.0
        self._woke_at = clock.monotonic()
        self.stats = ScannerStats()
        self.set_sites(sites)

    @property
    def skipped(self) -> int:
        """Runs skipped because the scanner fell more than an interval behind."""
        return self._schedule.skipped

    @property
    def min_wake_gap_s(self) -> float:
        """The least time between two timed wake-ups (how late a check may start)."""
        return self._min_wake_gap_s

    def sites(self) -> list[Site]:
        """The sites currently scheduled."""
        return self._schedule.sites()

    def set_sites(self, sites: Iterable[Site], since: float | None = None) -> CatalogueChange:
        """Replace the catalogue; unchanged sites keep their schedule, checks in flight finish.

        ``since`` (wall-clock seconds, with ``wall_grid``): the added sites were unchecked
        since then; a slot of theirs missed after it runs now (see ``Schedule.add``).
        """
        now, wall = self._clock.monotonic(), self._clock.utcnow().timestamp()
        new = {site.id: site for site in sites}
        old = {site.id: site for site in self._schedule.sites()}
        removed = tuple(sorted(old.keys() - new.keys()))
        added = tuple(sorted(new.keys() - old.keys()))
        changed = tuple(sorted(i for i in new.keys() & old.keys() if new[i] != old[i]))
        for site_id in removed:
            self._schedule.remove(site_id)
        for site_id in added:
            self._schedule.add(new[site_id], now, wall, since)
        for site_id in changed:
            self._schedule.update(new[site_id], now, wall)
        self._wake.set()
        return CatalogueChange(added, removed, changed)

    def update_sites(self, upserted: Iterable[Site], removed: Iterable[str]) -> CatalogueChange:
        """Add or replace ``upserted`` and stop scheduling ``removed``, without touching the
        other sites (O(changes), not O(catalogue)); checks in flight finish."""
        now, wall = self._clock.monotonic(), self._clock.utcnow().timestamp()
        added: list[str] = []
        changed: list[str] = []
        gone = [site_id for site_id in removed if self._schedule.has(site_id)]
        for site_id in gone:
            self._schedule.remove(site_id)
        for site in upserted:
            current = self._schedule.get(site.id)
            if current is None:
                self._schedule.add(site, now, wall)
                added.append(site.id)
            elif current != site:
                self._schedule.update(site, now, wall)
                changed.append(site.id)
        self._wake.set()
        return CatalogueChange(tuple(added), tuple(gone), tuple(changed))

    def describe(self) -> dict[str, object]:
        """What its "scanner started" log line says."""
        return {"sites": len(self._schedule.sites()), "region": self._region}

    def request_stop(self) -> None:
        """Stop scheduling new checks; ``run`` then drains and returns."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> ScannerStats:
        """Run until ``request_stop``; then finish in-flight checks within
        ``drain_timeout_s`` (abandoning the rest), flush the publisher, return the counters."""
        while not self._stopping:
            self._woke_at = self._clock.monotonic()
            self._start_due()
            await self._wait_for_next()
        await self._drain(self._drain_timeout_s)
        await self._publisher.flush()
        return self.stats

    def _start_due(self) -> None:
        # Checks start only into a free slot: a site due while every slot is busy stays in
        # the schedule (its lag grows) instead of becoming a task queued on a semaphore. At
        # saturation that keeps memory at max_concurrency tasks and the cost per check
        # O(log n): a queued site would be popped again, as "overlapped", on each interval.
        horizon = self._clock.monotonic() + self._early_s
        while self._free_slots > 0 and not self._stopping:
            popped = self._schedule.pop_next(horizon)
            if popped is None:
                return
            site, due = popped
            if site.id in self._inflight:
                self.stats.overlapped += 1
                continue
            self._free_slots -= 1
            task = asyncio.create_task(self._check(site, due), name=f"check:{site.id}")
            self._inflight[site.id] = task
            self._task_site[task] = site.id
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.pop(self._task_site.pop(task), None)
        self._free_slots += 1
        # The freed slot goes straight to the next due site, without a round trip through
        # the scheduling loop; the loop is woken only when it waits for a slot.
        self._start_due()
        if self._free_slots > 0 and self._waiting_for_slot:
            self._wake.set()

    async def _wait_for_next(self) -> None:
        due = self._schedule.next_due()
        if self._free_slots <= 0 and due is not None:
            self._waiting_for_slot = True
            try:
                await self._wake.wait()
            finally:
                self._waiting_for_slot = False
        elif due is None:
            await self._wake.wait()
        else:
            wake_at = self._schedule.next_wake(self._woke_at, self._min_wake_gap_s)
            delay = (due if wake_at is None else wake_at) - self._clock.monotonic()
            if delay > self._early_s:
                await sleep_unless(self._clock, delay, self._wake)
        self._wake.clear()

    async def _check(self, site: Site, due: float) -> None:
        lag = max(0.0, self._clock.monotonic() - due)
        self._count_start(lag)
        result = await self._probe(site)
        if self._observer is not None:
            self._observer(result, lag)
        try:
            await self._publisher.publish(result)
            self.stats.published += 1
        except PublishError as exc:
            self.stats.dropped += 1
            log.warning(
                "result dropped",
                extra={
                    "site_id": site.id,
                    "check_id": result.check_id,
                    "error": str(exc),
                    "dropped_total": self.stats.dropped,
                },
            )

    def _count_start(self, lag: float) -> None:
        self.stats.started += 1
        self.stats.max_lag_s = max(self.stats.max_lag_s, lag)
        if lag > self._late_after_s:
            self.stats.late_starts += 1

    async def _probe(self, site: Site) -> CheckResult:
        try:
            return judge_response_time(site, await self._prober.probe(site))
        except Exception as exc:  # a prober bug must not stop the scanner
            log.exception("prober raised", extra={"site_id": site.id})
            return internal_error_result(site, self._region, self._clock, exc)

    async def _drain(self, timeout_s: float) -> None:
        pending = list(self._inflight.values())
        if not pending:
            return
        _, still_running = await asyncio.wait(pending, timeout=timeout_s)
        for task in still_running:
            task.cancel()
        self.stats.abandoned += len(still_running)
        if still_running:
            await asyncio.wait(still_running)


def internal_error_result(site: Site, region: str, clock: Clock, exc: BaseException) -> CheckResult:
    """A classified result for a check that failed inside sitemon itself."""
    return CheckResult(
        check_id=new_check_id(),
        site_id=site.id,
        url=site.target,
        region=region,
        started_at=clock.utcnow(),
        ok=False,
        total_ms=0.0,
        error_kind=ErrorKind.INTERNAL,
        error_message=f"{type(exc).__name__}: {exc}",
    )
