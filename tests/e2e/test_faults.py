"""Nothing lost, nothing crashes: the delivery guarantees under faults, on real services.

Producer and consumer run as separate OS processes against a PRIVATE Kafka and PostgreSQL
(``faults.private_services``: these tests stop and restart them), probing local target
sites every 0.2-0.5 s. Each test compares what the producer accounted for at shutdown
("scanner stopped" + "publisher stopped" log lines) with what PostgreSQL holds.

Run with ``-s`` to see one ``FAULTS <scenario>: ...`` line of measurements per test.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.e2e.faults import (
    OUTAGE_S,
    PrivateServices,
    Store,
    assert_accounted,
    assert_stored_exactly,
    checked_ids,
    checks,
    committed_total,
    consumer,
    consumer_doc,
    dropped_ids,
    end_offsets_total,
    fast_sites,
    logged,
    private_services_fixture,  # noqa: F401  (module-scoped, behind ``services``)
    producer,
    producer_doc,
    producer_totals,
    report,
    running,
    services_fixture,  # noqa: F401  (the ``services`` fixture)
    stop_within,
    wait_caught_up,
    wait_checks,
)
from tests.e2e.procs import SitemonProcess, message_is, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

GRACEFUL_EXIT_S = 10.0


def assigned(entry: dict[str, Any]) -> bool:
    return entry.get("msg") == "partitions assigned" and bool(entry.get("partitions"))


async def start_pipeline(*procs: SitemonProcess) -> None:
    for proc in procs:
        await proc.start()
    for proc in procs:
        if "producer" in proc.args:
            await proc.wait_for(message_is("scanner started"), timeout=90)
        else:
            await proc.wait_for(assigned, timeout=90)


async def test_postgres_outage_consumer_retries_and_catches_up(
    tmp_path: Path,
    services: PrivateServices,
    target_base: str,
    names: dict[str, str],
) -> None:
    """PostgreSQL stops for ~20 s while results flow: the consumer retries with backoff,
    commits no offset the database has not committed, and catches up afterwards."""
    store = Store(services.dsn, names["schema"])
    sites = fast_sites(target_base)
    prod = producer(tmp_path, "producer", producer_doc(services.bootstrap, names, sites))
    cons = consumer(
        tmp_path, "consumer", consumer_doc(services.dsn, services.bootstrap, names, batch_size=50)
    )
    topic, group = names["topic"], names["group"]
    async with running(prod, cons):
        await start_pipeline(cons, prod)
        await wait_checks(prod, 2 * len(sites))
        await store.wait_stored(len(sites))

        await services.stop_pg()
        down_at = time.monotonic()
        checks_at_stop = checks(prod)
        await cons.wait_for(message_is("save failed, retrying"), timeout=30)
        await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
        # Read at the END of the outage: the offsets of a batch whose database commit got
        # in just before the server went down may be committed at any time after it (no
        # moment during the outage is certain to be "after the last legitimate commit"),
        # but no offset of a record the database does not hold, ever.
        committed_in_outage = await committed_total(services.bootstrap, group, topic)
        assert checks(prod) > checks_at_stop + len(sites), "the producer stalled"
        assert cons.proc is not None and cons.proc.returncode is None, cons.tail()

        await services.start_pg()
        restarted_at = time.monotonic()
        outage_s = restarted_at - down_at
        backlog = await end_offsets_total(services.bootstrap, topic)
        # Rows inserted before this server start = all that was stored when it went down.
        stored_at_stop = await store.stored_before_server_start()
        assert committed_in_outage <= stored_at_stop, (
            f"offsets of {committed_in_outage} records committed during the outage but "
            f"only {stored_at_stop} rows were in the database"
        )
        await wait_caught_up(services.bootstrap, group, topic, backlog, timeout=90)
        recovery_s = time.monotonic() - restarted_at

        totals = await stop_producer(prod)
        assert totals["dropped"] == totals["kafka_dropped"] == 0, totals
        await store.wait_stored(totals["kafka_delivered"])
        await stop_consumers(cons)

    retries = [e for e in cons.logs if e.get("msg") == "save failed, retrying"]
    delays = [float(e["retry_in_s"]) for e in retries]
    assert_backoff(retries)
    result = await assert_stored_exactly(store, totals["published"])
    report(
        "postgres-outage",
        produced=totals["published"],
        **result,
        dropped=totals["dropped"] + totals["kafka_dropped"],
        outage_s=round(outage_s, 1),
        save_retries=len(retries),
        retry_delays_s=delays[:8],
        committed_in_outage=committed_in_outage,
        stored_at_stop=stored_at_stop,
        backlog_at_restart=backlog,
        recovery_s=round(recovery_s, 1),
    )
    await store.drop()


async def test_consumer_sigkilled_mid_batch_loses_nothing(
    tmp_path: Path,
    services: PrivateServices,
    target_base: str,
    names: dict[str, str],
) -> None:
    """Consumers SIGKILLed while draining a backlog in small batches — once inside a
    batch's transaction, once just after a batch's database commit (before its offsets are
    committed, when the timing allows): the next consumer stores every result exactly once."""
    store = Store(services.dsn, names["schema"])
    sites = fast_sites(target_base, n=16)
    prod = producer(tmp_path, "producer", producer_doc(services.bootstrap, names, sites))
    doc = consumer_doc(services.dsn, services.bootstrap, names, batch_size=10)
    consumers = [consumer(tmp_path, f"consumer-{i}", doc) for i in range(3)]
    topic, group = names["topic"], names["group"]
    kills: list[dict[str, Any]] = []
    # ≥ 50 ms per 10-row batch: the ~600-row backlog takes a victim ≥ 3 s to drain, so
    # it is still mid-backlog when the moment to kill it is seen (polled every few ms).
    await store.throttle(0.05)
    async with running(prod, *consumers):
        # A backlog first, with no consumer running.
        await prod.start()
        await prod.wait_for(message_is("scanner started"), timeout=90)
        await wait_checks(prod, 600)
        totals = await stop_producer(prod)
        published = totals["published"]

        for victim, moment in zip(consumers, ("in-transaction", "after-commit"), strict=False):
            stored_before = await store.stored()
            await victim.start()
            await store.wait_stored(stored_before + 20, timeout=90)
            caught = await kill_at(victim, services.dsn, moment)
            stored = await store.stored()
            committed = await committed_total(services.bootstrap, group, topic)
            assert stored < published, "killed too late: no batch left to interrupt"
            assert committed <= stored, "offsets committed for rows not in the database"
            kills.append(
                {
                    "moment": moment,
                    "caught": caught,
                    "stored": stored,
                    "committed": committed,
                    "stored_not_committed": stored - committed,
                }
            )

        last = consumers[-1]
        await last.start()
        restarted_at = time.monotonic()
        await store.wait_stored(published, timeout=120)
        recovery_s = time.monotonic() - restarted_at
        await stop_consumers(last)

    result = await assert_stored_exactly(store, published)
    assert await store.check_ids() == checked_ids(prod)
    stopped = last.find(message_is("persister stopped"))
    assert stopped is not None, last.tail()
    report(
        "consumer-sigkill",
        produced=published,
        **result,
        dropped=totals["dropped"],
        kills=kills,
        saved_by_last=stopped["saved"],
        replayed_and_ignored=stopped["saved"] - (published - kills[-1]["stored"]),
        recovery_s=round(recovery_s, 1),
    )
    await store.drop()


def assert_backoff(retries: list[dict[str, Any]]) -> None:
    """A batch's retries wait longer and longer: retry n never waits less than retry n-1
    (of any batch), and the last waits longer than the first. Judged by attempt number,
    not by log order: up to ``max_in_flight`` batches retry at once, each with its own
    sequence, and their lines interleave in whatever order the machine's speed gives."""
    by_attempt: dict[int, list[float]] = {}
    for entry in retries:
        by_attempt.setdefault(int(entry["attempt"]), []).append(float(entry["retry_in_s"]))
    attempts = sorted(by_attempt)
    assert attempts == list(range(1, len(attempts) + 1)) and len(attempts) >= 3, (
        f"not 3 consecutive retries of one batch: {by_attempt}"
    )
    for n in attempts[1:]:
        assert min(by_attempt[n]) >= max(by_attempt[n - 1]), f"no backoff: {by_attempt}"
    assert min(by_attempt[attempts[-1]]) > max(by_attempt[1]), f"no backoff: {by_attempt}"


_IN_TRANSACTION = (
    "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'sitemon' "
    "AND xact_start IS NOT NULL AND state IN ('active', 'idle in transaction')"
)
_LAST_COMMIT = (
    "SELECT max(state_change) FROM pg_stat_activity WHERE application_name = 'sitemon' "
    "AND state = 'idle' AND query = 'COMMIT;'"
)


async def kill_at(proc: SitemonProcess, dsn: str, moment: str, timeout: float = 30.0) -> bool:
    """SIGKILL ``proc`` the moment one of its connections is inside a transaction (a batch
    being saved) or has just committed one. Returns whether that moment was caught (it is
    killed anyway after ``timeout``)."""
    assert proc.proc is not None
    conn = await asyncpg.connect(dsn)
    caught, baseline = False, None
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not caught:
            if moment == "in-transaction":
                caught = bool(await conn.fetchval(_IN_TRANSACTION))
                continue
            last_commit = await conn.fetchval(_LAST_COMMIT)
            if baseline is None:
                baseline = last_commit or 0
            else:
                caught = last_commit is not None and last_commit != baseline
    finally:
        os.kill(proc.proc.pid, signal.SIGKILL)
        await proc.kill()
        await conn.close()
    return caught


def suffixed(names: dict[str, str], tag: str) -> dict[str, str]:
    """Another set of unique names derived from the test's."""
    return {
        "topic": f"{names['topic']}-{tag}",
        "dlq": f"{names['topic']}-{tag}.dlq",
        "group": f"{names['group']}-{tag}",
        "schema": f"{names['schema']}_{tag}",
    }


def in_window(entries: list[dict[str, Any]], began: float, ended: float) -> list[dict[str, Any]]:
    """Entries logged between two ``time.time()`` instants (the JSON ``ts`` field)."""
    from datetime import datetime

    return [e for e in entries if began <= datetime.fromisoformat(e["ts"]).timestamp() <= ended]


TIGHT_BUFFER = 40


async def test_kafka_outage_producer_buffers_within_bound_and_delivers(
    tmp_path: Path,
    services: PrivateServices,
    target_base: str,
    names: dict[str, str],
) -> None:
    """The broker stops for ~20 s while producers run. Three producers ride it out:
    ``roomy`` (default max_buffered) buffers everything and delivers it after recovery;
    ``tight`` (max_buffered=40) buffers 40 and drops — and counts and logs — the rest;
    ``quitter`` gets SIGTERM in the middle of the outage and must still exit 0, counting
    what it could not deliver as dropped. Nothing is lost silently."""
    tight_names = suffixed(names, "t")
    stores = {
        "main": Store(services.dsn, names["schema"]),
        "tight": Store(services.dsn, tight_names["schema"]),
    }
    sites = fast_sites(target_base)
    roomy = producer(tmp_path, "roomy", producer_doc(services.bootstrap, names, sites))
    quitter = producer(
        tmp_path,
        "quitter",
        producer_doc(services.bootstrap, names, fast_sites(target_base, n=4), shutdown_grace="2s"),
    )
    tight = producer(
        tmp_path,
        "tight",
        producer_doc(services.bootstrap, tight_names, sites, max_buffered=TIGHT_BUFFER),
    )
    cons = consumer(tmp_path, "consumer", consumer_doc(services.dsn, services.bootstrap, names))
    cons_t = consumer(
        tmp_path, "consumer-t", consumer_doc(services.dsn, services.bootstrap, tight_names)
    )
    procs = (roomy, quitter, tight, cons, cons_t)
    async with running(*procs):
        await start_pipeline(*procs)
        for proc in (roomy, quitter, tight):
            await wait_checks(proc, 2 * len(sites) if proc is not quitter else 8)
        await stores["main"].wait_stored(len(sites))
        await stores["tight"].wait_stored(len(sites))

        stopping_at = time.monotonic()
        await services.stop_kafka()
        down_at, down_wall = time.monotonic(), time.time()
        at_stop = {id(p): checks(p) for p in (roomy, tight)}
        await asyncio.sleep(OUTAGE_S / 3)
        quit_totals, quit_s = await quit_during_outage(quitter)
        await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
        up_wall = time.time()
        for proc in (roomy, tight):  # kept checking all along
            assert_kept_checking(proc, at_stop[id(proc)], OUTAGE_S * len(sites) / 2)
        assert logged(roomy, "result dropped") == 0, roomy.tail()
        accepted_in_outage = accepted_while_down(tight, down_wall, up_wall)
        client_noise = len(
            in_window(
                [e for e in roomy.logs if str(e.get("logger")).startswith("aiokafka")],
                down_wall,
                up_wall,
            )
        )

        await services.start_kafka()
        restarted_at = time.monotonic()
        timing = {
            "broker_stopped_s": round(
                restarted_at - down_at - (services.kafka.last_startup_seconds or 0.0), 1
            ),
            "broker_restart_s": round(services.kafka.last_startup_seconds or 0.0, 1),
            "unavailable_s": round(restarted_at - stopping_at, 1),
        }
        # Caught up = everything checked before the restart (and not dropped) is stored.
        # For tight by identity, the drops looked up at each poll: a check's "result
        # dropped" line follows its check line and may not have been read yet now.
        tight_checked = checked_ids(tight)
        recovery = {}
        await stores["main"].wait_stored(
            checks(roomy) + quit_totals["kafka_delivered"], timeout=120
        )
        recovery["main"] = time.monotonic() - restarted_at

        async def tight_caught_up() -> bool:
            stored = await stores["tight"].check_ids()
            return not tight_checked - dropped_ids(tight) - stored

        await wait_until(
            tight_caught_up,
            120,
            f"tight's {len(tight_checked)} checks stored or dropped",
            interval=0.25,
        )
        recovery["tight"] = time.monotonic() - restarted_at

        totals = {"roomy": await stop_producer(roomy), "tight": await stop_producer(tight)}
        assert totals["roomy"]["dropped"] == totals["roomy"]["kafka_dropped"] == 0
        assert totals["tight"]["dropped"] == len(dropped_ids(tight)) > 0
        for topic_names in (names, tight_names):
            await drained(services.bootstrap, topic_names)
        await stop_consumers(cons, cons_t)

    # By identity: exactly what was delivered is stored. The quitter's results dropped at
    # shutdown are "unconfirmed": one sent just as the broker went down may be in the topic.
    quit_stored = stored_per_producer(await stores["main"].check_ids(), roomy, quitter, quit_totals)
    main = await assert_stored_exactly(
        stores["main"], totals["roomy"]["kafka_delivered"] + quit_stored
    )
    tight_result = await assert_stored_exactly(stores["tight"], totals["tight"]["kafka_delivered"])
    assert await stores["tight"].check_ids() == checked_ids(tight) - dropped_ids(tight)
    for name, t in (*totals.items(), ("quitter", quit_totals)):
        report(
            f"kafka-outage/{name}",
            checked=t["checked"],
            delivered=t["kafka_delivered"],
            dropped_buffer_full=t["dropped"],
            dropped_at_shutdown=t["kafka_dropped"],
            redelivery_attempts=t["kafka_redelivery_attempts"],
        )
    report(
        "kafka-outage",
        **timing,
        stored_main=main["stored"],
        stored_tight=tight_result["stored"],
        duplicates=main["duplicates"] + tight_result["duplicates"],
        accepted_by_tight_during_outage=len(accepted_in_outage),
        quitter_exit_s=round(quit_s, 1),
        quitter_dropped_but_stored=quit_stored - quit_totals["kafka_delivered"],
        consumer_commit_failures=sum(logged(c, "acknowledge failed") for c in (cons, cons_t)),
        aiokafka_log_lines_per_s=round(client_noise / (up_wall - down_wall), 1),
        recovery_s={k: round(v, 1) for k, v in recovery.items()},
    )
    for store in stores.values():
        await store.drop()


def stored_per_producer(
    stored: set[str], roomy: SitemonProcess, quitter: SitemonProcess, quit_totals: dict[str, int]
) -> int:
    """All of roomy's results are stored; of the quitter's, the delivered ones plus at
    most its unconfirmed ones. Returns how many of the quitter's are stored."""
    assert stored <= checked_ids(roomy) | checked_ids(quitter)
    assert stored & checked_ids(roomy) == checked_ids(roomy)
    quit_stored = len(stored & checked_ids(quitter))
    assert (
        quit_totals["kafka_delivered"]
        <= quit_stored
        <= (quit_totals["kafka_delivered"] + quit_totals["kafka_dropped"])
    ), quit_totals
    return quit_stored


async def drained(bootstrap: str, names: dict[str, str]) -> None:
    """Wait until the group committed every record of its topic."""
    end = await end_offsets_total(bootstrap, names["topic"])
    await wait_caught_up(bootstrap, names["group"], names["topic"], end)


async def quit_during_outage(quitter: SitemonProcess) -> tuple[dict[str, int], float]:
    """SIGTERM with the broker away: exit 0 promptly, the undelivered counted and logged."""
    code, seconds = await stop_within(quitter, 30)
    assert code == 0, quitter.tail()
    assert seconds < GRACEFUL_EXIT_S, f"took {seconds:.1f} s to exit"
    totals = producer_totals(quitter)
    assert_accounted(totals)
    assert totals["kafka_dropped"] > 0, totals
    undelivered = quitter.find(message_is("results not delivered before shutdown"))
    assert undelivered is not None, quitter.tail()
    assert undelivered["undelivered"] == totals["kafka_dropped"]
    return totals, seconds


def accepted_while_down(tight: SitemonProcess, down_wall: float, up_wall: float) -> set[str]:
    """While the broker was away (nothing delivered), at most max_buffered results were
    accepted; every other one was dropped, and logged as such."""
    in_outage = {
        e["check_id"]
        for e in in_window(
            [e for e in tight.logs if e.get("logger") == "sitemon.check"], down_wall, up_wall
        )
    }
    accepted = in_outage - dropped_ids(tight)
    assert len(accepted) <= TIGHT_BUFFER, len(accepted)
    assert in_outage & dropped_ids(tight), "no drop while the buffer was full"
    # Each drop says how many results were waiting: never more than the bound.
    waiting = {int(e["error"].split()[0]) for e in tight.logs if e.get("msg") == "result dropped"}
    assert waiting == {TIGHT_BUFFER}, waiting
    return accepted


def assert_kept_checking(proc: SitemonProcess, before: int, at_least: float) -> None:
    assert checks(proc) - before >= at_least, proc.tail()
    assert proc.proc is not None and proc.proc.returncode is None, proc.tail()


async def stop_consumers(*procs: SitemonProcess) -> None:
    for proc in procs:
        code, _ = await stop_within(proc, GRACEFUL_EXIT_S)
        assert code == 0, proc.tail()


async def stop_producer(proc: SitemonProcess) -> dict[str, int]:
    code, _ = await stop_within(proc, 30)
    assert code == 0, proc.tail()
    totals = producer_totals(proc)
    assert_accounted(totals)
    return totals


async def test_consumer_killed_in_group_partitions_move_to_survivor(
    tmp_path: Path,
    services: PrivateServices,
    target_base: str,
    names: dict[str, str],
) -> None:
    """Two consumers share a 4-partition topic; one is SIGKILLed: the survivor gets its
    partitions (after the session timeout) and nothing is lost or doubled."""
    store = Store(services.dsn, names["schema"])
    sites = fast_sites(target_base, n=12)
    prod = producer(
        tmp_path, "producer", producer_doc(services.bootstrap, names, sites, partitions=4)
    )
    doc = consumer_doc(services.dsn, services.bootstrap, names, partitions=4, batch_size=20)
    survivor, victim = consumer(tmp_path, "survivor", doc), consumer(tmp_path, "victim", doc)
    all_partitions = {f"{names['topic']}[{p}]" for p in range(4)}
    async with running(prod, survivor, victim):
        await start_pipeline(survivor, victim, prod)

        async def split() -> bool:
            mine, theirs = last_assignment(survivor), last_assignment(victim)
            return bool(mine and theirs and not mine & theirs and mine | theirs == all_partitions)

        await wait_until(split, 90, "the two consumers sharing the partitions")
        victims_partitions = last_assignment(victim)
        await wait_checks(prod, 3 * len(sites))
        await store.wait_stored(2 * len(sites))
        assigned_before = survivor.count(assigned)
        await victim.kill()
        killed_at = time.monotonic()

        async def took_over() -> bool:
            return (
                survivor.count(assigned) > assigned_before
                and last_assignment(survivor) == all_partitions
            )

        await wait_until(took_over, 90, "the survivor owning every partition")
        rebalance_s = time.monotonic() - killed_at
        # Caught up: everything checked until the takeover is stored.
        await store.wait_stored(checks(prod), timeout=90)
        recovery_s = time.monotonic() - killed_at
        await wait_checks(prod, checks(prod) + 2 * len(sites))
        totals = await stop_producer(prod)
        assert totals["dropped"] == totals["kafka_dropped"] == 0, totals
        await store.wait_stored(totals["published"], timeout=90)
        await stop_consumers(survivor)

    result = await assert_stored_exactly(store, totals["published"])
    assert await store.check_ids() == checked_ids(prod)
    report(
        "group-failover",
        produced=totals["published"],
        **result,
        dropped=totals["dropped"] + totals["kafka_dropped"],
        victims_partitions=len(victims_partitions),
        rebalance_s=round(rebalance_s, 1),
        recovery_s=round(recovery_s, 1),
    )
    await store.drop()


def last_assignment(proc: SitemonProcess) -> set[str]:
    entries = [e for e in proc.logs if e.get("msg") == "partitions assigned"]
    return set(entries[-1]["partitions"]) if entries else set()


async def test_graceful_shutdown_under_load(
    tmp_path: Path,
    services: PrivateServices,
    target_base: str,
    names: dict[str, str],
) -> None:
    """SIGTERM to producer and consumer while results flow: both exit 0 within 10 s and
    nothing published before the signal is lost."""
    store = Store(services.dsn, names["schema"])
    sites = fast_sites(target_base, n=16)
    prod = producer(tmp_path, "producer", producer_doc(services.bootstrap, names, sites))
    doc = consumer_doc(services.dsn, services.bootstrap, names, batch_size=50)
    cons, after = consumer(tmp_path, "consumer", doc), consumer(tmp_path, "consumer-2", doc)
    topic, group = names["topic"], names["group"]
    async with running(prod, cons, after):
        await start_pipeline(cons, prod)
        await wait_checks(prod, 10 * len(sites))
        await store.wait_stored(len(sites))
        prod_stop = asyncio.create_task(stop_within(prod, GRACEFUL_EXIT_S + 5))
        cons_stop = asyncio.create_task(stop_within(cons, GRACEFUL_EXIT_S + 5))
        (prod_code, prod_s), (cons_code, cons_s) = await asyncio.gather(prod_stop, cons_stop)
        assert prod_code == 0, prod.tail()
        assert cons_code == 0, cons.tail()
        assert prod_s < GRACEFUL_EXIT_S and cons_s < GRACEFUL_EXIT_S, (prod_s, cons_s)
        totals = producer_totals(prod)
        assert_accounted(totals)
        assert totals["dropped"] == totals["kafka_dropped"] == 0, totals
        # The stopped consumer committed exactly what it stored: nothing to replay.
        stored_by_first = await store.stored()
        committed = await committed_total(services.bootstrap, group, topic)
        assert committed == stored_by_first, (committed, stored_by_first)
        assert await end_offsets_total(services.bootstrap, topic) == totals["kafka_delivered"]

        # What the producer published after the consumer left is picked up by the next one.
        await start_pipeline(after)
        await store.wait_stored(totals["published"])
        code, _ = await stop_within(after, GRACEFUL_EXIT_S)
        assert code == 0, after.tail()

    result = await assert_stored_exactly(store, totals["published"])
    stopped = after.find(message_is("persister stopped"))
    assert stopped is not None
    assert stopped["saved"] == totals["published"] - stored_by_first, "replayed records"
    report(
        "graceful-shutdown",
        produced=totals["published"],
        **result,
        dropped=totals["dropped"] + totals["kafka_dropped"],
        abandoned=totals["abandoned"],
        producer_exit_s=round(prod_s, 1),
        consumer_exit_s=round(cons_s, 1),
        stored_by_first=stored_by_first,
        stored_by_next=stopped["saved"],
    )
    await store.drop()
