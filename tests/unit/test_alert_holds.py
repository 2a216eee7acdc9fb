"""Law: maintenance never drops an incident, it only holds the notifications (Hypothesis).

The same results go through an alerter without and with maintenance windows; then a
dispatcher runs after every window ended.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sitemon_adapters.store.memory_incidents import InMemoryIncidentRepository
from sitemon_core.alerting import (
    Alerter,
    AlertPolicy,
    DeliveryState,
    Dispatcher,
    Maintenance,
    MaintenanceWindow,
    OneOff,
    SiteAlerting,
    Transition,
)
from tests.unit.alert_helpers import T0, ListSubscriber, RecordingNotifier, steps, to_results
from tests.unit.fakes import ManualClock

SITE = SiteAlerting(
    policy=AlertPolicy(failure_threshold=2, success_threshold=1, notifiers=("hook",)),
    interval_s=60,
    tags={"prod"},
)
TAGS = frozenset({"prod"})


async def alert(results, maintenance: Maintenance) -> InMemoryIncidentRepository:
    repo = InMemoryIncidentRepository()
    subscriber = ListSubscriber([results[i : i + 7] for i in range(0, len(results), 7)])
    alerter = Alerter(
        subscriber, repo, ManualClock(), sites={"site-a": SITE}, maintenance=maintenance
    )
    subscriber.on_empty = alerter.request_stop
    await asyncio.wait_for(alerter.run(), 10)
    return repo


async def dispatch(repo: InMemoryIncidentRepository) -> RecordingNotifier:
    clock, hook = ManualClock(), RecordingNotifier()
    await clock.advance(30 * 3600)  # after every window
    dispatcher = Dispatcher(repo, {"hook": hook}, clock)
    task = asyncio.create_task(dispatcher.run())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    # Every send here succeeds, and a notification stays due until its outcome is stored.
    while await repo.due_notifications(clock.utcnow(), 1):
        assert loop.time() < deadline
        await asyncio.sleep(0.001)
    dispatcher.request_stop()
    await asyncio.wait_for(task, 5)
    return hook


def summary(incidents):
    return sorted((i.opened_at, i.resolved_at, i.error_kind, i.regions) for i in incidents)


async def check_law(sequence, spans) -> None:
    results = to_results(sequence)
    maintenance = Maintenance(
        MaintenanceWindow(
            schedule=OneOff(start=T0 + timedelta(minutes=a), duration=timedelta(minutes=d)),
            tags={"prod"},
        )
        for a, d in spans
    )
    plain, held = await alert(results, Maintenance()), await alert(results, maintenance)
    # Every incident is recorded, exactly as without maintenance.
    assert summary(await held.incidents(limit=10**6)) == summary(await plain.incidents(limit=10**6))
    by_open = {i.opened_at: i for i in await held.incidents(limit=10**6)}
    for incident in await plain.incidents(limit=10**6):
        twin = by_open[incident.opened_at]
        queued = await held.notifications_of(twin.id)
        firing_hold = max(
            (q.not_before for q in queued if q.transition is Transition.FIRING and q.not_before),
            default=None,
        )
        for n in await plain.notifications_of(incident.id):
            # Only a RESOLVED is not owed, when its FIRING's hold outlasted the incident.
            owed = not (
                n.transition is Transition.RESOLVED
                and firing_hold is not None
                and incident.resolved_at is not None
                and incident.resolved_at < firing_hold
            )
            assert owed == any(q.transition is n.transition for q in queued)
        for q in queued:  # held until a time outside every window, or not at all
            assert (q.state is DeliveryState.HELD) == (q.not_before is not None)
            if q.not_before is not None:
                assert maintenance.in_maintenance("site-a", TAGS, q.not_before) is None
    # After the windows: a FIRING goes out iff its incident was open when its hold
    # ended, and every FIRING that went out is followed by its RESOLVED.
    sent = [(n.incident.id, n.transition) for n in (await dispatch(held)).sent]
    for incident in await held.incidents(limit=10**6):
        firing = [
            n for n in await held.notifications_of(incident.id) if n.transition is Transition.FIRING
        ]
        if firing and (incident.id, Transition.FIRING) in sent and incident.resolved_at:
            assert (incident.id, Transition.RESOLVED) in sent
        if (incident.id, Transition.RESOLVED) in sent:
            assert (incident.id, Transition.FIRING) in sent
        for n in firing:
            hold_end = n.not_before
            relevant = (
                hold_end is None or not incident.resolved_at or incident.resolved_at >= hold_end
            )
            assert relevant == ((incident.id, Transition.FIRING) in sent)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sequence=steps(regions=1, max_size=60),
    spans=st.lists(st.tuples(st.integers(0, 240), st.integers(1, 120)), max_size=3),
)
def test_law_maintenance_never_drops_an_incident_only_holds_its_notifications(
    sequence, spans
) -> None:
    asyncio.run(check_law(sequence, spans))
