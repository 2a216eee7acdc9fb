"""A notification receiver that hangs, then answers 500, slows neither the checks nor the
saving, and gets each notification exactly once when it answers again: with the alerter as
its own process (Kafka, PostgreSQL), and inside the embedded monitor (one process, SQLite).

Rates are measured over windows against a run without alerts; the bound is generous (the
machine is shared), the figures are printed.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.e2e import alert_rig as rig
from tests.e2e.alert_processes import assigned, incidents, launch, processes
from tests.e2e.alert_rig import Receiver, RegionTarget, condition
from tests.e2e.conftest import consumer_config
from tests.e2e.procs import SitemonProcess, message_is, wait_until, write_config


@pytest.fixture
async def target() -> AsyncIterator[RegionTarget]:
    async for value in rig.region_target():
        yield value


@pytest.fixture
async def hook() -> AsyncIterator[Receiver]:
    async for value in rig.receiver():
        yield value


WINDOW_S = 8.0
RATE_FLOOR = 0.8  # of the run without alerts: generous, the box is shared


async def window_rates(pg: asyncpg.Connection, start: datetime, end: datetime) -> dict[str, float]:
    """Checks started and rows stored per second within [start, end), once the checks
    started in it are stored (a check started 2 s after its end is)."""

    async def over() -> bool:
        late = end + timedelta(seconds=2)
        return (
            await rig.count(pg, "SELECT count(*) FROM check_history WHERE started_at > $1", late)
            > 0
        )

    await wait_until(over, 60, "the window's checks stored")
    span = (end - start).total_seconds()
    between = "SELECT count(*) FROM check_history WHERE {0} >= $1 AND {0} < $2"
    started = await rig.count(pg, between.format("started_at"), start, end)
    stored = await rig.count(pg, between.format("inserted_at"), start, end)
    return {"checks_per_s": started / span, "rows_per_s": stored / span}


async def measured(pg: asyncpg.Connection, start: datetime) -> dict[str, float]:
    """The rates over ``WINDOW_S`` from ``start`` (or until now, if that is later)."""
    end = max(start + timedelta(seconds=WINDOW_S), rig.now())
    return await window_rates(pg, start, end)


async def test_hanging_then_failing_receiver_slows_nothing_and_gets_each_once(
    tmp_path: Path,
    kafka_bootstrap: str,
    pg_dsn: str,
    names: dict[str, str],
    pg: asyncpg.Connection,
    target: RegionTarget,
    hook: Receiver,
) -> None:
    sites = [rig.site(f"up-{i}", f"{target.base}/up") for i in range(6)]
    sites += [rig.site(f"down-{i}", f"{target.base}/down") for i in range(6)]
    alerts = {
        "regions": ["e2e"],
        "timeout": "1s",  # the notifier's bound on one attempt
        "defaults": {"failure_threshold": 2, "success_threshold": 2},
        "notifiers": {"hook": rig.webhook(f"{hook.url}/hook")},
    }
    async with processes() as started:
        consumer_doc = consumer_config(pg_dsn, kafka_bootstrap, names)
        await launch(started, "consumer", tmp_path / "c.yaml", consumer_doc)
        doc = rig.producer_doc(kafka_bootstrap, names, sites, "e2e")
        await launch(started, "producer", tmp_path / "p.yaml", doc)

        async def flowing() -> bool:
            return await rig.count(pg, "SELECT count(*) FROM site_status") == len(sites)

        await wait_until(flowing, 60, "every site stored")
        baseline = await measured(pg, rig.now())

        hook.set_mode("hang")
        alerter = await launch(
            started,
            "alerter",
            tmp_path / "a.yaml",
            rig.alerter_doc(pg_dsn, kafka_bootstrap, names, sites, alerts),
        )
        await assigned(alerter)

        async def all_open() -> bool:
            return await rig.count(pg, "SELECT count(*) FROM incidents") == 6

        await wait_until(all_open, 60, "six incidents")
        await wait_until(condition(lambda: bool(hook.received)), 30, "a hanging request")
        hanging_since = rig.now()
        # The alerter itself keeps up while its sends hang (it only queues them).
        await rig.caught_up(kafka_bootstrap, names)
        hanging = await measured(pg, hanging_since)

        hook.set_mode("error")
        failing_since = rig.now()
        await wait_until(
            condition(lambda: any(r.answered == 500 for r in hook.received)), 60, "a 500"
        )
        failing = await measured(pg, failing_since)

        hook.set_mode("ok")
        await wait_until(
            condition(lambda: len(hook.delivered("firing")) >= 6), 90, "six firings delivered"
        )

        async def outcomes_stored() -> bool:
            sql = "SELECT count(*) FROM notifications WHERE state = 'delivered'"
            return await rig.count(pg, sql) == 6

        await wait_until(outcomes_stored, 30, "the six deliveries stored")
        for proc in started:
            assert await proc.stop() == 0, proc.tail()

    figures = {"without alerts": baseline, "hanging": hanging, "500": failing}
    print(f"\nrates: {figures}; requests: {len(hook.received)}")
    for name, rates in figures.items():
        for what, value in rates.items():
            assert value >= RATE_FLOOR * baseline[what], (name, what, figures)
    assert {r.answered for r in hook.received} >= {0, 500, 200}
    keys = [r.key for r in hook.delivered()]
    assert len(keys) == len(set(keys)) == 6, keys
    assert {r.incident_id for r in hook.delivered()} == {r["id"] for r in await incidents(pg)}


def sqlite_count(db: Path, sql: str, *args: Any) -> int:
    """One count from the embedded monitor's SQLite file (0 before its tables exist)."""
    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute(sql, args).fetchone()[0])
    except sqlite3.OperationalError:
        return 0


async def sqlite_rates(db: Path) -> dict[str, float]:
    """Checks started per second over ``WINDOW_S`` from now, and rows stored per second
    until the first check started after the window is stored."""
    began, start_us = time.monotonic(), rig.now().timestamp() * 1e6
    stored_before = sqlite_count(db, "SELECT count(*) FROM check_history")
    end_us = start_us + WINDOW_S * 1e6
    after = "SELECT count(*) FROM check_history WHERE started_at > ?"
    await wait_until(condition(lambda: sqlite_count(db, after, end_us) > 0), 60, "the window")
    stored = sqlite_count(db, "SELECT count(*) FROM check_history") - stored_before
    between = "SELECT count(*) FROM check_history WHERE started_at >= ? AND started_at < ?"
    started = sqlite_count(db, between, start_us, end_us)
    return {"checks_per_s": started / WINDOW_S, "rows_per_s": stored / (time.monotonic() - began)}


def standalone_doc(db: Path, sites: list[dict[str, Any]], alerts: dict[str, Any] | None) -> Path:
    doc: dict[str, Any] = {
        "scanner": {"region": "e2e", "start_jitter": "100ms"},
        "sites": sites,
        "repository": {"kind": "sqlite", "sqlite": {"path": str(db)}},
    }
    if alerts is not None:
        doc["alerts"] = alerts
    return write_config(db.with_suffix(".yaml"), doc)


async def test_embedded_hanging_then_failing_receiver_slows_nothing(
    tmp_path: Path, target: RegionTarget, hook: Receiver
) -> None:
    sites = [rig.site(f"up-{i}", f"{target.base}/up") for i in range(6)]
    sites += [rig.site(f"down-{i}", f"{target.base}/down") for i in range(6)]
    quiet = tmp_path / "quiet.db"
    plain = SitemonProcess("standalone", standalone_doc(quiet, sites, None), "--quiet")
    async with processes() as started:
        started.append(await plain.start())
        await plain.wait_for(message_is("scanner started"))
        baseline = await sqlite_rates(quiet)
        assert await plain.stop() == 0, plain.tail()

        db = tmp_path / "alerts.db"
        alerts = {
            "timeout": "1s",
            "defaults": {"failure_threshold": 2, "success_threshold": 2},
            "notifiers": {"hook": rig.webhook(f"{hook.url}/hook")},
        }
        hook.set_mode("hang")
        monitor = SitemonProcess("standalone", standalone_doc(db, sites, alerts), "--quiet")
        started.append(await monitor.start())
        await monitor.wait_for(message_is("alerter started"))
        await wait_until(condition(lambda: bool(hook.received)), 60, "a hanging request")
        hanging = await sqlite_rates(db)
        hook.set_mode("error")
        await wait_until(
            condition(lambda: any(r.answered == 500 for r in hook.received)), 60, "a 500"
        )
        failing = await sqlite_rates(db)
        hook.set_mode("ok")
        await wait_until(
            condition(lambda: len(hook.delivered("firing")) >= 6), 90, "six firings delivered"
        )
        assert await monitor.stop() == 0, monitor.tail()

    figures = {"without alerts": baseline, "hanging": hanging, "500": failing}
    print(f"\nembedded rates: {figures}; requests: {len(hook.received)}")
    for name, rates in figures.items():
        for what, value in rates.items():
            assert value >= RATE_FLOOR * baseline[what], (name, what, figures)
    keys = [r.key for r in hook.delivered()]
    assert len(keys) == len(set(keys)) == 6, keys
    assert sqlite_count(db, "SELECT count(*) FROM incidents") == 6
