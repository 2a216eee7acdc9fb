"""Law: an alerter restarted from the stored open incidents repeats no ``down`` and loses
no ``resolved`` (Hypothesis), whatever the results and wherever the restart falls, the last
unacknowledged batch being delivered again."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sitemon_adapters.store.memory_incidents import InMemoryIncidentRepository
from sitemon_core.alerting import Alerter, SiteAlerting, Transition
from tests.unit.alert_helpers import INTERVAL, ListSubscriber, policies, recovery, steps, to_results
from tests.unit.fakes import ManualClock


async def alert(repo, batches, site: SiteAlerting) -> None:
    subscriber = ListSubscriber(batches)
    alerter = Alerter(subscriber, repo, ManualClock(), sites={"site-a": site})
    subscriber.on_empty = alerter.request_stop
    await asyncio.wait_for(alerter.run(), 10)


async def check_law(policy, sequence, cut: int, size: int) -> None:
    site = SiteAlerting(policy=attrs.evolve(policy, notifiers=("hook",)), interval_s=INTERVAL)
    results = to_results(sequence)
    end = (results[-1].started_at - results[0].started_at).total_seconds() if results else 0
    # Twice: a restart in the middle of the first forgets the successes counted so far.
    results += recovery(end + 10_000, policy) + recovery(end + 20_000, policy)
    cut = min(cut, len(results))
    repo = InMemoryIncidentRepository()
    before = [results[i : min(i + size, cut)] for i in range(0, cut, size)]
    await alert(repo, before, site)
    # The crash lost the last batch's acknowledgement: it comes again after the restart.
    replay = results[max(0, cut - size) : cut]
    await alert(
        repo, [replay, *(results[i : i + size] for i in range(cut, len(results), size))], site
    )

    incidents = sorted(await repo.incidents(limit=10**6), key=lambda i: i.opened_at)
    assert await repo.open_incidents() == []  # recovered: everything resolved
    for earlier, later in itertools.pairwise(incidents):
        assert earlier.resolved_at is not None and earlier.resolved_at <= later.opened_at
    for incident in incidents:
        kinds = Counter(n.transition for n in await repo.notifications_of(incident.id))
        assert kinds[Transition.FIRING] <= 1
        assert kinds[Transition.RESOLVED] == kinds[Transition.FIRING], kinds


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    policy=policies(max_regions=2),
    sequence=steps(regions=2, max_size=80),
    cut=st.integers(0, 100),
    size=st.integers(1, 9),
)
def test_law_a_restart_repeats_no_down_and_loses_no_resolved(policy, sequence, cut, size) -> None:
    asyncio.run(check_law(policy, sequence, cut, size))
