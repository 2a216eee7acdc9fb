"""PostgreSQL-specific behaviour of ``PostgresStatusRepository`` (beyond the port's contract).

Every test gets its own schema (dropped afterwards) in the database of the ``pg_dsn``
session fixture, so tests never see each other's rows.
"""

from __future__ import annotations

import asyncio
import random
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg  # type: ignore[import-untyped]
import attrs
import pytest

from sitemon_adapters.store.postgres import (
    LATEST_STATUS_SQL,
    RESPONSE_TIMES_SQL,
    PostgresStatusRepository,
    load_migrations,
)
from sitemon_adapters.store.postgres.errors import is_retriable
from sitemon_adapters.store.postgres.migrations import LEDGER, quote_ident
from sitemon_adapters.store.postgres.rows import clean_text
from sitemon_core.errors import RepositoryError
from sitemon_core.models import CheckResult, ErrorKind, SiteStatus

pytestmark = pytest.mark.timeout(120)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def result(site_id: str = "site-a", seconds: float = 0, **fields: object) -> CheckResult:
    """A result of ``site_id`` started ``seconds`` after T0, with a random uuid4-hex id."""
    values: dict[str, object] = {
        "check_id": uuid.uuid4().hex,
        "site_id": site_id,
        "url": f"https://{site_id}.example/",
        "region": "eu",
        "started_at": T0 + timedelta(seconds=seconds),
        "ok": True,
        "total_ms": 12.5,
        "status_code": 200,
        **fields,
    }
    return CheckResult(**values)  # type: ignore[arg-type]


@pytest.fixture
async def schema(pg_dsn: str) -> AsyncIterator[str]:
    """A fresh schema name (with characters that need quoting); dropped after the test."""
    name = f"Test {uuid.uuid4().hex[:10]}"
    yield name
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(name)} CASCADE")
    finally:
        await conn.close()


@pytest.fixture
async def repo(pg_dsn: str, schema: str) -> AsyncIterator[PostgresStatusRepository]:
    """An open, migrated, empty repository in its own schema."""
    async with PostgresStatusRepository(pg_dsn, schema=schema) as repository:
        await repository.migrate()
        yield repository


async def query(pg_dsn: str, schema: str, sql: str, *args: object) -> list[asyncpg.Record]:
    """Run ``sql`` with ``schema`` as search_path, on a connection of its own."""
    conn = await asyncpg.connect(pg_dsn, server_settings={"search_path": quote_ident(schema)})
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- migrations ---


async def test_migrate_is_idempotent(pg_dsn: str, schema: str) -> None:
    versions = [m.version for m in load_migrations()]
    async with PostgresStatusRepository(pg_dsn, schema=schema) as repository:
        assert await repository.migrate() == versions
        await repository.save([result()])
        assert await repository.migrate() == []
        assert len(await repository.latest()) == 1
    rows = await query(pg_dsn, schema, f"SELECT version, name FROM {LEDGER} ORDER BY version")
    assert [(r["version"], r["name"]) for r in rows] == [
        (m.version, m.name) for m in load_migrations()
    ]


async def test_concurrent_migrations_apply_each_version_once(pg_dsn: str, schema: str) -> None:
    async with (
        PostgresStatusRepository(pg_dsn, schema=schema) as first,
        PostgresStatusRepository(pg_dsn, schema=schema) as second,
    ):
        applied = await asyncio.gather(first.migrate(), second.migrate(), first.migrate())
    assert sorted(v for versions in applied for v in versions) == [
        m.version for m in load_migrations()
    ]
    rows = await query(pg_dsn, schema, f"SELECT count(*) AS n FROM {LEDGER}")
    assert rows[0]["n"] == len(load_migrations())


async def test_tables_indexes_and_storage_options(
    pg_dsn: str, repo: PostgresStatusRepository, schema: str
) -> None:
    indexes = await query(
        pg_dsn, schema, "SELECT indexname FROM pg_indexes WHERE schemaname = $1", schema
    )
    assert {r["indexname"] for r in indexes} >= {
        "check_history_started_check",
        "check_history_site_time",
        "check_history_started_brin",
        "site_region_status_pkey",
        "check_rollup_hourly_pkey",
        "check_rollup_hourly_hour",
        f"{LEDGER}_pkey",
    }
    options = await query(
        pg_dsn,
        schema,
        "SELECT reloptions FROM pg_class WHERE oid = 'site_region_status'::regclass",
    )
    assert options[0]["reloptions"] == ["fillfactor=70"]
    view = await query(
        pg_dsn,
        schema,
        "SELECT relkind::text AS relkind FROM pg_class WHERE oid = 'site_status'::regclass",
    )
    assert view[0]["relkind"] == "v"  # written once per result, as the region's latest
    # Code-point collation on the ids, so ordering matches Python's str whatever the
    # database's default collation is.
    collations = await query(
        pg_dsn,
        schema,
        "SELECT table_name, column_name, collation_name FROM"
        " information_schema.columns WHERE table_schema = $1 AND column_name IN"
        " ('check_id', 'site_id') AND table_name IN"
        " ('check_history', 'site_status', 'site_region_status', 'check_rollup_hourly')",
        schema,
    )
    assert {r["collation_name"] for r in collations} == {"C"}
    assert {(r["table_name"], r["column_name"]) for r in collations} >= {
        ("check_history", "check_id"),
        ("check_history", "site_id"),
        ("site_status", "check_id"),
        ("site_status", "site_id"),
        ("site_region_status", "check_id"),
        ("site_region_status", "site_id"),
        ("check_rollup_hourly", "site_id"),
    }


async def test_every_error_kind_is_allowed_by_the_schema(repo: PostgresStatusRepository) -> None:
    # Fails when ErrorKind gains a member without a migration widening the CHECK.
    batch = [result(f"site-{kind.value}", error_kind=kind, ok=False) for kind in ErrorKind]
    await repo.save(batch)
    assert [s.latest.error_kind for s in await repo.latest()] == [
        r.error_kind for r in sorted(batch, key=_site)
    ]


def _site(r: CheckResult) -> str:
    return r.site_id


# --- idempotency and ordering at the SQL level ---


async def test_a_replayed_batch_adds_no_history_and_touches_no_status(
    pg_dsn: str, repo: PostgresStatusRepository, schema: str
) -> None:
    batch = [result("a", 0), result("a", 1), result("b", 0)]
    await repo.save(batch)
    before = await query(
        pg_dsn, schema, "SELECT site_id, check_id, updated_at FROM site_status ORDER BY site_id"
    )
    await repo.save(batch)
    await repo.save(list(reversed(batch)))
    count = await query(pg_dsn, schema, "SELECT count(*) AS n FROM check_history")
    assert count[0]["n"] == 3
    after = await query(
        pg_dsn, schema, "SELECT site_id, check_id, updated_at FROM site_status ORDER BY site_id"
    )
    assert after == before  # updated_at unchanged: the guarded upsert did not even write


async def test_an_older_result_after_a_newer_one_leaves_site_status_unchanged(
    pg_dsn: str, repo: PostgresStatusRepository, schema: str
) -> None:
    newer, older = result(seconds=60), result(seconds=0, ok=False)
    await repo.save([newer])
    await repo.save([older])
    rows = await query(pg_dsn, schema, "SELECT check_id, ok FROM site_status")
    assert [(r["check_id"], r["ok"]) for r in rows] == [(newer.check_id, True)]
    assert await repo.history("site-a") == [newer, older]


async def test_one_site_three_times_in_a_batch(repo: PostgresStatusRepository) -> None:
    # ON CONFLICT DO UPDATE would fail if one statement touched the row twice.
    results = [result(seconds=s) for s in (10, 30, 20)]
    await repo.save(results)
    assert await repo.latest() == [SiteStatus(site_id="site-a", latest=results[1])]
    assert await repo.history("site-a") == [results[1], results[2], results[0]]


async def test_equal_start_times_resolve_by_check_id_within_and_across_batches(
    repo: PostgresStatusRepository,
) -> None:
    low, high = result("x", check_id="0" * 32), result("x", check_id="f" * 32, ok=False)
    await repo.save([high, low])
    await repo.save([low])
    assert (await repo.latest())[0].latest == high


async def test_latest_orders_site_ids_by_code_point(repo: PostgresStatusRepository) -> None:
    ids = ["b", "B", "a", "é", "Z", "ä", "a b", "a-b", "10", "9"]
    await repo.save([result(site_id) for site_id in ids])
    assert [s.site_id for s in await repo.latest()] == sorted(ids)


async def test_ten_thousand_results_in_one_batch(repo: PostgresStatusRepository) -> None:
    batch = [result(f"site-{i % 2500:04}", i // 2500) for i in range(10_000)]
    random.Random(7).shuffle(batch)
    await repo.save(batch)
    latest = await repo.latest()
    assert len(latest) == 2500
    assert all(s.latest.started_at == T0 + timedelta(seconds=3) for s in latest)
    assert len(await repo.history("site-0042")) == 4


async def test_concurrent_overlapping_batches_from_two_pools(
    pg_dsn: str, schema: str, repo: PostgresStatusRepository
) -> None:
    # Two persisters replaying overlapping batches (a rebalance): rows are locked in key
    # order, so this must neither deadlock nor lose the newest result.
    async with PostgresStatusRepository(pg_dsn, schema=schema) as other:
        for round_ in range(3):
            batch = [result(f"s{i:03}", round_ * 10 + i % 7) for i in range(400)]
            shuffled = random.Random(round_).sample(batch, len(batch))
            await asyncio.gather(repo.save(batch), other.save(shuffled), repo.save(shuffled[:200]))
    latest = {s.site_id: s.latest for s in await repo.latest()}
    assert all(
        r.started_at == T0 + timedelta(seconds=20 + int(r.site_id[1:]) % 7) for r in latest.values()
    )
    assert len(latest) == 400


# --- text PostgreSQL cannot store ---


async def test_nul_characters_are_dropped_not_fatal(repo: PostgresStatusRepository) -> None:
    bad = result(
        "nul\x00site",
        url="https://x/\x00",
        error_message="got \x00 in body",
        final_url="https://y/\x00",
        ok=False,
    )
    good = result("fine")
    await repo.save([bad, good])
    stored = {s.site_id: s.latest for s in await repo.latest()}
    assert stored["nulsite"].error_message == "got  in body"
    assert stored["nulsite"].url == "https://x/"
    assert stored["nulsite"].final_url == "https://y/"
    assert stored["fine"] == good
    assert [r.check_id for r in await repo.history("nul\x00site")] == [bad.check_id]


async def test_lone_surrogates_are_replaced(repo: PostgresStatusRepository) -> None:
    await repo.save([result("s", error_message="bad \udcff byte", region="r\ud800")])
    stored = (await repo.latest())[0].latest
    assert (stored.error_message, stored.region) == ("bad ? byte", "r?")


def test_clean_text_keeps_ordinary_text_identical() -> None:
    for text in ("", "plain", "naïve ✓ 日本", "tab\tnew\nline"):
        assert clean_text(text) == text


# --- errors ---


async def test_a_closed_port_is_retriable_and_hides_the_password() -> None:
    password = "s3cret-Pa55word"
    dsn = f"postgresql://sitemon:{password}@127.0.0.1:{free_port()}/sitemon"
    repository = PostgresStatusRepository(dsn, connect_timeout_s=5)
    with pytest.raises(RepositoryError) as caught:
        async with repository:
            pass
    assert caught.value.retriable
    assert password not in str(caught.value)
    assert password not in repr(caught.value)
    assert password not in repr(repository)
    chained = caught.value.__cause__ or caught.value.__context__
    while chained is not None:
        assert password not in str(chained)
        chained = chained.__cause__ or chained.__context__


async def test_saving_before_migrating_is_not_retriable(pg_dsn: str, schema: str) -> None:
    async with PostgresStatusRepository(pg_dsn, schema=schema) as repository:
        with pytest.raises(RepositoryError, match="42P01") as caught:
            await repository.save([result()])
    assert not caught.value.retriable


async def test_a_naive_datetime_is_not_retriable_and_saves_nothing(
    repo: PostgresStatusRepository,
) -> None:
    with attrs.validators.disabled():  # the model refuses naive times; defence in depth
        naive = attrs.evolve(result(), started_at=datetime(2026, 1, 1))
    with pytest.raises(RepositoryError) as caught:
        await repo.save([result("other"), naive])
    assert not caught.value.retriable
    assert await repo.latest() == []
    with pytest.raises(RepositoryError) as caught:
        await repo.history("other", since=datetime(2026, 1, 1))
    assert not caught.value.retriable


async def test_an_unopened_repository_is_an_error(pg_dsn: str) -> None:
    repository = PostgresStatusRepository(pg_dsn)
    await repository.save([])  # an empty batch needs no connection
    with pytest.raises(RepositoryError, match="not open"):
        await repository.latest()


@pytest.mark.parametrize(
    ("exc", "retriable"),
    [
        (ConnectionRefusedError(111, "refused"), True),
        (TimeoutError(), True),
        (OSError(113, "no route"), True),
        (asyncpg.PostgresConnectionError("lost"), True),
        (asyncpg.exceptions.ConnectionDoesNotExistError("closed mid-operation"), True),
        (asyncpg.InterfaceError("pool is closing"), True),
        (asyncpg.CannotConnectNowError("starting up"), True),
        (asyncpg.exceptions.AdminShutdownError("terminating"), True),
        (asyncpg.exceptions.TooManyConnectionsError("full"), True),
        (asyncpg.exceptions.SerializationError("race"), True),
        (asyncpg.exceptions.DeadlockDetectedError("deadlock"), True),
        (asyncpg.exceptions.DiskFullError("disk"), True),
        (asyncpg.exceptions.QueryCanceledError("statement timeout"), True),
        (asyncpg.exceptions.ReadOnlySQLTransactionError("standby"), True),
        (asyncpg.exceptions.UniqueViolationError("dup"), False),
        (asyncpg.exceptions.UndefinedTableError("no table"), False),
        (asyncpg.exceptions.CharacterNotInRepertoireError("nul"), False),
        (asyncpg.exceptions.CheckViolationError("kind"), False),
        (asyncpg.exceptions.InvalidPasswordError("auth"), False),
        (asyncpg.exceptions._base.DataError("invalid input for query argument"), False),
        (OverflowError("int too big"), False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_error_classification(exc: BaseException, retriable: bool) -> None:
    assert is_retriable(exc) is retriable


async def test_the_pool_recovers_after_its_connections_are_killed(pg_dsn: str, schema: str) -> None:
    # What a server restart does to pooled connections (57P01 admin shutdown); the
    # stop-for-20-s-and-restart scenario itself is covered by the fault tests.
    app = f"sitemon-test-{uuid.uuid4().hex[:8]}"
    async with PostgresStatusRepository(
        pg_dsn, schema=schema, pool_min=2, application_name=app
    ) as repository:
        await repository.migrate()
        await repository.save([result(seconds=0)])
        killed = await query(
            pg_dsn,
            "public",
            "SELECT pg_terminate_backend(pid) AS ok"
            " FROM pg_stat_activity WHERE application_name = $1",
            app,
        )
        assert killed and all(r["ok"] for r in killed)
        newest = result(seconds=1)
        for _ in range(5):  # an attempt may still hit a connection that is dying
            try:
                await repository.save([newest])
                break
            except RepositoryError as exc:
                assert exc.retriable
                await asyncio.sleep(0.1)
        assert (await repository.latest())[0].latest == newest


# --- reads ---


async def test_history_uses_since_and_limit(repo: PostgresStatusRepository) -> None:
    results = [result("h", s) for s in range(5)]
    await repo.save(results)
    assert await repo.history("h", since=T0 + timedelta(seconds=3)) == [results[4], results[3]]
    assert await repo.history("h", limit=2) == [results[4], results[3]]
    assert await repo.history("h", limit=-1) == []


async def test_the_readme_queries_run(
    pg_dsn: str, repo: PostgresStatusRepository, schema: str
) -> None:
    now = datetime.now(UTC)
    await repo.save([result("r", started_at=now - timedelta(minutes=m)) for m in (1, 30, 90)])
    latest = await query(pg_dsn, schema, LATEST_STATUS_SQL)
    assert [r["site_id"] for r in latest] == ["r"]
    times = await query(pg_dsn, schema, RESPONSE_TIMES_SQL, "r")
    assert len(times) == 2
    assert times[0]["started_at"] > times[1]["started_at"]


def test_configuration_errors_are_not_retried_but_outages_are() -> None:
    import ssl

    from sitemon_adapters.store.postgres.errors import is_retriable

    assert not is_retriable(ssl.SSLCertVerificationError("certificate verify failed"))
    assert not is_retriable(FileNotFoundError(2, "No such file", "/etc/sitemon/ca.crt"))
    assert is_retriable(ConnectionRefusedError(111, "Connection refused"))
    assert is_retriable(TimeoutError())


async def test_one_pruner_per_schema_at_a_time(
    pg_dsn: str,
    schema: str,
    repo: PostgresStatusRepository,
) -> None:
    await repo.save([result("a", s) for s in range(10)])
    cutoff = T0 + timedelta(seconds=5)
    other = await asyncpg.connect(pg_dsn)  # another consumer, pruning this schema now
    try:
        await other.execute("SELECT pg_advisory_lock(1936287085, hashtext($1))", schema)
        assert await repo.prune_history(cutoff, max_rows=100) == 0
        await other.execute("SELECT pg_advisory_unlock(1936287085, hashtext($1))", schema)
    finally:
        await other.close()
    assert await repo.prune_history(cutoff, max_rows=100) == 5
    rows = await query(pg_dsn, schema, "SELECT min(started_at) AS m FROM check_history")
    assert rows[0]["m"] == cutoff


# --- the stored fields: declaration, staging table, migrations ---

_TYPES_SQL = """
SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
       coalesce(c.collname, '') AS collation
FROM pg_attribute a LEFT JOIN pg_collation c
  ON c.oid = a.attcollation AND a.attcollation <> 100  -- 100: the database default
WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum"""


async def test_tables_and_staging_have_the_declared_fields(
    pg_dsn: str, repo: PostgresStatusRepository, schema: str
) -> None:
    # Fails when a field is added to store.fields without a migration adding its column,
    # or when the staging table (derived from the declaration) and the tables disagree.
    from sitemon_adapters.store.fields import FIELDS
    from sitemon_adapters.store.postgres.rows import staging_table_sql

    conn = await asyncpg.connect(pg_dsn, server_settings={"search_path": quote_ident(schema)})
    try:
        await conn.execute(staging_table_sql("staging_probe"))
        staging = [tuple(r) for r in await conn.fetch(_TYPES_SQL, "staging_probe")]
        for table, extra in (("check_history", "inserted_at"), ("site_status", "updated_at")):
            columns = {r["name"]: tuple(r) for r in await conn.fetch(_TYPES_SQL, table)}
            del columns[extra]
            assert sorted(columns.values()) == sorted(staging), table
    finally:
        await conn.close()
    assert [name for name, _, _ in staging] == [f.column for f in FIELDS]
    assert {name for name, _, collation in staging if collation == "C"} == {
        f.column for f in FIELDS if f.type.value == "id"
    }


OUTCOMES = {
    "up": {},
    "bad_status": {"ok": False, "status_code": 404},
    "regex_miss": {"ok": False, "regex_matched": False},
    "timeout": {"ok": False, "status_code": None, "error_kind": ErrorKind.TIMEOUT},
}


async def test_outcome_and_tags_columns(
    pg_dsn: str, repo: PostgresStatusRepository, schema: str
) -> None:
    batch = [result(f"s-{name}", tags=(name, "x"), **f) for name, f in OUTCOMES.items()]
    await repo.save(batch)
    expected = sorted((r.site_id, r.outcome, [r.tags[0], "x"]) for r in batch)
    for table in ("check_history", "site_status"):
        rows = await query(pg_dsn, schema, f"SELECT site_id, outcome, tags FROM {table}")
        assert sorted(tuple(r) for r in rows) == expected
    grouped = await query(
        pg_dsn, schema, "SELECT outcome, count(*) AS n FROM check_history GROUP BY outcome"
    )
    assert sorted(r["outcome"] for r in grouped) == sorted(OUTCOMES)


async def test_certificate_verdict_and_answers_columns_for_sql_readers(
    pg_dsn: str, repo: PostgresStatusRepository, schema: str
) -> None:
    expires = T0 + timedelta(days=10)
    await repo.save(
        [
            result("tls", tls_not_after=expires, tls_version="TLSv1.3", tls_issuer="CN=R3"),
            result("slow", degraded=True),
            result("dns", answers=("192.0.2.1", "192.0.2.2")),
            result(
                "json",
                ok=False,
                failed_condition="json_mismatch",
                error_message="$.status equals 'ok': got \"down\"",
            ),
            result("big", body_truncated=True),
        ]
    )
    rows = await query(
        pg_dsn,
        schema,
        "SELECT site_id, outcome, degraded, body_truncated, answers,"
        " tls_not_after - started_at AS left FROM site_status ORDER BY site_id",
    )
    assert [tuple(r) for r in rows] == [
        ("big", "up", False, True, [], None),
        ("dns", "up", False, False, ["192.0.2.1", "192.0.2.2"], None),
        ("json", "json_mismatch", False, False, [], None),
        ("slow", "degraded", True, False, [], None),
        ("tls", "up", False, False, [], timedelta(days=10)),
    ]


async def test_a_version_1_schema_gets_outcome_and_tags(pg_dsn: str, schema: str) -> None:
    from sitemon_adapters.store.postgres.migrations import _bootstrap

    old = [result(f"s-{name}", **fields) for name, fields in OUTCOMES.items()]
    v1 = "check_id, site_id, url, region, started_at, ok, total_ms, status_code, regex_matched,"
    v1 += " bytes_read, error_kind, error_message"
    conn = await asyncpg.connect(pg_dsn, server_settings={"search_path": quote_ident(schema)})
    try:  # the schema as the previous release left it
        await _bootstrap(conn, schema)
        await conn.execute(load_migrations()[0].sql)
        await conn.execute(f"INSERT INTO {LEDGER} (version, name) VALUES (1, 'initial')")
        for table in ("check_history", "site_status"):
            await conn.executemany(
                f"INSERT INTO {table} ({v1}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
                [
                    (r.check_id, r.site_id, r.url, r.region, r.started_at, r.ok, r.total_ms,
                     r.status_code, r.regex_matched, r.bytes_read, r.error_kind.value,
                     r.error_message)
                    for r in old
                ],
            )  # fmt: skip
    finally:
        await conn.close()
    async with PostgresStatusRepository(pg_dsn, schema=schema) as repository:
        assert 2 in await repository.migrate()
        assert [s.latest for s in await repository.latest()] == sorted(old, key=_site)
    for table in ("check_history", "site_status"):
        rows = await query(pg_dsn, schema, f"SELECT site_id, outcome, tags FROM {table}")
        assert sorted(tuple(r) for r in rows) == sorted((r.site_id, r.outcome, []) for r in old)
