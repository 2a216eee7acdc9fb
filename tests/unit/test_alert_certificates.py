"""Certificate warnings: opened by a certificate expiring within the site's window, resolved
by a later one beyond it, apart from the up/down incidents (examples and Hypothesis laws)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sitemon_adapters.store.memory_incidents import InMemoryIncidentRepository
from sitemon_core.alerting import (
    Alerter,
    AlertPolicy,
    Incident,
    IncidentKind,
    SiteAlerting,
    Transition,
)
from sitemon_core.alerting.certificates import days_left, expiry_text
from sitemon_core.models import CheckResult
from tests.unit.alert_helpers import INTERVAL, REGIONS, ListSubscriber, check
from tests.unit.fakes import ManualClock

DAY = 86400.0
SITE = SiteAlerting(
    policy=AlertPolicy(failure_threshold=2, notifiers=("hook", "am"), resend_every_s={"am": 60}),
    interval_s=INTERVAL,
    tags={"prod"},
    tls_expiry_warning_s=14 * DAY,
)


def tls(result: CheckResult, days: float | None) -> CheckResult:
    """``result`` carrying a certificate that expires ``days`` after the check (None: none)."""
    if days is None:
        return result
    return attrs.evolve(result, tls_not_after=result.started_at + timedelta(days=days))


async def alert(
    repo: InMemoryIncidentRepository,
    batches: Sequence[Sequence[CheckResult]],
    site: SiteAlerting = SITE,
) -> Alerter:
    subscriber = ListSubscriber(batches)
    alerter = Alerter(subscriber, repo, ManualClock(), sites={"site-a": site})
    subscriber.on_empty = alerter.request_stop
    await asyncio.wait_for(alerter.run(), 10)
    return alerter


async def of_kind(repo: InMemoryIncidentRepository, kind: IncidentKind) -> list[Incident]:
    found = [i for i in await repo.incidents(limit=10**6) if i.kind is kind]
    return sorted(found, key=lambda i: i.opened_at)


async def keys(repo: InMemoryIncidentRepository, incident: Incident) -> list[tuple[str, str]]:
    return sorted((n.key, n.notifier) for n in await repo.notifications_of(incident.id))


async def test_a_certificate_within_the_window_opens_one_warning_until_one_beyond_it() -> None:
    repo = InMemoryIncidentRepository()
    results = [
        tls(check(True, 0), 30),  # fine
        check(True, 60),  # no certificate: ignored
        tls(check(True, 120), 3),  # expiring: opens
        tls(check(True, 180, region="us"), 2.9),  # still expiring: nothing new
        tls(check(True, 240), 90),  # renewed: resolves
    ]
    alerter = await alert(repo, [results[:3], results[3:]])
    [warning] = await of_kind(repo, IncidentKind.CERTIFICATE)
    assert await of_kind(repo, IncidentKind.DOWN) == []
    assert warning.opened_at == results[2].started_at
    assert warning.resolved_at == results[4].started_at
    assert warning.tls_not_after == results[2].tls_not_after
    assert (warning.error_kind, warning.regions, warning.tags) == (
        "certificate",
        ("eu",),
        ("prod",),
    )
    assert warning.error_message == expiry_text(results[2].tls_not_after, results[2].started_at)
    assert "(3 days left)" in warning.error_message
    assert await keys(repo, warning) == [
        (f"{warning.id}:firing", "am"), (f"{warning.id}:firing", "hook"),
        (f"{warning.id}:resolved", "am"), (f"{warning.id}:resolved", "hook"),
    ]  # fmt: skip
    stats = alerter.stats
    assert (stats.certificate_warnings_opened, stats.certificate_warnings_resolved) == (1, 1)
    assert stats.incidents_opened == 0


async def test_an_expired_certificate_on_a_failing_site_opens_a_warning_and_an_outage() -> None:
    repo = InMemoryIncidentRepository()
    failing = [tls(check(False, 60 * i), -2) for i in range(3)]
    await alert(repo, [failing])
    [warning] = await of_kind(repo, IncidentKind.CERTIFICATE)
    [outage] = await of_kind(repo, IncidentKind.DOWN)
    assert warning.is_open and outage.is_open and warning.id != outage.id
    assert "expired" in warning.error_message and "2 days ago" in warning.error_message


async def test_the_window_is_the_sites_own_and_zero_turns_warnings_off() -> None:
    repo = InMemoryIncidentRepository()
    await alert(repo, [[tls(check(True, 0), 20)]], attrs.evolve(SITE, tls_expiry_warning_s=0))
    await alert(repo, [[tls(check(True, 60), 1)]], attrs.evolve(SITE, tls_expiry_warning_s=0))
    assert await of_kind(repo, IncidentKind.CERTIFICATE) == []
    await alert(
        repo, [[tls(check(True, 120), 20)]], attrs.evolve(SITE, tls_expiry_warning_s=30 * DAY)
    )
    assert len(await of_kind(repo, IncidentKind.CERTIFICATE)) == 1


async def test_a_restarted_alerter_keeps_the_open_warning_and_resolves_it_once() -> None:
    repo = InMemoryIncidentRepository()
    first = [tls(check(True, 0), 3), tls(check(True, 60), 3)]
    await alert(repo, [first])
    # The unacknowledged batch comes again, then a renewed certificate.
    await alert(repo, [first, [tls(check(True, 120), 2.9), tls(check(True, 180), 60)]])
    [warning] = await of_kind(repo, IncidentKind.CERTIFICATE)
    assert warning.resolved_at == first[0].started_at + timedelta(seconds=180)
    transitions = Counter(n.transition for n in await repo.notifications_of(warning.id))
    assert transitions == {Transition.FIRING: 2, Transition.RESOLVED: 2}  # hook and am


def test_days_left_rounds_down_and_counts_expired_days_negative() -> None:
    at = check(True, 0).started_at
    assert days_left(at + timedelta(days=3, seconds=-1), at) == 2
    assert days_left(at + timedelta(days=3), at) == 3
    assert days_left(at - timedelta(hours=1), at) == -1


# Laws over random sequences: per result, its region, whether it is ok, and the days its
# certificate has left (None: no certificate).
Step = tuple[int, bool, float | None]
steps = st.lists(
    st.tuples(
        st.integers(0, len(REGIONS) - 1),
        st.booleans(),
        st.one_of(st.none(), st.sampled_from([-1.0, 0.5, 13.9, 14.1, 60.0])),
    ),
    max_size=60,
)


def results_of(sequence: list[Step]) -> list[CheckResult]:
    return [
        tls(check(ok, INTERVAL * (i + 1), region=REGIONS[region]), days)
        for i, (region, ok, days) in enumerate(sequence)
    ]


def expected_warnings(sequence: list[Step]) -> list[tuple[int, int | None]]:
    """(index opening, index resolving or None) of each warning: the reference model."""
    out: list[tuple[int, int | None]] = []
    opened: int | None = None
    for i, (_, _, days) in enumerate(sequence):
        if days is None:
            continue
        if days * DAY < SITE.tls_expiry_warning_s and opened is None:
            opened = i
        elif days * DAY >= SITE.tls_expiry_warning_s and opened is not None:
            out.append((opened, i))
            opened = None
    return out if opened is None else [*out, (opened, None)]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequence=steps, size=st.integers(1, 7))
def test_law_a_warning_opens_iff_a_result_is_inside_the_window_and_closes_once(
    sequence: list[Step], size: int
) -> None:
    results = results_of(sequence)
    repo = InMemoryIncidentRepository()
    batches = [results[i : i + size] for i in range(0, len(results), size)]
    asyncio.run(alert(repo, batches))
    warnings = asyncio.run(of_kind(repo, IncidentKind.CERTIFICATE))
    at = {r.started_at: i for i, r in enumerate(results)}
    found = [
        (at[w.opened_at], None if w.resolved_at is None else at[w.resolved_at]) for w in warnings
    ]
    assert found == expected_warnings(sequence)
    assert bool(warnings) == any(
        days is not None and days * DAY < SITE.tls_expiry_warning_s for _, _, days in sequence
    )
    for warning in warnings:
        transitions = Counter(n.transition for n in asyncio.run(repo.notifications_of(warning.id)))
        assert transitions[Transition.FIRING] == 2  # one per notifier
        assert transitions[Transition.RESOLVED] == (0 if warning.is_open else 2)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequence=steps, size=st.integers(1, 7))
def test_law_certificates_never_change_the_down_and_up_notifications(
    sequence: list[Step], size: int
) -> None:
    def down_story(with_certificates: bool) -> list[tuple[str, str, str]]:
        plain = [(region, ok, days if with_certificates else None) for region, ok, days in sequence]
        results = results_of(plain)
        repo = InMemoryIncidentRepository()
        asyncio.run(alert(repo, [results[i : i + size] for i in range(0, len(results), size)]))
        story = []
        for incident in asyncio.run(of_kind(repo, IncidentKind.DOWN)):
            for n in asyncio.run(repo.notifications_of(incident.id)):
                story.append((incident.opened_at.isoformat(), n.transition.value, n.notifier))
        return story

    assert down_story(True) == down_story(False)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequence=steps, cut=st.integers(0, 60), size=st.integers(1, 7))
def test_law_a_restart_anywhere_repeats_no_warning_and_loses_no_resolution(
    sequence: list[Step], cut: int, size: int
) -> None:
    results = results_of(sequence)
    cut = min(cut, len(results))
    repo = InMemoryIncidentRepository()
    asyncio.run(alert(repo, [results[i : min(i + size, cut)] for i in range(0, cut, size)]))
    # The last batch before the stop was not acknowledged: it comes again.
    rest = [results[i : i + size] for i in range(cut, len(results), size)]
    asyncio.run(alert(repo, [results[max(0, cut - size) : cut], *rest]))
    warnings = asyncio.run(of_kind(repo, IncidentKind.CERTIFICATE))
    at = {r.started_at: i for i, r in enumerate(results)}
    found = [
        (at[w.opened_at], None if w.resolved_at is None else at[w.resolved_at]) for w in warnings
    ]
    assert found == expected_warnings(sequence)
    for warning in warnings:
        transitions = Counter(n.transition for n in asyncio.run(repo.notifications_of(warning.id)))
        assert transitions[Transition.FIRING] == 2
        assert transitions[Transition.RESOLVED] == (0 if warning.is_open else 2)
