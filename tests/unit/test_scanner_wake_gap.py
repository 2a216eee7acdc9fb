"""The scanner's ``min_wake_gap_s``: every due check runs, at most the gap late (the gap is at
most half the shortest interval), never early, never skipped, and the scanner's timed
wake-ups are at least the gap apart. Checked with hypothesis, on the pure law
(``Schedule.next_wake``) and on the scanner itself with a manual clock."""

from __future__ import annotations

import asyncio
import math
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sitemon_core.scanner import Scanner
from sitemon_core.schedule import Schedule, start_offset
from tests.unit.fakes import ListPublisher, ManualClock, ScriptedProber, settle, site

EPSILON = 1e-6
T0 = 1000.0

gaps = st.floats(min_value=0.01, max_value=1.0, allow_nan=False)
site_ids = st.text("abcdefgh0123", min_size=1, max_size=6)
# Intervals shorter than the gap too: the gap then shrinks to half the shortest one.
site_specs = st.dictionaries(
    site_ids, st.floats(min_value=0.05, max_value=20.0), min_size=1, max_size=12
)
slow_site_specs = st.dictionaries(
    site_ids, st.floats(min_value=1.5, max_value=20.0), min_size=1, max_size=12
)


def effective_gap(spec: dict[str, float], gap: float) -> float:
    """The gap the scanner keeps: ``gap``, at most half the shortest interval."""
    return min(gap, min(spec.values()) / 2)


def grid(site_id: str, interval: float, until: float) -> list[float]:
    """A site's due times from ``T0`` up to ``until`` (its first at its start offset)."""
    first = T0 + start_offset(site_id, interval, None)
    return [first + k * interval for k in range(math.floor((until - first) / interval) + 1)]


def assert_every_due_check_ran_in_time(
    spec: dict[str, float], starts: dict[str, list[float]], gap: float, end: float
) -> None:
    """Each start is its due time plus at most the gap; none is missing, none is extra."""
    gap = effective_gap(spec, gap)
    for site_id, interval in spec.items():
        ran, due = starts.get(site_id, []), grid(site_id, interval, end)
        assert len(due) - len(ran) in (0, 1)  # the last one may still be waiting for its gap
        assert len(due) - len(ran) == 0 or due[-1] > end - gap - EPSILON
        for started, due_at in zip(ran, due, strict=False):
            assert due_at - EPSILON <= started <= due_at + gap + EPSILON


@settings(max_examples=200, deadline=None)
@given(spec=site_specs, gap=gaps, horizon=st.floats(min_value=1.0, max_value=60.0))
def test_law_the_gap_makes_checks_late_by_at_most_the_gap_never_early_never_skipped(
    spec: dict[str, float], gap: float, horizon: float
) -> None:
    schedule = Schedule()
    for site_id, interval in spec.items():
        schedule.add(site(site_id, interval), T0)
    starts: dict[str, list[float]] = {}
    wakes, now = [T0], T0
    while True:
        for started, _ in schedule.pop_due(now):
            starts.setdefault(started.id, []).append(now)
        wake = schedule.next_wake(now, gap)
        assert wake is not None
        now = wake
        if now > T0 + horizon:
            break
        wakes.append(now)
    assert_every_due_check_ran_in_time(spec, starts, gap, T0 + horizon)
    assert schedule.skipped == 0
    assert all(b - a >= effective_gap(spec, gap) - EPSILON for a, b in pairwise(wakes))


async def scan(
    spec: dict[str, float], gap: float, horizon: float, duration_s: float = 0.0
) -> ScriptedProber:
    clock = ManualClock(T0)
    prober = ScriptedProber(clock, duration=lambda _: duration_s)
    scanner = Scanner(
        prober,
        ListPublisher(),
        clock,
        region="t",
        min_wake_gap_s=gap,
        drain_timeout_s=0.0,  # checks in flight at the end wait on the manual clock
        sites=[site(site_id, interval) for site_id, interval in spec.items()],
    )
    task = asyncio.create_task(scanner.run())
    await settle()
    await clock.advance(horizon)
    scanner.request_stop()
    await task
    assert scanner.skipped == 0 and scanner.stats.overlapped == 0
    return prober


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=site_specs, gap=gaps, horizon=st.floats(min_value=1.0, max_value=40.0))
def test_law_the_scanner_honours_the_gap_on_a_manual_clock(
    spec: dict[str, float], gap: float, horizon: float
) -> None:
    prober = asyncio.run(scan(spec, gap, horizon))
    assert_every_due_check_ran_in_time(spec, prober.starts, gap, T0 + horizon)
    # Checks take no time here, so each start instant is a timed wake-up of the scanner.
    instants = sorted({t for times in prober.starts.values() for t in times})
    assert all(b - a >= effective_gap(spec, gap) - EPSILON for a, b in pairwise(instants))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    spec=slow_site_specs,
    gap=gaps,
    # Shorter than every interval less the gap: a check still running when due is skipped.
    duration_s=st.floats(min_value=0.001, max_value=0.45),
    horizon=st.floats(min_value=1.0, max_value=20.0),
)
def test_law_checks_finishing_between_wake_ups_start_nothing_early(
    spec: dict[str, float], gap: float, duration_s: float, horizon: float
) -> None:
    # A finished check hands its slot to what is due at once, between the timed wake-ups.
    prober = asyncio.run(scan(spec, gap, horizon, duration_s))
    assert_every_due_check_ran_in_time(spec, prober.starts, gap, T0 + horizon)


async def test_the_gap_gathers_checks_into_fewer_wake_ups() -> None:
    spec = {f"s{i}": 10.0 for i in range(200)}
    without, with_gap = await scan(spec, 0.0, 10.0), await scan(spec, 0.5, 10.0)
    instants = {t for times in with_gap.starts.values() for t in times}
    assert sum(map(len, with_gap.starts.values())) == sum(map(len, without.starts.values()))
    assert len(instants) <= 10.0 / 0.5 + 1
    assert len({t for times in without.starts.values() for t in times}) > 100


def test_the_gap_follows_the_shortest_interval_as_sites_come_and_go() -> None:
    schedule = Schedule()
    schedule.add(site("slow", 10.0), T0)
    schedule.add(site("fast", 0.1), T0)
    assert schedule.shortest_interval() == 0.1
    schedule.update(site("fast", 0.4), T0)
    assert schedule.shortest_interval() == 0.4
    schedule.remove("fast")
    assert schedule.shortest_interval() == 10.0
    schedule.remove("slow")
    assert schedule.shortest_interval() == math.inf and schedule.next_wake(T0, 0.1) is None


def test_a_negative_gap_is_refused() -> None:
    with pytest.raises(ValueError, match="min_wake_gap_s"):
        Scanner(
            ScriptedProber(ManualClock()),
            ListPublisher(),
            ManualClock(),
            region="t",
            min_wake_gap_s=-0.1,
        )
