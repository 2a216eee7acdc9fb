"""The IncidentRepository contract, run against every adapter (memory, SQLite, PostgreSQL
directly and through PgBouncer in transaction mode).

To add an adapter, add an async-context-manager factory to ``FACTORIES``: it gets the
pytest request and yields an open, migrated, empty repository.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sitemon_adapters.store.memory_incidents import InMemoryIncidentRepository
from sitemon_adapters.store.sqlite.incidents import SqliteIncidentRepository
from sitemon_core.alerting import (
    DeliveryState,
    Incident,
    IncidentKind,
    IncidentRepository,
    Transition,
)
from sitemon_core.alerting.records import notifications
from sitemon_core.errors import RepositoryError

T0 = datetime(2026, 1, 1, tzinfo=UTC)

Factory = Callable[[pytest.FixtureRequest], AbstractAsyncContextManager[IncidentRepository]]


@asynccontextmanager
async def sqlite_repository(request: pytest.FixtureRequest) -> AsyncIterator[IncidentRepository]:
    """A fresh SQLite file in the test's temporary directory."""
    tmp_path = request.getfixturevalue("tmp_path")
    async with SqliteIncidentRepository(str(tmp_path / "sitemon.db")) as repo:
        await repo.migrate()
        yield repo


@asynccontextmanager
async def postgres_repository(
    request: pytest.FixtureRequest, through: str = "pg_dsn", cache: int = 100
) -> AsyncIterator[IncidentRepository]:
    """A schema of its own on the real PostgreSQL (reached through the fixture named
    ``through``), dropped after the test."""
    import asyncpg

    from sitemon_adapters.store.postgres.incidents import PostgresIncidentRepository

    dsn = request.getfixturevalue("pg_dsn")
    via = request.getfixturevalue(through)
    schema = f"contract_{uuid.uuid4().hex[:12]}"
    try:
        async with PostgresIncidentRepository(
            via, schema=schema, statement_cache_size=cache
        ) as repo:
            await repo.migrate()
            yield repo
    finally:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


@asynccontextmanager
async def memory_repository(request: pytest.FixtureRequest) -> AsyncIterator[IncidentRepository]:
    """The in-process reference repository (the unit tests' fake)."""
    yield InMemoryIncidentRepository()


@asynccontextmanager
async def pgbouncer_repository(request: pytest.FixtureRequest) -> AsyncIterator[IncidentRepository]:
    """The PostgreSQL repository behind a real PgBouncer in transaction mode (statement
    cache off, as a pooler needs): the alerter and the web behind a managed database."""
    async with postgres_repository(request, through="pgbouncer_dsn", cache=0) as repo:
        yield repo


FACTORIES: dict[str, Factory] = {
    "sqlite": sqlite_repository,
    "postgres": postgres_repository,
    "postgres-pgbouncer": pgbouncer_repository,
    "memory": memory_repository,
}


@pytest.fixture(params=sorted(FACTORIES))
async def repository(request: pytest.FixtureRequest) -> AsyncIterator[IncidentRepository]:
    """An open, migrated, empty repository of each adapter."""
    async with FACTORIES[request.param](request) as repo:
        yield repo


@pytest.fixture(params=["sqlite", "postgres"])
async def sql_repository(request: pytest.FixtureRequest) -> AsyncIterator[IncidentRepository]:
    """The SQL adapters only (for what only a database can fail half-way through)."""
    async with FACTORIES[request.param](request) as repo:
        yield repo


def incident(n: int = 1, site_id: str = "site-a", minutes: float = 0, **kw: object) -> Incident:
    """An open incident of ``site_id`` opened ``minutes`` after T0."""
    fields: dict[str, object] = {
        "id": f"incident-{n:04}",
        "site_id": site_id,
        "url": f"https://{site_id}.example/path?q=1",
        "opened_at": T0 + timedelta(minutes=minutes),
        "error_kind": "timeout",
        "error_message": "timed out after 10 s",
        "status_code": None,
        "regions": ("eu", "us"),
        "tags": ("prod", "web"),
        **kw,
    }
    return Incident(**fields)  # type: ignore[arg-type]


def resolved(i: Incident, minutes: float = 5) -> Incident:
    return attrs.evolve(i, resolved_at=i.opened_at + timedelta(minutes=minutes))


def queued(i: Incident, transition: Transition = Transition.FIRING, names=("hook",), **kw):
    return notifications(i, transition, names, now=kw.pop("now", T0), **kw)


async def test_an_incident_reads_back_as_recorded(repository: IncidentRepository) -> None:
    opened = incident(status_code=503)
    await repository.record(opened, [])
    assert await repository.open_incidents() == [opened]
    assert await repository.find_incident(opened.id) == opened
    assert await repository.find_incident("nobody") is None
    assert await repository.incidents() == [opened]


async def test_a_certificate_warning_reads_back_with_its_kind_and_certificate(
    repository: IncidentRepository,
) -> None:
    not_after = datetime(2026, 1, 4, 6, 30, tzinfo=timezone(timedelta(hours=2)))
    warning = incident(
        2,
        error_kind="certificate",
        error_message="certificate expires 2026-01-04T04:30:00+00:00 (3 days left)",
        kind=IncidentKind.CERTIFICATE,
        tls_not_after=not_after,
    )
    outage = incident(1)
    firing = queued(warning, names=("hook", "am"))
    await repository.record(outage, [])
    await repository.record(warning, firing)
    assert await repository.open_incidents() == [outage, warning]
    stored = await repository.find_incident(warning.id)
    assert stored == warning and stored is not None
    assert (stored.kind, stored.tls_not_after) == (IncidentKind.CERTIFICATE, not_after)
    assert (await repository.find_incident(outage.id)) == outage
    assert outage.kind is IncidentKind.DOWN and outage.tls_not_after is None
    read = await repository.notifications_of(warning.id)
    assert sorted(read, key=lambda n: n.notifier) == sorted(firing, key=lambda n: n.notifier)
    assert {n.incident.kind for n in read} == {IncidentKind.CERTIFICATE}
    await repository.record(resolved(warning), queued(resolved(warning), Transition.RESOLVED))
    assert [i.kind for i in await repository.incidents(since=T0)] == [
        IncidentKind.CERTIFICATE, IncidentKind.DOWN
    ]  # fmt: skip


async def test_resolving_closes_it_and_a_replayed_open_record_does_not_reopen_it(
    repository: IncidentRepository,
) -> None:
    opened = incident()
    await repository.record(opened, [])
    await repository.record(resolved(opened), [])
    assert await repository.open_incidents() == []
    await repository.record(opened, [])  # a replay of the earlier record
    assert await repository.find_incident(opened.id) == resolved(opened)


async def test_notifications_are_unique_per_notifier_and_key(
    repository: IncidentRepository,
) -> None:
    opened = incident()
    first = queued(opened, names=("hook", "am"))
    await repository.record(opened, first)
    await repository.record(opened, queued(opened, names=("hook", "am", "slack")))  # new ids
    stored = await repository.notifications_of(opened.id)
    assert sorted(n.notifier for n in stored) == ["am", "hook", "slack"]
    assert {n.id for n in stored} >= {n.id for n in first}


async def test_a_notification_reads_back_as_it_was_queued(repository: IncidentRepository) -> None:
    opened = incident()
    firing = queued(opened, hold_until=T0 + timedelta(hours=1))
    closed = resolved(opened)
    resolution = queued(closed, Transition.RESOLVED, now=T0 + timedelta(minutes=5))
    await repository.record(opened, firing)
    await repository.record(closed, resolution)
    assert await repository.notifications_of(opened.id) == firing + resolution
    [n] = firing
    assert (n.state, n.not_before, n.attempts, n.last_error) == (
        DeliveryState.HELD, T0 + timedelta(hours=1), 0, ""
    )  # fmt: skip


async def test_due_notifications_oldest_first_pending_and_ended_holds_only(
    repository: IncidentRepository,
) -> None:
    a, b, c = incident(1), incident(2, minutes=1), incident(3, minutes=2)
    now = T0 + timedelta(minutes=10)
    pending = queued(a, now=T0)
    held_over = queued(b, now=T0 + timedelta(minutes=1), hold_until=now)
    held_on = queued(c, now=T0 + timedelta(minutes=2), hold_until=now + timedelta(seconds=1))
    for i, n in ((a, pending), (b, held_over), (c, held_on)):
        await repository.record(i, n)
    assert await repository.due_notifications(now, 10) == pending + held_over
    assert await repository.due_notifications(now, 1) == pending
    assert await repository.due_notifications(now, 0) == []
    [p] = pending
    await repository.update_notification(attrs.evolve(p, state=DeliveryState.DELIVERED))
    assert await repository.due_notifications(now, 10) == held_over


async def test_update_stores_the_delivery_fields(repository: IncidentRepository) -> None:
    opened = incident()
    [n] = queued(opened)
    await repository.record(opened, [n])
    retry_at = T0 + timedelta(seconds=30)
    retrying = attrs.evolve(n, attempts=2, last_error="HTTP 503 ü", not_before=retry_at)
    await repository.update_notification(retrying)
    assert await repository.notifications_of(opened.id) == [retrying]
    assert await repository.due_notifications(retry_at - timedelta(microseconds=1), 5) == []
    assert await repository.due_notifications(retry_at, 5) == [retrying]
    failed = attrs.evolve(retrying, state=DeliveryState.FAILED, not_before=None)
    await repository.update_notification(failed)
    assert await repository.notifications_of(opened.id) == [failed]
    assert await repository.due_notifications(retry_at, 5) == []


async def test_incidents_newest_first_by_site_since_and_limit(
    repository: IncidentRepository,
) -> None:
    old = resolved(incident(1, "a", minutes=0), minutes=5)
    recent = resolved(incident(2, "a", minutes=60), minutes=5)
    still_open = incident(3, "a", minutes=10)
    other = incident(4, "b", minutes=30)
    for i in (old, recent, still_open, other):
        await repository.record(i, [])
    assert await repository.incidents() == [recent, other, still_open, old]
    assert await repository.incidents(site_id="a") == [recent, still_open, old]
    assert await repository.incidents(site_id="a", limit=1) == [recent]
    since = T0 + timedelta(minutes=20)
    assert await repository.incidents(since=since) == [recent, other, still_open]
    assert await repository.incidents(limit=0) == []
    plus_two = since.astimezone(timezone(timedelta(hours=2)))  # the same instant
    assert await repository.incidents(since=plus_two) == [recent, other, still_open]
    assert await repository.open_incidents() == [still_open, other]


async def test_hostile_text_is_stored_inertly(repository: IncidentRepository) -> None:
    text = "'; DROP TABLE incidents; -- \u202e ünïcødé \U0001f525 %s $1 ?"
    opened = incident(site_id=text, error_message=text, regions=(text,), tags=(text,))
    await repository.record(opened, queued(opened, names=(text,)))
    assert await repository.open_incidents() == [opened]
    assert [n.notifier for n in await repository.notifications_of(opened.id)] == [text]
    await repository.record(incident(9, error_message="nul\x00byte"), [])  # stored, not raised


async def test_naive_datetimes_are_refused(repository: IncidentRepository) -> None:
    naive = T0.replace(tzinfo=None)
    with pytest.raises(RepositoryError) as caught:
        await repository.record(incident(opened_at=naive), [])
    assert not caught.value.retriable
    with pytest.raises(RepositoryError):
        await repository.due_notifications(naive, 1)


async def test_record_is_atomic(sql_repository: IncidentRepository) -> None:
    opened = incident()
    good, bad = queued(opened, names=("hook", "am"))
    # The second row cannot be stored (attempts beyond a 64-bit integer): nothing is.
    with pytest.raises(RepositoryError):
        await sql_repository.record(opened, [good, attrs.evolve(bad, attempts=2**70)])
    assert await sql_repository.open_incidents() == []
    assert await sql_repository.notifications_of(opened.id) == []


Op = tuple[int, bool, Transition, list[str]]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ops=st.lists(
        st.tuples(
            st.integers(0, 2),  # which incident
            st.booleans(),  # recorded resolved?
            st.sampled_from(list(Transition)),
            st.lists(st.sampled_from(["am", "hook"]), unique=True, max_size=2),
        ),
        max_size=10,
    )
)
async def test_any_sequence_of_records_replayed_reads_like_the_reference(
    repository: IncidentRepository, ops: list[Op]
) -> None:
    prefix = uuid.uuid4().hex[:8]  # the repository is shared by the examples of one test
    reference = InMemoryIncidentRepository()
    calls = []
    for n, resolve, transition, names in ops:
        opened = incident(n, minutes=n, id=f"{prefix}-{n}")
        state = resolved(opened) if resolve else opened
        calls.append((state, queued(state, transition, names, now=T0 + timedelta(seconds=n))))
    for state, notes in calls:
        await reference.record(state, notes)
        await repository.record(state, notes)
    for state, notes in calls:  # a replay after a crash changes nothing
        await repository.record(state, notes)
    for n in range(3):
        incident_id = f"{prefix}-{n}"
        assert await repository.find_incident(incident_id) == await reference.find_incident(
            incident_id
        )
        assert await repository.notifications_of(incident_id) == await reference.notifications_of(
            incident_id
        )


async def test_sqlite_incidents_stored_before_kinds_read_as_outages(tmp_path) -> None:
    """Upgrading the version-1 alerting tables keeps every incident, as kind ``down``."""
    import sqlite3

    from sitemon_adapters.store.sqlite.incidents import MIGRATIONS

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE alerting_schema_version (version INTEGER NOT NULL)")
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("INSERT INTO alerting_schema_version (version) VALUES (1)")
    conn.execute(
        "INSERT INTO incidents VALUES ('old', 'site-a', 'https://a/', 0, NULL, 'timeout',"
        " 'slow', NULL, '[]', '[]')"
    )
    conn.commit()
    conn.close()
    async with SqliteIncidentRepository(str(path)) as repo:
        await repo.migrate()
        [old] = await repo.open_incidents()
        assert (old.id, old.kind, old.tls_not_after) == ("old", IncidentKind.DOWN, None)
