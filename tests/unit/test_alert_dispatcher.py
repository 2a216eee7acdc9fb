"""The Dispatcher: delivers the outbox with bounded concurrency, retries, holds and drops."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import attrs

from sitemon_adapters.store.memory_incidents import InMemoryIncidentRepository
from sitemon_core.alerting import (
    Delivery,
    DeliveryState,
    Dispatcher,
    Incident,
    Notification,
    Transition,
)
from sitemon_core.alerting.records import notifications
from sitemon_core.persister import Backoff
from tests.unit.alert_helpers import RecordingNotifier
from tests.unit.fakes import EPOCH, ManualClock, settle
from tests.unit.test_alert_alerter import wait_for

INCIDENT = Incident(
    id="i1",
    site_id="site-a",
    url="https://site-a.example/",
    opened_at=EPOCH,
    error_kind="timeout",
    error_message="timed out",
    regions=("eu",),
)


async def queue(
    repo: InMemoryIncidentRepository,
    incident: Incident = INCIDENT,
    transition: Transition = Transition.FIRING,
    names: tuple[str, ...] = ("hook",),
    hold: timedelta | None = None,
) -> list[Notification]:
    queued = notifications(
        incident,
        transition,
        names,
        now=EPOCH,
        hold_until=None if hold is None else EPOCH + hold,
    )
    await repo.record(incident, queued)
    return queued


async def states(repo: InMemoryIncidentRepository, incident: Incident = INCIDENT) -> list:
    return [(n.notifier, n.state, n.attempts) for n in await repo.notifications_of(incident.id)]


def start(dispatcher: Dispatcher) -> asyncio.Task:
    return asyncio.create_task(dispatcher.run())


async def stop(dispatcher: Dispatcher, task: asyncio.Task) -> None:
    dispatcher.request_stop()
    await asyncio.wait_for(task, 5)


async def test_due_notifications_are_delivered_once() -> None:
    clock, repo = ManualClock(), InMemoryIncidentRepository()
    hook, am = RecordingNotifier(), RecordingNotifier()
    await queue(repo, names=("hook", "am"))
    dispatcher = Dispatcher(repo, {"hook": hook, "am": am}, clock)
    task = start(dispatcher)
    await wait_for(lambda: dispatcher.stats.delivered == 2)
    await clock.advance(5)  # a few more polls send nothing again
    await stop(dispatcher, task)
    assert sorted(await states(repo)) == [
        ("am", DeliveryState.DELIVERED, 1),
        ("hook", DeliveryState.DELIVERED, 1),
    ]
    assert (len(hook.sent), len(am.sent)) == (1, 1)


async def test_retriable_failures_back_off_then_fail_past_the_deadline() -> None:
    clock, repo = ManualClock(), InMemoryIncidentRepository()
    hook = RecordingNotifier(lambda n: Delivery(delivered=False, retriable=True, error="503"))
    await queue(repo)
    dispatcher = Dispatcher(
        repo,
        {"hook": hook},
        clock,
        poll_interval_s=0.5,
        retry=Backoff(initial_s=1, maximum_s=4, factor=2),
        deadline_s=6,  # waits 1, 2, then 4 would make 7 > 6
    )
    task = start(dispatcher)
    await wait_for(lambda: len(hook.sent) == 1)
    await settle()
    [n] = await repo.notifications_of("i1")
    assert (n.state, n.attempts, n.last_error) == (DeliveryState.PENDING, 1, "503")
    assert n.not_before == clock.utcnow() + timedelta(seconds=1)
    await clock.advance(0.5)
    assert len(hook.sent) == 1  # not before its backoff
    await clock.advance(0.5)
    await wait_for(lambda: len(hook.sent) == 2)
    await clock.advance(2)
    await wait_for(lambda: len(hook.sent) == 3)
    await settle()
    await clock.advance(60)
    await stop(dispatcher, task)
    assert await states(repo) == [("hook", DeliveryState.FAILED, 3)]
    assert (dispatcher.stats.retried, dispatcher.stats.failed, len(hook.sent)) == (2, 1, 3)


async def test_a_non_retriable_failure_fails_at_once() -> None:
    clock, repo = ManualClock(), InMemoryIncidentRepository()
    hook = RecordingNotifier(lambda n: Delivery(delivered=False, error="HTTP 404"))
    await queue(repo)
    dispatcher = Dispatcher(repo, {"hook": hook}, clock)
    task = start(dispatcher)
    await wait_for(lambda: dispatcher.stats.failed == 1)
    await clock.advance(10)
    await stop(dispatcher, task)
    [n] = await repo.notifications_of("i1")
    assert (n.state, n.attempts, n.last_error) == (DeliveryState.FAILED, 1, "HTTP 404")
    assert len(hook.sent) == 1


async def test_an_unconfigured_notifier_name_fails_and_a_raising_notifier_is_retried() -> None:
    clock, repo = ManualClock(), InMemoryIncidentRepository()

    class Raising(RecordingNotifier):
        async def send(self, notification: Notification) -> Delivery:
            raise RuntimeError("notifier bug")

    await queue(repo, names=("ghost", "buggy"))
    dispatcher = Dispatcher(repo, {"buggy": Raising()}, clock)
    task = start(dispatcher)
    await wait_for(lambda: dispatcher.stats.failed == 1 and dispatcher.stats.retried == 1)
    await stop(dispatcher, task)
    by_name = {n.notifier: n for n in await repo.notifications_of("i1")}
    assert by_name["ghost"].state is DeliveryState.FAILED
    assert "ghost" in by_name["ghost"].last_error
    assert (by_name["buggy"].state, by_name["buggy"].last_error) == (
        DeliveryState.PENDING,
        "RuntimeError",
    )


async def test_held_notifications_wait_for_the_hold_then_only_relevant_ones_go() -> None:
    clock, repo = ManualClock(), InMemoryIncidentRepository()
    hook = RecordingNotifier()
    closed_early = attrs.evolve(INCIDENT, id="i2")
    closed_late = attrs.evolve(INCIDENT, id="i3")
    await queue(repo, hold=timedelta(hours=1))  # still open: sent at the end
    await queue(repo, closed_early, hold=timedelta(hours=1))
    await queue(repo, closed_late, hold=timedelta(hours=1))
    resolved_early = attrs.evolve(closed_early, resolved_at=EPOCH + timedelta(minutes=30))
    resolved_late = attrs.evolve(closed_late, resolved_at=EPOCH + timedelta(minutes=90))
    await queue(repo, resolved_early, Transition.RESOLVED, hold=timedelta(hours=1))
    await queue(repo, resolved_late, Transition.RESOLVED)
    dispatcher = Dispatcher(repo, {"hook": hook}, clock, poll_interval_s=60)
    task = start(dispatcher)
    await wait_for(lambda: len(hook.sent) == 1)  # only the unheld RESOLVED of i3
    await clock.advance(3599)
    assert len(hook.sent) == 1
    await clock.advance(61)
    await wait_for(lambda: len(hook.sent) == 4)
    await stop(dispatcher, task)
    sent = sorted((n.incident.id, n.transition.value) for n in hook.sent)
    # i2 opened and closed inside the hold: its FIRING is dropped (its held RESOLVED is
    # still sent: the alerter never queues one it does not owe, see Alerter).
    assert sent == [("i1", "firing"), ("i2", "resolved"), ("i3", "firing"), ("i3", "resolved")]
    assert [s for _, s, _ in await states(repo, closed_early)] == [
        DeliveryState.DROPPED,
        DeliveryState.DELIVERED,
    ]
    assert dispatcher.stats.dropped == 1


async def test_concurrency_is_bounded_overall_and_per_notifier() -> None:
    clock, repo = ManualClock(), InMemoryIncidentRepository()
    slow, fast = RecordingNotifier(), RecordingNotifier()
    slow.gate = asyncio.Event()  # a receiver that hangs
    for i in range(6):
        await queue(repo, attrs.evolve(INCIDENT, id=f"s{i}"), names=("slow",))
    for i in range(6):
        await queue(repo, attrs.evolve(INCIDENT, id=f"f{i}"), names=("fast",))
    dispatcher = Dispatcher(
        repo, {"slow": slow, "fast": fast}, clock, max_concurrency=3, max_per_notifier=2
    )
    task = start(dispatcher)
    await wait_for(lambda: len(fast.sent) == 6)  # through the one slot the slow one leaves
    assert len(slow.sent) == 2
    slow.gate.set()
    await wait_for(lambda: dispatcher.stats.delivered == 12)
    await stop(dispatcher, task)
    assert len(slow.sent) == 6


async def test_stop_waits_for_the_sends_in_flight() -> None:
    clock, repo = ManualClock(), InMemoryIncidentRepository()
    hook = RecordingNotifier()
    hook.gate = asyncio.Event()
    await queue(repo)
    dispatcher = Dispatcher(repo, {"hook": hook}, clock)
    task = start(dispatcher)
    await wait_for(lambda: len(hook.sent) == 1)
    dispatcher.request_stop()
    await settle()
    assert not task.done()
    hook.gate.set()
    await asyncio.wait_for(task, 5)
    assert await states(repo) == [("hook", DeliveryState.DELIVERED, 1)]


async def test_an_incidents_notifications_to_one_notifier_go_one_at_a_time_in_order() -> None:
    clock, repo = ManualClock(), InMemoryIncidentRepository()
    hook = RecordingNotifier()
    hook.gate = asyncio.Event()
    await queue(repo)
    closed = attrs.evolve(INCIDENT, resolved_at=EPOCH + timedelta(minutes=5))
    await queue(repo, closed, Transition.RESOLVED)
    dispatcher = Dispatcher(repo, {"hook": hook}, clock)
    task = start(dispatcher)
    await wait_for(lambda: len(hook.sent) == 1)
    await settle()
    assert [n.transition for n in hook.sent] == [Transition.FIRING]
    hook.gate.set()
    await wait_for(lambda: dispatcher.stats.delivered == 2)
    await stop(dispatcher, task)
    assert [n.transition for n in hook.sent] == [Transition.FIRING, Transition.RESOLVED]


async def test_wake_delivers_without_waiting_for_the_poll() -> None:
    clock, repo = ManualClock(), InMemoryIncidentRepository()
    hook = RecordingNotifier()
    dispatcher = Dispatcher(repo, {"hook": hook}, clock, poll_interval_s=3600)
    task = start(dispatcher)
    await settle()
    await queue(repo)
    await settle()
    assert hook.sent == []  # nobody told it: it waits for its poll
    dispatcher.wake()
    await wait_for(lambda: dispatcher.stats.delivered == 1)
    await stop(dispatcher, task)


class SlowReadRepository(InMemoryIncidentRepository):
    """Reads the due notifications at once, then (once ``slow`` is set) holds the answer
    until ``answer`` is set: a query whose snapshot is older than its reply."""

    def __init__(self) -> None:
        super().__init__()
        self.slow = False
        self.answer = asyncio.Event()
        self.reading = False

    async def due_notifications(self, now, limit):  # type: ignore[no-untyped-def]
        due = await super().due_notifications(now, limit)
        if self.slow:
            self.reading = True
            await self.answer.wait()
            self.reading = False
        return due


async def test_a_delivery_that_ends_during_a_read_is_not_sent_again_from_its_stale_row() -> None:
    clock, repo = ManualClock(), SlowReadRepository()
    hook = RecordingNotifier()
    hook.gate = asyncio.Event()
    await queue(repo)
    dispatcher = Dispatcher(repo, {"hook": hook}, clock, poll_interval_s=1.0)
    task = start(dispatcher)
    await wait_for(lambda: len(hook.sent) == 1)  # in flight, held at the receiver
    repo.slow = True
    await clock.advance(1)  # the next poll reads the row, still pending, and waits
    await wait_for(lambda: repo.reading)
    hook.gate.set()  # the send ends and is stored as delivered meanwhile
    await wait_for(lambda: dispatcher.stats.delivered == 1)
    repo.answer.set()  # the read answers with the row as it was: pending
    await settle()
    await clock.advance(3)
    await stop(dispatcher, task)
    assert len(hook.sent) == 1
    assert await states(repo) == [("hook", DeliveryState.DELIVERED, 1)]
