"""The Alerter use case with in-memory adapters: incidents, the outbox, restarts, holds."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

import pytest

from sitemon_adapters.bus.memory import InMemoryStatusBus
from sitemon_adapters.store.memory_incidents import InMemoryIncidentRepository
from sitemon_core.alerting import (
    Alerter,
    AlertPolicy,
    DeliveryState,
    Incident,
    Maintenance,
    MaintenanceWindow,
    Notification,
    OneOff,
    SiteAlerting,
    Transition,
)
from sitemon_core.errors import RepositoryError
from sitemon_core.models import CheckResult
from sitemon_core.persister import Backoff
from tests.unit.alert_helpers import T0, ListSubscriber, check
from tests.unit.fakes import ManualClock, settle

SITE = SiteAlerting(
    policy=AlertPolicy(notifiers=("hook", "am"), resend_every_s={"am": 60}),
    interval_s=60,
    tags={"prod"},
)
DOWN_UP = [check(False, 60 * i, url="https://user:pw@site-a.example/") for i in range(4)] + [
    check(True, 300),
    check(True, 360),
]


async def run_alerter(
    batches: Sequence[Sequence[CheckResult]],
    repo: InMemoryIncidentRepository,
    clock: ManualClock | None = None,
    **kw: object,
) -> Alerter:
    """Run an alerter over ``batches`` until they are all handled."""
    subscriber = ListSubscriber(batches)
    alerter = Alerter(
        subscriber,
        repo,
        clock or ManualClock(),
        sites={"site-a": SITE},
        **kw,  # type: ignore[arg-type]
    )
    subscriber.on_empty = alerter.request_stop
    await asyncio.wait_for(alerter.run(), 5)
    assert subscriber.acknowledged == list(range(1, len(batches) + 1))
    return alerter


async def outbox(repo: InMemoryIncidentRepository, incident: Incident) -> list[tuple[str, str]]:
    return [(n.transition.value, n.notifier) for n in await repo.notifications_of(incident.id)]


async def test_an_outage_opens_then_resolves_one_incident_with_its_details() -> None:
    repo = InMemoryIncidentRepository()
    alerter = await run_alerter([DOWN_UP[:3], DOWN_UP[3:]], repo)
    [incident] = await repo.incidents()
    assert incident.opened_at == DOWN_UP[2].started_at  # the first confirming result
    assert incident.resolved_at == DOWN_UP[5].started_at
    assert (incident.error_kind, incident.status_code) == ("timeout", 503)
    assert incident.error_message == "timed out after 10 s"
    assert incident.url == "https://site-a.example/"  # credentials stripped
    assert (incident.regions, incident.tags) == (("eu",), ("prod",))
    assert sorted(await outbox(repo, incident)) == [
        ("firing", "am"), ("firing", "hook"), ("resolved", "am"), ("resolved", "hook")
    ]  # fmt: skip
    queued = await repo.notifications_of(incident.id)
    assert {n.key for n in queued} == {f"{incident.id}:firing", f"{incident.id}:resolved"}
    stats = alerter.stats
    assert (stats.results, stats.incidents_opened, stats.incidents_resolved) == (6, 1, 1)
    assert stats.notifications_enqueued == 4


async def test_a_result_of_an_unknown_site_uses_the_default() -> None:
    repo = InMemoryIncidentRepository()
    other = [check(False, 60 * i, site_id="other") for i in range(2)]
    default = SiteAlerting(policy=AlertPolicy(failure_threshold=2, notifiers=("hook",)))
    await run_alerter([other], repo, default=default)
    [incident] = await repo.open_incidents()
    assert await outbox(repo, incident) == [("firing", "hook")]


class FlakyIncidents(InMemoryIncidentRepository):
    """Fails the next ``failures`` records with a retriable error."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def record(self, incident: Incident, notifications: Sequence[Notification]) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise RepositoryError("database unavailable", retriable=True)
        await super().record(incident, notifications)


async def test_a_batch_is_acknowledged_only_after_its_changes_are_stored() -> None:
    clock, bus, repo = ManualClock(), InMemoryStatusBus(), FlakyIncidents(failures=2)
    publisher = bus.publisher()
    for result in DOWN_UP[:3]:
        await publisher.publish(result)
    alerter = Alerter(
        bus.subscriber("alerter"), repo, clock, sites={"site-a": SITE}, poll_timeout_s=0.01,
        backoff=Backoff(initial_s=1, maximum_s=5, factor=2),
    )  # fmt: skip
    task = asyncio.create_task(alerter.run())
    await settle()
    assert bus.committed("alerter") == 0 and await repo.open_incidents() == []
    await clock.advance(1)
    assert bus.committed("alerter") == 0
    await clock.advance(2)
    await wait_for(lambda: bus.committed("alerter") == 3)
    assert len(await repo.open_incidents()) == 1 and alerter.stats.retries == 2
    alerter.request_stop()
    await asyncio.wait_for(task, 5)


async def test_a_non_retriable_store_error_stops_the_alerter_unacknowledged() -> None:
    class Broken(InMemoryIncidentRepository):
        async def record(self, incident: Incident, notifications: Sequence[Notification]) -> None:
            raise RepositoryError("schema mismatch", retriable=False)

    subscriber = ListSubscriber([DOWN_UP[:3]])
    alerter = Alerter(subscriber, Broken(), ManualClock(), sites={"site-a": SITE})
    with pytest.raises(RepositoryError, match="schema"):
        await asyncio.wait_for(alerter.run(), 5)
    assert subscriber.acknowledged == []


async def test_a_restart_repeats_no_firing_and_still_resolves() -> None:
    repo = InMemoryIncidentRepository()
    await run_alerter([DOWN_UP[:3]], repo)
    [incident] = await repo.open_incidents()
    # The restarted alerter sees more failures (and a replay), then the recovery.
    await run_alerter([DOWN_UP[1:4], DOWN_UP[4:]], repo)
    assert await repo.open_incidents() == []
    assert sorted(await outbox(repo, incident)) == [
        ("firing", "am"), ("firing", "hook"), ("resolved", "am"), ("resolved", "hook")
    ]  # fmt: skip
    assert len(await repo.incidents()) == 1


async def test_a_batch_replayed_after_a_restart_reopens_nothing() -> None:
    repo = InMemoryIncidentRepository()
    await run_alerter([DOWN_UP], repo)  # opened and resolved; the ack is lost in a crash
    [incident] = await repo.incidents()
    await run_alerter([DOWN_UP], repo)
    assert await repo.incidents() == [incident]
    assert len(await repo.notifications_of(incident.id)) == 4
    # Outside the restore window the same results count again (the check: it is the
    # window that made the replay harmless).
    clock = ManualClock()
    await clock.advance(3600)
    await run_alerter([DOWN_UP], repo, clock, restore_window_s=60)
    assert len(await repo.incidents()) == 2


async def reminders(repo: InMemoryIncidentRepository) -> list[tuple[str, str]]:
    [incident] = await repo.open_incidents()
    queued = await repo.notifications_of(incident.id)
    return [(n.notifier, n.key[33:]) for n in queued if n.transition is Transition.REMINDER]


async def test_reminders_are_queued_for_notifiers_with_a_resend_period() -> None:
    clock, repo = ManualClock(), InMemoryIncidentRepository()
    subscriber = ListSubscriber([DOWN_UP[:3]])
    alerter = Alerter(subscriber, repo, clock, sites={"site-a": SITE})
    task = asyncio.create_task(alerter.run())
    await wait_for(lambda: subscriber.acknowledged == [1])
    assert await reminders(repo) == []
    await clock.advance(120 + 59)  # the incident opened at T0 + 120 s
    await settle()
    assert await reminders(repo) == []
    await clock.advance(2)
    await wait_for(lambda: alerter.stats.reminders == 1)
    assert await reminders(repo) == [("am", "reminder:1")]
    alerter.request_stop()
    await asyncio.wait_for(task, 5)
    # A restart queues the current period's at once (a duplicate key is ignored).
    await run_alerter([], repo, clock)
    assert await reminders(repo) == [("am", "reminder:1")]
    await clock.advance(60)
    await run_alerter([], repo, clock)
    assert await reminders(repo) == [("am", "reminder:1"), ("am", "reminder:2")]


def window(start_s: float, hours: float) -> Maintenance:
    start = T0 + timedelta(seconds=start_s)
    return Maintenance(
        [
            MaintenanceWindow(
                schedule=OneOff(start=start, duration=timedelta(hours=hours)), tags={"prod"}
            )
        ]
    )


async def test_maintenance_holds_the_firing_until_the_window_ends() -> None:
    repo = InMemoryIncidentRepository()
    maintenance = window(0, 1)
    alerter = await run_alerter([DOWN_UP[:3]], repo, maintenance=maintenance)
    [incident] = await repo.open_incidents()
    queued = await repo.notifications_of(incident.id)
    assert {(n.state, n.not_before) for n in queued} == {
        (DeliveryState.HELD, T0 + timedelta(hours=1))
    }
    assert alerter.stats.notifications_held == 2
    assert await repo.due_notifications(T0 + timedelta(minutes=59), 10) == []
    assert len(await repo.due_notifications(T0 + timedelta(hours=1), 10)) == 2


async def test_an_outage_inside_one_window_is_recorded_but_owes_no_resolved() -> None:
    repo = InMemoryIncidentRepository()
    await run_alerter([DOWN_UP], repo, maintenance=window(0, 1))
    [incident] = await repo.incidents()
    assert incident.resolved_at is not None
    assert sorted(await outbox(repo, incident)) == [("firing", "am"), ("firing", "hook")]


async def test_a_resolution_after_the_window_is_queued() -> None:
    repo = InMemoryIncidentRepository()
    await run_alerter([DOWN_UP], repo, maintenance=window(0, 300 / 3600))  # ends at 300 s
    [incident] = await repo.incidents()
    resolved = [
        n for n in await repo.notifications_of(incident.id) if n.transition is Transition.RESOLVED
    ]
    assert {n.state for n in resolved} == {DeliveryState.PENDING}


async def wait_for(condition, timeout_s: float = 5.0) -> None:
    """Let tasks run until ``condition()`` holds (no clock time passes)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.001)


async def test_on_queued_is_called_once_notifications_are_stored() -> None:
    repo, calls = InMemoryIncidentRepository(), []

    def queued() -> None:
        calls.append(len(repo._outbox))

    await run_alerter([DOWN_UP[:2], DOWN_UP[2:3]], repo, on_queued=queued)
    assert calls == [2]  # the second batch queued the FIRINGs; the first nothing
