"""The scanner use case with a manual clock, a scripted prober and a list publisher."""

from __future__ import annotations

import asyncio
from itertools import pairwise

import pytest

from sitemon_core.models import ErrorKind
from sitemon_core.scanner import Scanner
from tests.unit.fakes import ListPublisher, ManualClock, ScriptedProber, settle, site


async def start(scanner: Scanner) -> asyncio.Task[object]:
    task: asyncio.Task[object] = asyncio.create_task(scanner.run())
    await settle()
    return task


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


async def test_each_site_runs_on_its_own_grid_without_drift(clock: ManualClock) -> None:
    prober = ScriptedProber(clock, duration=lambda s: 3.0)  # slow checks must not shift runs
    scanner = Scanner(prober, ListPublisher(), clock, region="t")
    scanner.set_sites([site("a", 10), site("b", 15), site("c", 7)])
    t0 = clock.monotonic()
    task = await start(scanner)
    for _ in range(200):
        await clock.advance(0.5)
    scanner.request_stop()
    await task
    for sid, interval in (("a", 10), ("b", 15), ("c", 7)):
        starts = prober.starts[sid]
        assert t0 <= starts[0] < t0 + interval
        gaps = [b - a for a, b in pairwise(starts)]
        assert gaps == pytest.approx([interval] * len(gaps))
        assert len(starts) >= 100 // interval - 1


async def test_a_site_still_running_is_skipped_not_piled_up(clock: ManualClock) -> None:
    prober = ScriptedProber(clock, duration=lambda s: 25.0)
    scanner = Scanner(prober, ListPublisher(), clock, region="t", max_jitter_s=0)
    scanner.set_sites(
        [
            site(
                "slow",
                10,
            )
        ]
    )
    task = await start(scanner)
    for _ in range(100):
        await clock.advance(1)
    scanner.request_stop()
    await task
    assert prober.max_running == 1
    assert scanner.stats.overlapped >= 5
    starts = prober.starts["slow"]
    assert all(b - a == pytest.approx(30) for a, b in pairwise(starts))


async def test_concurrency_is_bounded(clock: ManualClock) -> None:
    prober = ScriptedProber(clock, duration=lambda s: 2.0)
    scanner = Scanner(prober, ListPublisher(), clock, region="t", max_concurrency=3, max_jitter_s=0)
    scanner.set_sites([site(f"s{i}", 60) for i in range(10)])
    task = await start(scanner)
    for _ in range(20):
        await clock.advance(1)
    scanner.request_stop()
    await task
    assert prober.max_running == 3
    assert sum(len(v) for v in prober.starts.values()) == 10
    assert scanner.stats.max_lag_s >= 6  # the 10th check waited for three rounds of slots


async def test_sites_added_removed_and_changed_at_runtime(clock: ManualClock) -> None:
    prober = ScriptedProber(clock)
    publisher = ListPublisher()
    scanner = Scanner(prober, publisher, clock, region="t")
    scanner.set_sites([site("keep", 10), site("drop", 10), site("edit", 10)])
    task = await start(scanner)
    await clock.advance(25)
    edit_phase = prober.starts["edit"][-1] % 10
    change = scanner.set_sites([site("keep", 10), site("edit", 10, regex="x"), site("new", 5)])
    assert (change.added, change.removed, change.changed) == (("new",), ("drop",), ("edit",))
    dropped_runs = len(prober.starts["drop"])
    await clock.advance(30)
    scanner.request_stop()
    await task
    assert len(prober.starts["drop"]) == dropped_runs
    assert len(prober.starts["new"]) >= 5
    assert prober.seen["edit"][-1].spec.regex == "x"
    assert all(t % 10 == pytest.approx(edit_phase) for t in prober.starts["edit"])


async def test_publish_failures_are_counted_and_scanning_continues(clock: ManualClock) -> None:
    calls = {"n": 0}

    def every_other(_: object) -> bool:
        calls["n"] += 1
        return calls["n"] % 2 == 0

    publisher = ListPublisher(reject=every_other)
    scanner = Scanner(ScriptedProber(clock), publisher, clock, region="t", max_jitter_s=0)
    scanner.set_sites([site("a", 1)])
    task = await start(scanner)
    for _ in range(10):
        await clock.advance(1)
    scanner.request_stop()
    stats = await task
    assert scanner.stats.dropped == calls["n"] // 2
    assert scanner.stats.published == len(publisher.published) >= 5
    assert stats is scanner.stats


async def test_a_prober_exception_becomes_an_internal_result(clock: ManualClock) -> None:
    publisher = ListPublisher()
    scanner = Scanner(
        ScriptedProber(clock, fail=lambda s: True), publisher, clock, region="t", max_jitter_s=0
    )
    scanner.set_sites([site("a", 5)])
    task = await start(scanner)
    await clock.advance(11)
    scanner.request_stop()
    await task
    assert len(publisher.published) == 3
    assert {r.error_kind for r in publisher.published} == {ErrorKind.INTERNAL}
    assert all("RuntimeError" in r.error_message and not r.ok for r in publisher.published)


async def test_stop_finishes_quick_checks_abandons_stuck_ones_and_flushes(
    clock: ManualClock,
) -> None:
    prober = ScriptedProber(clock, duration=lambda s: 100.0 if s.id == "stuck" else 0.0)
    publisher = ListPublisher()
    scanner = Scanner(prober, publisher, clock, region="t", max_jitter_s=0, drain_timeout_s=0.2)
    scanner.set_sites([site("stuck", 200), site("fine", 200)])
    task = await start(scanner)
    scanner.request_stop()
    await task
    assert [r.site_id for r in publisher.published] == ["fine"]
    assert scanner.stats.abandoned == 1
    assert publisher.flushes == 1


def test_a_result_needs_an_aware_start_time_and_a_clean_message() -> None:
    from datetime import datetime

    from sitemon_core.models import CheckResult

    with pytest.raises(ValueError, match="timezone-aware"):
        CheckResult(
            check_id="c",
            site_id="s",
            url="u",
            region="r",
            started_at=datetime(2026, 1, 1),
            ok=True,
            total_ms=1.0,
        )
    from tests.unit.fakes import EPOCH

    dirty = CheckResult(
        check_id="c",
        site_id="s",
        url="u",
        region="r",
        started_at=EPOCH,
        ok=False,
        total_ms=1.0,
        error_message="bad\x00 \udcff header" + "x" * 400,
    )
    assert "\x00" not in dirty.error_message and "\udcff" not in dirty.error_message
    assert len(dirty.error_message) == 300 and dirty.error_message.endswith("…")


async def test_the_scanner_publishes_the_response_time_verdict(clock: ManualClock) -> None:
    import attrs

    prober = ScriptedProber(clock, duration=lambda s: {"fast": 0.1, "slow": 0.5}.get(s.id, 0.9))
    publisher = ListPublisher()
    scanner = Scanner(prober, publisher, clock, region="t", max_jitter_s=0)
    thresholds = {"degraded_after_s": 0.3, "fail_after_s": 0.8}
    sites = [attrs.evolve(site(name, 10), **thresholds) for name in ("fast", "slow", "stuck")]
    scanner.set_sites(sites)
    task = await start(scanner)
    for _ in range(10):
        await clock.advance(0.2)
    scanner.request_stop()
    await task
    outcomes = {result.site_id: result.outcome for result in publisher.published}
    assert outcomes == {"fast": "up", "slow": "degraded", "stuck": "too_slow"}
