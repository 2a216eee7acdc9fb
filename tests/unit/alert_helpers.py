"""Builders and strategies shared by the alerting unit tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import timedelta

from hypothesis import strategies as st

from sitemon_core.alerting.models import Delivery, Notification
from sitemon_core.alerting.policy import AlertPolicy
from sitemon_core.alerting.state import Change, Event, SiteTracker
from sitemon_core.models import CheckResult, ErrorKind
from sitemon_core.ports import Batch
from tests.unit.fakes import EPOCH

T0 = EPOCH  # the ManualClock's wall time at its start
REGIONS = ("eu", "us", "ap")
INTERVAL = 60.0

_counter = iter(range(10**12))


def check(
    ok: bool,
    seconds: float,
    *,
    region: str = "eu",
    site_id: str = "site-a",
    url: str = "https://site-a.example/",
) -> CheckResult:
    """A result of ``site_id`` from ``region``, ``seconds`` after T0."""
    return CheckResult(
        check_id=f"c{next(_counter)}",
        site_id=site_id,
        url=url,
        region=region,
        started_at=T0 + timedelta(seconds=seconds),
        ok=ok,
        total_ms=5.0,
        status_code=200 if ok else 503,
        error_kind=ErrorKind.NONE if ok else ErrorKind.TIMEOUT,
        error_message="" if ok else "timed out after 10 s",
    )


Step = tuple[int, bool, float]  # region index, ok, seconds since the previous result


def steps(regions: int = len(REGIONS), max_size: int = 120) -> st.SearchStrategy[list[Step]]:
    """Results of one site from up to ``regions`` regions, some late enough to be stale."""
    gap = st.sampled_from([INTERVAL / 4, INTERVAL / 2, INTERVAL, 3 * INTERVAL])
    return st.lists(st.tuples(st.integers(0, regions - 1), st.booleans(), gap), max_size=max_size)


def policies(max_regions: int = len(REGIONS)) -> st.SearchStrategy[AlertPolicy]:
    """Small thresholds, so interesting sequences are short."""
    return st.builds(
        AlertPolicy,
        failure_threshold=st.integers(1, 4),
        success_threshold=st.integers(1, 3),
        confirm_regions=st.integers(1, max_regions),
        flap_window=st.integers(4, 21),
        flap_max_changes=st.integers(1, 5),
    )


def to_results(sequence: Iterable[Step], start: float = 0.0) -> list[CheckResult]:
    """The results a list of steps describes, in order."""
    out, now = [], start
    for region, ok, gap in sequence:
        now += gap
        out.append(check(ok, now, region=REGIONS[region]))
    return out


def recovery(after: float, policy: AlertPolicy) -> list[CheckResult]:
    """Every region succeeding ``success_threshold`` times, one interval apart."""
    out = []
    for i in range(policy.success_threshold):
        for j, region in enumerate(REGIONS):
            out.append(check(True, after + (i + 1) * INTERVAL + j, region=region))
    return out


def feed(
    tracker: SiteTracker, results: Sequence[CheckResult], policy: AlertPolicy
) -> list[tuple[int, Change]]:
    """Every change, with the index of the result that caused it."""
    return [
        (i, change)
        for i, result in enumerate(results)
        for change in tracker.observe(result, policy, INTERVAL)
    ]


def notified(changes: Iterable[tuple[int, Change]]) -> list[tuple[int, Event]]:
    """The notified events only."""
    return [(i, c.event) for i, c in changes if c.notify]


class ListSubscriber:
    """A StatusSubscriber handing out given batches, then calling ``on_empty`` (to stop
    the service under test) and answering empty batches."""

    def __init__(self, batches: Iterable[Sequence[CheckResult]], on_empty=lambda: None) -> None:
        self.batches = [tuple(b) for b in batches]
        self.on_empty = on_empty
        self.received = 0
        self.acknowledged: list[int] = []

    async def receive(self, max_results: int, timeout_s: float) -> Batch:
        if self.received < len(self.batches):
            self.received += 1
            return Batch(self.batches[self.received - 1], token=self.received)
        self.on_empty()
        await asyncio.sleep(0)
        return Batch(())

    async def acknowledge(self, batch: Batch) -> None:
        assert isinstance(batch.token, int)
        self.acknowledged.append(batch.token)


class RecordingNotifier:
    """A Notifier answering from a script (default: delivered) and keeping what it got."""

    def __init__(self, answer=lambda n: Delivery(delivered=True)) -> None:
        self.answer = answer
        self.sent: list[Notification] = []
        self.gate: asyncio.Event | None = None  # when set up, sends wait for it

    async def send(self, notification: Notification) -> Delivery:
        self.sent.append(notification)
        if self.gate is not None:
            await self.gate.wait()
        return self.answer(notification)
