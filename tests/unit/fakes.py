"""Hand-written fakes for unit tests: a controllable clock and a scripted prober."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sitemon_core.models import CheckResult, Site, new_check_id

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class ManualClock:
    """A Clock whose time only moves when a test calls ``advance``."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._start = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def monotonic(self) -> float:
        return self._now

    def utcnow(self) -> datetime:
        return EPOCH + timedelta(seconds=self._now - self._start)

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + max(0.0, seconds), next(self._seq), future))
        await future

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking each sleeper at its own deadline, in order."""
        target = self._now + seconds
        await settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            if not future.done():
                future.set_result(None)
            await settle()
        self._now = target
        await settle()


async def settle(rounds: int = 20) -> None:
    """Let every ready task run (no time passes)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


class ScriptedProber:
    """A SiteProber that takes ``duration(site)`` of clock time and records each start."""

    def __init__(
        self,
        clock: ManualClock,
        duration: Callable[[Site], float] = lambda s: 0.0,
        fail: Callable[[Site], bool] = lambda s: False,
    ) -> None:
        self.clock = clock
        self.duration = duration
        self.fail = fail
        self.starts: dict[str, list[float]] = defaultdict(list)
        self.seen: dict[str, list[Site]] = defaultdict(list)
        self.running = 0
        self.max_running = 0

    async def probe(self, site: Site) -> CheckResult:
        self.starts[site.id].append(self.clock.monotonic())
        self.seen[site.id].append(site)
        if self.fail(site):
            raise RuntimeError("prober bug")
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            if self.duration(site) > 0:
                await self.clock.sleep(self.duration(site))
        finally:
            self.running -= 1
        return CheckResult(
            check_id=new_check_id(),
            site_id=site.id,
            url=site.target,
            region="test",
            started_at=self.clock.utcnow(),
            ok=True,
            total_ms=self.duration(site) * 1000,
            status_code=200,
        )


class ListPublisher:
    """A StatusPublisher that keeps what it got; raises PublishError when told to."""

    def __init__(self, reject: Callable[[CheckResult], bool] = lambda r: False) -> None:
        self.published: list[CheckResult] = []
        self.reject = reject
        self.flushes = 0

    async def publish(self, result: CheckResult) -> None:
        from sitemon_core.errors import PublishError

        if self.reject(result):
            raise PublishError("buffer full")
        self.published.append(result)

    async def flush(self) -> None:
        self.flushes += 1


def site(site_id: str, interval: float = 10.0, **kw: object) -> Site:
    """A site on a local URL with a short timeout."""
    return Site.http(
        id=site_id,
        url=f"http://127.0.0.1:9/{site_id}",
        interval_s=interval,
        timeout_s=min(1.0, interval),
        **kw,
    )  # type: ignore[arg-type]
