"""The per-site alert state machine: examples, then the laws it must keep (Hypothesis)."""

from __future__ import annotations

import re
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from sitemon_core.alerting.policy import AlertPolicy
from sitemon_core.alerting.state import Event, SiteState, SiteTracker
from tests.unit.alert_helpers import (
    INTERVAL,
    REGIONS,
    check,
    feed,
    notified,
    policies,
    recovery,
    steps,
    to_results,
)

POLICY = AlertPolicy()


def events(results: list, policy: AlertPolicy = POLICY, tracker: SiteTracker | None = None):
    tracker = tracker or SiteTracker()
    return [(i, c.event, c.notify) for i, c in feed(tracker, results, policy)]


def test_three_failures_open_and_two_successes_resolve() -> None:
    results = [check(False, 60 * i) for i in range(4)] + [check(True, 300), check(True, 360)]
    assert events(results) == [(2, Event.DOWN, True), (5, Event.UP, True)]


def test_unknown_until_a_verdict_then_up_without_a_notification() -> None:
    tracker = SiteTracker()
    assert events([check(True, 0)], tracker=tracker) == []
    assert tracker.state is SiteState.UNKNOWN
    assert events([check(True, 60)], tracker=tracker) == []
    assert tracker.state is SiteState.UP


def test_interrupted_failures_do_not_count() -> None:
    results = [check(ok, 60 * i) for i, ok in enumerate([False, False, True, False, False])]
    assert events(results) == []


def test_one_failing_region_is_not_an_outage_with_two_to_confirm() -> None:
    policy = AlertPolicy(confirm_regions=2)
    eu_down = [check(False, 10 * i, region="eu") for i in range(6)]
    us_up = [check(True, 10 * i + 5, region="us") for i in range(6)]
    mixed = sorted(eu_down + us_up, key=lambda r: r.started_at)
    assert events(mixed, policy) == []
    us_down = [check(False, 100 + 10 * i, region="us") for i in range(3)]
    eu_still = [check(False, 101 + 10 * i, region="eu") for i in range(3)]
    later = sorted(us_down + eu_still, key=lambda r: r.started_at)
    changes = feed(SiteTracker(), mixed + later, policy)
    assert [(c.event, c.regions) for _, c in changes] == [(Event.DOWN, ("eu", "us"))]


def test_a_stale_region_does_not_confirm() -> None:
    policy = AlertPolicy(confirm_regions=2)
    eu = [check(False, 10 * i, region="eu") for i in range(3)]
    # us fails too, but more than two intervals after eu last reported.
    us = [check(False, 30 + 2 * INTERVAL + 10 * i, region="us") for i in range(3)]
    assert events(eu + us, policy) == []


def test_replayed_results_are_ignored() -> None:
    failures = [check(False, 60 * i) for i in range(3)]
    tracker = SiteTracker()
    assert len(feed(tracker, failures, POLICY)) == 1
    assert feed(tracker, failures, POLICY) == []


def test_restored_down_repeats_no_down_and_still_resolves() -> None:
    tracker = SiteTracker.restored_down()
    failing = [check(False, 60 * i) for i in range(5)]
    assert events(failing, tracker=tracker) == []
    assert events([check(True, 400), check(True, 460)], tracker=tracker) == [(1, Event.UP, True)]


def test_flapping_notifies_once_then_is_quiet_until_stable() -> None:
    policy = AlertPolicy(failure_threshold=1, success_threshold=1, flap_window=10,
                         flap_max_changes=3)  # fmt: skip
    flips = [check(i % 2 == 1, 60 * i) for i in range(12)]  # down, up, down, ...
    got = events(flips, policy)
    # The 4th change (> max_changes) starts the flapping; it is an UP owed to a notified
    # DOWN, so it is still sent.
    assert got[:5] == [(0, Event.DOWN, True), (1, Event.UP, True), (2, Event.DOWN, True),
                       (3, Event.UP, True), (3, Event.FLAPPING, True)]  # fmt: skip
    assert got[5:] and all(not notify for _, event, notify in got[5:])
    tracker = SiteTracker()
    feed(tracker, flips, policy)
    # It goes down (not told: flapping), then stays down for a whole window: told now.
    stable = [check(False, 60 * (12 + i)) for i in range(11)]
    assert events(stable, policy, tracker) == [(0, Event.DOWN, False), (10, Event.STILL_DOWN, True)]
    assert not tracker.flapping


def reference_failing(history: str, policy: AlertPolicy) -> bool:
    """A region's verdict from its results ("F"/"S"), written independently of the code:
    a run of failure_threshold failures not followed by success_threshold successes."""
    runs = list(re.finditer(f"F{{{policy.failure_threshold}}}", history))
    return bool(runs) and "S" * policy.success_threshold not in history[runs[-1].end() :]


@settings(max_examples=300)
@given(policy=policies(), sequence=steps())
def test_law_no_down_before_threshold_failures_in_k_fresh_regions(policy, sequence) -> None:
    results = to_results(sequence)
    tracker = SiteTracker()
    history = {r: "" for r in REGIONS}
    last = {}
    for result in results:
        history[result.region] += "S" if result.ok else "F"
        last[result.region] = result.started_at
        for change in tracker.observe(result, policy, INTERVAL):
            if change.event is not Event.DOWN:
                continue
            fresh = result.started_at - timedelta(seconds=2 * INTERVAL)
            confirming = [
                r for r in REGIONS
                if r in last and last[r] >= fresh and reference_failing(history[r], policy)
            ]  # fmt: skip
            assert len(confirming) >= policy.confirm_regions
            # The confirming result's own region is one of them. (Not necessarily with its
            # last failure_threshold results failed: a region never recovered stays failing.)
            assert result.region in confirming
            assert change.regions == tuple(sorted(confirming))


def assert_alternates(events_: list[tuple[int, Event]]) -> None:
    """Notified downs and ups alternate, starting with a down."""
    expected = Event.DOWN
    for _, event in events_:
        kind = Event.DOWN if event in (Event.DOWN, Event.STILL_DOWN) else event
        if kind is Event.FLAPPING:
            continue
        assert kind is expected, events_
        expected = Event.UP if expected is Event.DOWN else Event.DOWN


@settings(max_examples=300)
@given(policy=policies(), sequence=steps())
def test_law_every_notified_down_gets_exactly_one_resolved(policy, sequence) -> None:
    results = to_results(sequence)
    after = (results[-1].started_at - results[0].started_at).total_seconds() if results else 0
    results += recovery(after + 1000, policy)  # long enough for flapping to end, too
    results += [check(True, after + 1000 + 100 * INTERVAL + i) for i in range(30)]
    tracker = SiteTracker()
    got = notified(feed(tracker, results, policy))
    assert_alternates(got)
    assert tracker.state is SiteState.UP
    downs = [e for _, e in got if e in (Event.DOWN, Event.STILL_DOWN)]
    assert len(downs) == len([e for _, e in got if e is Event.UP])


@settings(max_examples=300)
@given(policy=policies(), sequence=steps(max_size=200))
def test_law_a_flapping_site_gets_a_bounded_number_of_notifications(policy, sequence) -> None:
    # The worst case: a STILL_DOWN ending a flap, max_changes notified changes, then an
    # owed UP with the FLAPPING of the next flap, all within one window.
    got = notified(feed(SiteTracker(), to_results(sequence), policy))
    window = policy.flap_window
    for start in range(len(sequence)):
        inside = [i for i, _ in got if start <= i < start + window]
        assert len(inside) <= policy.flap_max_changes + 3


@settings(max_examples=300)
@given(policy=policies(), sequence=steps(), cut=st.integers(0, 120))
def test_law_restart_repeats_no_down_and_loses_no_resolved(policy, sequence, cut) -> None:
    results = to_results(sequence)
    after = (results[-1].started_at - results[0].started_at).total_seconds() if results else 0
    # Twice: a restart in the middle of the first forgets the successes counted so far.
    results += recovery(after + 1000, policy) + recovery(after + 5000, policy)
    cut = min(cut, len(results))
    before = SiteTracker()
    got = notified(feed(before, results[:cut], policy))
    # What the store holds: an open incident if the site was down, with its FIRING queued
    # if it was notified.
    after_restart = (
        SiteTracker.restored_down(notified=before.notified)
        if before.state is SiteState.DOWN
        else SiteTracker()
    )
    got += [(cut + i, e) for i, e in notified(feed(after_restart, results[cut:], policy))]
    assert_alternates(got)
    assert after_restart.state is not SiteState.DOWN  # recovered (or not fed at all)
    assert (before if cut == len(results) else after_restart).state is not SiteState.DOWN
