"""Helpers for the fault-injection tests (``test_faults.py``).

The fault tests stop, kill and restart Kafka and PostgreSQL, so they run against a PRIVATE
pair started once per module (``private_services``) — never the session-wide services the
other tests share. Everything else here measures: rows stored, duplicates, whether each
site's latest status is its newest history row, committed offsets vs log-end offsets, and
the counters the producer logs at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from devservices import KafkaService, PostgresService

from sitemon_adapters.store.postgres.rows import COLUMNS
from tests.e2e.conftest import kafka_section
from tests.e2e.procs import SitemonProcess, message_is, wait_until, write_config

# fsync/full_page_writes off only matter for an OS crash. synchronous_commit stays ON: the
# consumer commits offsets after the database acknowledged a commit, and that commit must
# survive a server stop or crash, or the test would blame sitemon for the test's shortcut.
FAULT_PG_SETTINGS = {"fsync": "off", "full_page_writes": "off"}

OUTAGE_S = 20.0  # the deliberate outages of the issue ("~20 s")


class PrivateServices:
    """A Kafka broker and a PostgreSQL server owned by the fault tests alone."""

    def __init__(self) -> None:
        self.kafka = KafkaService()
        self.pg = PostgresService(settings=FAULT_PG_SETTINGS)

    @property
    def bootstrap(self) -> str:
        return self.kafka.bootstrap

    @property
    def dsn(self) -> str:
        return self.pg.dsn

    def ensure_running(self) -> None:
        """Start whichever service is down (a previous test may have stopped it); FAIL if
        one cannot start — a fault test never skips."""
        for name, service in (("Kafka", self.kafka), ("PostgreSQL", self.pg)):
            if service.running:
                continue
            try:
                service.start()
            except Exception as exc:
                pytest.fail(f"could not start the private {name}: {exc}", pytrace=False)

    # Blocking service calls run in a thread: the test's event loop must keep reading the
    # children's logs (a full stderr pipe would freeze them) and serving the target sites.

    async def stop_kafka(self) -> None:
        await asyncio.to_thread(self.kafka.stop)

    async def start_kafka(self) -> None:
        await asyncio.to_thread(self._start, self.kafka, "Kafka")

    async def stop_pg(self) -> None:
        await asyncio.to_thread(self.pg.stop)

    async def start_pg(self) -> None:
        await asyncio.to_thread(self._start, self.pg, "PostgreSQL")

    @staticmethod
    def _start(service: KafkaService | PostgresService, name: str) -> None:
        try:
            service.start()
        except Exception as exc:
            pytest.fail(f"could not restart the private {name}: {exc}", pytrace=False)

    def cleanup(self) -> None:
        for service in (self.kafka, self.pg):
            with contextlib.suppress(Exception):
                service.cleanup()


@pytest.fixture(scope="module", name="private_services")
def private_services_fixture() -> Iterator[PrivateServices]:
    """One private Kafka + PostgreSQL for all fault tests of the module."""
    try:
        services = PrivateServices()  # finds the PostgreSQL binaries
    except Exception as exc:
        pytest.fail(f"cannot set up the private services: {exc}", pytrace=False)
    try:
        services.ensure_running()
        yield services
    finally:
        services.cleanup()


@pytest.fixture(name="services")
def services_fixture(private_services: PrivateServices) -> PrivateServices:
    """The private services, running (restarted if a previous test left one stopped)."""
    private_services.ensure_running()
    return private_services


# -- sites and configs ------------------------------------------------------------------


def fast_sites(base: str, n: int = 8) -> list[dict[str, Any]]:
    """``n`` local sites checked every 0.2-0.5 s, so results flow fast."""
    routes = ["/ok", "/status/404", "/ok", "/status/500", "/redirect/1"]
    intervals = ["200ms", "300ms", "400ms", "500ms"]
    return [
        {
            "id": f"s{i:02d}",
            "url": base + routes[i % len(routes)],
            "interval": intervals[i % len(intervals)],
            "timeout": "200ms",
        }
        for i in range(n)
    ]


def producer_doc(
    bootstrap: str,
    names: dict[str, str],
    sites: list[dict[str, Any]],
    *,
    partitions: int = 3,
    max_buffered: int | None = None,
    shutdown_grace: str = "3s",
) -> dict[str, Any]:
    kafka = kafka_section(bootstrap, names, partitions=partitions)
    if max_buffered is not None:
        kafka["max_buffered"] = max_buffered
    return {
        "scanner": {"region": "faults", "start_jitter": "200ms", "shutdown_grace": shutdown_grace},
        "sites": sites,
        "bus": {"kind": "kafka", "kafka": kafka},
    }


def consumer_doc(
    dsn: str, bootstrap: str, names: dict[str, str], *, partitions: int = 3, batch_size: int = 500
) -> dict[str, Any]:
    return {
        "bus": {"kind": "kafka", "kafka": kafka_section(bootstrap, names, partitions=partitions)},
        "repository": {"kind": "postgres", "postgres": {"dsn": dsn, "schema": names["schema"]}},
        "persister": {"batch_size": batch_size, "poll_timeout": "200ms"},
    }


def producer(tmp: Path, name: str, doc: dict[str, Any]) -> SitemonProcess:
    return SitemonProcess("producer", write_config(tmp / f"{name}.yaml", doc))


def consumer(tmp: Path, name: str, doc: dict[str, Any]) -> SitemonProcess:
    return SitemonProcess("consumer", write_config(tmp / f"{name}.yaml", doc))


# -- log lines --------------------------------------------------------------------------


def is_check(entry: dict[str, Any]) -> bool:
    return entry.get("logger") == "sitemon.check"


def checks(proc: SitemonProcess) -> int:
    """Check results the producer logged (its observer runs before each publish)."""
    return proc.count(is_check)


def logged(proc: SitemonProcess, msg: str) -> int:
    return proc.count(message_is(msg))


async def wait_checks(proc: SitemonProcess, n: int, timeout: float = 90.0) -> None:
    async def enough() -> bool:
        if proc.proc is not None and proc.proc.returncode is not None:
            raise AssertionError(f"producer exited {proc.proc.returncode}:\n{proc.tail()}")
        return checks(proc) >= n

    await wait_until(enough, timeout, f"{n} checks logged")


async def stop_within(proc: SitemonProcess, timeout: float) -> tuple[int, float]:
    """SIGTERM; return (exit code, seconds to exit). Fails if it takes over ``timeout``."""
    began = time.monotonic()
    try:
        code = await proc.stop(timeout=timeout)
    except TimeoutError:
        await proc.kill()
        raise AssertionError(f"no exit within {timeout} s of SIGTERM:\n{proc.tail()}") from None
    return code, time.monotonic() - began


@contextlib.asynccontextmanager
async def running(*procs: SitemonProcess) -> Any:
    """Kill whatever is still running on the way out (a failed assertion included); on a
    failure, print the tail of each process's log so CI shows what happened."""
    try:
        yield
    except BaseException:
        for proc in procs:
            interesting = [line for line in proc.raw if '"sitemon.check"' not in line]
            print(f"--- {' '.join(proc.args[3:])} (last lines, checks omitted)")
            print("\n".join(interesting[-25:]))
        raise
    finally:
        for proc in procs:
            with contextlib.suppress(Exception):
                await proc.kill()


def checked_ids(proc: SitemonProcess) -> set[str]:
    return {str(e["check_id"]) for e in proc.logs if is_check(e)}


def dropped_ids(proc: SitemonProcess) -> set[str]:
    """Results the scanner logged as dropped (the publisher refused them)."""
    return {str(e["check_id"]) for e in proc.logs if e.get("msg") == "result dropped"}


def producer_totals(proc: SitemonProcess) -> dict[str, int]:
    """The producer's final counters: scanner ones from "scanner stopped", the Kafka
    publisher's from "publisher stopped" (prefixed ``kafka_``)."""
    scanner = proc.find(message_is("scanner stopped"))
    publisher = proc.find(message_is("publisher stopped"))
    assert scanner is not None, "no 'scanner stopped' line:\n" + proc.tail()
    assert publisher is not None, "no 'publisher stopped' line:\n" + proc.tail()
    totals = {k: int(scanner[k]) for k in ("started", "published", "dropped", "abandoned")}
    totals |= {
        f"kafka_{k}": int(publisher[k])
        for k in ("accepted", "delivered", "dropped", "redelivery_attempts")
    }
    totals["checked"] = checks(proc)
    return totals


def assert_accounted(totals: dict[str, int]) -> None:
    """Every result checked is delivered or counted as dropped — never silently lost."""
    assert totals["checked"] == totals["published"] + totals["dropped"], totals
    assert totals["started"] - totals["abandoned"] == totals["checked"], totals
    assert totals["kafka_accepted"] == totals["published"], totals
    assert totals["kafka_delivered"] + totals["kafka_dropped"] == totals["kafka_accepted"], totals


# -- the database -----------------------------------------------------------------------


class Store:
    """Measurements on one test's schema; each opens its own short connection, so they
    work across server restarts (and return None while the server is down)."""

    def __init__(self, dsn: str, schema: str) -> None:
        self.dsn = dsn
        self.schema = schema

    @contextlib.asynccontextmanager
    async def _conn(self) -> Any:
        conn = await asyncpg.connect(
            self.dsn, timeout=5, server_settings={"search_path": f'"{self.schema}"'}
        )
        try:
            yield conn
        finally:
            await conn.close(timeout=5)

    async def counts(self) -> tuple[int, int] | None:
        """(rows, distinct check ids) in the history; None while unreachable."""
        try:
            async with self._conn() as conn:
                row = await conn.fetchrow(
                    "SELECT count(*) AS n, count(DISTINCT check_id) AS d FROM check_history"
                )
        except asyncpg.UndefinedTableError:
            return (0, 0)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            return None
        return int(row["n"]), int(row["d"])

    async def stored(self) -> int:
        counts = await self.counts()
        return -1 if counts is None else counts[0]

    async def wait_stored(self, n: int, timeout: float = 90.0) -> float:
        """Wait until at least ``n`` rows are stored; return the seconds it took."""
        began = time.monotonic()

        async def reached() -> bool:
            return await self.stored() >= n

        await wait_until(
            reached,
            timeout,
            f"{n} rows in check_history (have {await self.stored()})",
            interval=0.25,
        )
        return time.monotonic() - began

    async def check_ids(self) -> set[str]:
        async with self._conn() as conn:
            return {r[0] for r in await conn.fetch("SELECT check_id FROM check_history")}

    async def stored_before_server_start(self) -> int:
        """Rows inserted before the server's last start: after a restart with no consumer
        saving in between, exactly what was stored when the server went down."""
        async with self._conn() as conn:
            return int(
                await conn.fetchval(
                    "SELECT count(*) FROM check_history"
                    " WHERE inserted_at < pg_postmaster_start_time()"
                )
            )

    async def latest_mismatches(self) -> list[str]:
        """Sites whose site_status row differs from their newest history row (or is missing)."""
        cols = ", ".join(COLUMNS)
        async with self._conn() as conn:
            status = {
                r["site_id"]: tuple(r) for r in await conn.fetch(f"SELECT {cols} FROM site_status")
            }
            newest = {
                r["site_id"]: tuple(r)
                for r in await conn.fetch(
                    f"SELECT DISTINCT ON (site_id) {cols} FROM check_history "
                    "ORDER BY site_id, started_at DESC, check_id DESC"
                )
            }
        return sorted(s for s in status.keys() | newest.keys() if status.get(s) != newest.get(s))

    async def throttle(self, seconds_per_batch: float) -> None:
        """Create the schema and make every batch insert into the history take at least
        ``seconds_per_batch`` (a statement trigger sleeping inside the batch's transaction),
        so a consumer cannot drain a backlog before a test has interrupted it."""
        from sitemon_adapters.store.postgres.repository import PostgresStatusRepository

        async with PostgresStatusRepository(self.dsn, schema=self.schema) as repository:
            await repository.migrate()
        async with self._conn() as conn:
            await conn.execute(f"""
                CREATE FUNCTION sitemon_test_throttle() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN PERFORM pg_sleep({float(seconds_per_batch)}); RETURN NULL; END $$;
                CREATE TRIGGER sitemon_test_throttle BEFORE INSERT ON check_history
                    FOR EACH STATEMENT EXECUTE FUNCTION sitemon_test_throttle();""")

    async def drop(self) -> None:
        with contextlib.suppress(Exception):
            async with self._conn() as conn:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


async def assert_stored_exactly(store: Store, expected: int) -> dict[str, int]:
    """History holds ``expected`` rows, no duplicate check id, and every site's latest
    status is its newest history row."""
    counts = await store.counts()
    assert counts is not None, "PostgreSQL unreachable"
    rows, distinct = counts
    assert rows == distinct, f"{rows - distinct} duplicate check ids"
    assert rows == expected, f"stored {rows}, expected {expected}"
    assert await store.latest_mismatches() == []
    return {"stored": rows, "duplicates": rows - distinct}


# -- Kafka ------------------------------------------------------------------------------


async def committed_total(bootstrap: str, group: str, topic: str) -> int:
    """Sum of the group's committed offsets on ``topic``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return sum(max(0, meta.offset) for tp, meta in offsets.items() if tp.topic == topic)


async def end_offsets_total(bootstrap: str, topic: str) -> int:
    """Records in ``topic`` (sum of log-end offsets; nothing is ever deleted in a test)."""
    return await asyncio.to_thread(_end_offsets_total, bootstrap, topic)


def _end_offsets_total(bootstrap: str, topic: str) -> int:
    # kafka-python: aiokafka's group-less consumer can raise CancelledError from stop().
    from kafka import KafkaConsumer
    from kafka import TopicPartition as KafkaTopicPartition

    client = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = client.partitions_for_topic(topic) or set()
        ends = client.end_offsets([KafkaTopicPartition(topic, p) for p in partitions])
    finally:
        client.close()
    return sum(ends.values())


async def wait_caught_up(
    bootstrap: str, group: str, topic: str, target: int, timeout: float = 90.0
) -> float:
    """Wait until the group committed at least ``target`` offsets; return seconds taken."""
    began = time.monotonic()

    async def reached() -> bool:
        try:
            return await committed_total(bootstrap, group, topic) >= target
        except Exception:  # the coordinator may still be loading after a restart
            return False

    await wait_until(reached, timeout, f"group {group} committed {target} offsets", interval=0.25)
    return time.monotonic() - began


def report(title: str, **values: Any) -> None:
    """One greppable line per scenario in the test output (run pytest with -s to see it)."""
    print(f"\nFAULTS {title}: " + ", ".join(f"{k}={v}" for k, v in values.items()))
