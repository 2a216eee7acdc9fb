"""Distributed alerting, real processes: producers in two regions, a consumer, an alerter
(its own Kafka consumer group) with a webhook and a real Alertmanager, PostgreSQL.

- one region failing opens nothing (``confirm_regions: 2``); both failing open one incident
  whose one FIRING reaches the receiver within 2 s of the confirming check, and one RESOLVED
  follows the recovery, through the webhook and through Alertmanager;
- an alerter SIGKILLed during an incident and restarted repeats no FIRING and still sends
  the RESOLVED.
"""

from __future__ import annotations

import json
import signal
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from devservices.alertmanager import AlertmanagerRig

from tests.e2e import alert_rig as rig
from tests.e2e.alert_processes import assigned, incidents, launch, processes
from tests.e2e.alert_rig import Receiver, RegionTarget, condition
from tests.e2e.conftest import consumer_config
from tests.e2e.procs import message_is, wait_until

DELIVERY_BOUND_S = 2.0


@pytest.fixture
async def target() -> AsyncIterator[RegionTarget]:
    async for value in rig.region_target():
        yield value


@pytest.fixture
async def hook() -> AsyncIterator[Receiver]:
    async for value in rig.receiver():
        yield value


def am_alerts(am: AlertmanagerRig, site_id: str) -> list[tuple[str, str]]:
    """(status, incident_id) of every alert about ``site_id`` Alertmanager's receiver got."""
    return [
        (alert["status"], alert["annotations"].get("incident_id", ""))
        for request in am.sink.requests()
        for alert in request.json().get("alerts", [])
        if alert["labels"].get("site_id") == site_id
    ]


async def both_regions_checked(
    pg: asyncpg.Connection, since: datetime, us_failed: int, eu: tuple[bool, int]
) -> bool:
    return (
        await rig.checks_since(pg, "us", since, ok=False) >= us_failed
        and await rig.checks_since(pg, "eu", since, ok=eu[0]) >= eu[1]
    )


async def test_two_regions_confirm_then_one_firing_and_one_resolved(
    tmp_path: Path,
    kafka_bootstrap: str,
    pg_dsn: str,
    names: dict[str, str],
    pg: asyncpg.Connection,
    target: RegionTarget,
    hook: Receiver,
    alertmanager: AlertmanagerRig,
) -> None:
    site_id = f"shop-{names['group']}"
    sites = [rig.site(site_id, f"{target.base}/region")]
    alerts = {
        "regions": ["eu", "us"],
        "defaults": {"failure_threshold": 2, "success_threshold": 2, "confirm_regions": 2},
        "notifiers": {"hook": rig.webhook(f"{hook.url}/hook"), "am": _am(alertmanager)},
    }
    async with processes() as started:
        await launch(
            started,
            "consumer",
            tmp_path / "c.yaml",
            consumer_config(pg_dsn, kafka_bootstrap, names),
        )
        alerter = await launch(
            started,
            "alerter",
            tmp_path / "a.yaml",
            rig.alerter_doc(pg_dsn, kafka_bootstrap, names, sites, alerts),
        )
        await assigned(alerter)
        for region in ("eu", "us"):
            doc = rig.producer_doc(kafka_bootstrap, names, sites, region)
            await launch(started, "producer", tmp_path / f"p-{region}.yaml", doc)

        # Only `us` fails: both regions cross the threshold several times over, the alerter
        # handles all of it, and no incident opens.
        target.failing = {"us"}
        since = rig.now()

        async def us_alone() -> bool:
            return await both_regions_checked(pg, since, 6, (True, 6))

        await wait_until(us_alone, 60, "6 failed us checks and 6 good eu checks")
        await rig.caught_up(kafka_bootstrap, names)
        assert await incidents(pg) == []
        assert hook.received == [] and am_alerts(alertmanager, site_id) == []

        # Both fail: one incident, one FIRING within the bound of the confirming check.
        target.failing = {"eu", "us"}
        await wait_until(condition(lambda: bool(hook.delivered("firing"))), 30, "the firing")
        (incident,) = await incidents(pg)
        assert set(incident["regions"]) == {"eu", "us"}
        firing = hook.delivered("firing")[0]
        assert firing.incident_id == incident["id"]
        summary = f"Site {site_id} is down: HTTP 500 (status or body not as expected)"
        assert json.loads(firing.body)["summary"] == summary
        delay = await _delay(pg, site_id, incident["opened_at"], firing.at)
        print(f"\nFIRING received {delay:.3f} s after the confirming check ended")
        assert 0 <= delay <= DELIVERY_BOUND_S

        # Still down for a while: nothing more is sent. Then it recovers: one RESOLVED.
        still = rig.now()
        await wait_until(lambda: both_regions_checked(pg, still, 4, (False, 4)), 60, "down")
        await rig.caught_up(kafka_bootstrap, names)
        target.failing = set()
        await wait_until(condition(lambda: bool(hook.delivered("resolved"))), 30, "resolved")
        recovered = rig.now()
        await wait_until(lambda: both_regions_checked_ok(pg, recovered), 60, "good checks")
        await rig.caught_up(kafka_bootstrap, names)

        def am_resolved() -> bool:
            return ("resolved", incident["id"]) in am_alerts(alertmanager, site_id)

        await wait_until(condition(am_resolved), 30, "Alertmanager's resolved notification")
        for proc in started:
            assert await proc.stop() == 0, proc.tail()

    events = [(r.event, r.key) for r in hook.received]
    assert events == [
        ("firing", f"{incident['id']}:firing"),
        ("resolved", f"{incident['id']}:resolved"),
    ]
    (closed,) = await incidents(pg)
    assert closed["resolved_at"] is not None and closed["resolved_at"] > closed["opened_at"]
    seen = am_alerts(alertmanager, site_id)
    assert seen[0] == ("firing", incident["id"]) and seen[-1] == ("resolved", incident["id"])
    assert {status for status, _ in seen} == {"firing", "resolved"}
    assert {incident_id for _, incident_id in seen} == {incident["id"]}
    assert {"eu", "us"} == {agent.rsplit("(", 1)[-1].rstrip(")") for agent in target.agents}


def _am(am: AlertmanagerRig) -> dict[str, Any]:
    return {"kind": "alertmanager", "urls": [am.url]}


async def both_regions_checked_ok(pg: asyncpg.Connection, since: datetime) -> bool:
    return (
        await rig.checks_since(pg, "us", since, ok=True) >= 4
        and await rig.checks_since(pg, "eu", since, ok=True) >= 4
    )


async def _delay(
    pg: asyncpg.Connection, site_id: str, opened_at: datetime, received_at: float
) -> float:
    """Seconds from the end of the confirming check (its start + total time, as stored in
    the history) to the receiver reading the FIRING."""
    row = await pg.fetchrow(
        "SELECT ok, total_ms FROM check_history WHERE site_id = $1 AND started_at = $2",
        site_id,
        opened_at,
    )
    assert row is not None and row["ok"] is False, "the confirming check is in the history"
    ended = opened_at + timedelta(milliseconds=row["total_ms"])
    return received_at - ended.timestamp()


async def test_sigkill_mid_incident_then_restart_repeats_nothing_and_resolves(
    tmp_path: Path,
    kafka_bootstrap: str,
    pg_dsn: str,
    names: dict[str, str],
    pg: asyncpg.Connection,
    target: RegionTarget,
    hook: Receiver,
) -> None:
    sites = [rig.site("kill-me", f"{target.base}/region")]
    alerts = {
        "regions": ["e2e"],
        "defaults": {"failure_threshold": 2, "success_threshold": 2},
        "notifiers": {"hook": rig.webhook(f"{hook.url}/hook")},
    }
    alerter_doc = rig.alerter_doc(pg_dsn, kafka_bootstrap, names, sites, alerts)
    async with processes() as started:
        first = await launch(started, "alerter", tmp_path / "a.yaml", alerter_doc)
        await assigned(first)
        doc = rig.producer_doc(kafka_bootstrap, names, sites, "e2e")
        await launch(started, "producer", tmp_path / "p.yaml", doc)
        target.failing = {"e2e"}
        await wait_until(condition(lambda: bool(hook.delivered("firing"))), 30, "the firing")

        async def firing_recorded() -> bool:
            return (
                await rig.count(pg, "SELECT count(*) FROM notifications WHERE state = 'delivered'")
                == 1
            )

        await wait_until(firing_recorded, 30, "the firing's delivery stored")
        await first.stop(signal.SIGKILL)

        # Restarted while the site is still down: it resumes from the group's committed
        # offsets (results the killed one handled come again) and its stored incidents.
        second = await launch(started, "alerter", tmp_path / "a.yaml", alerter_doc)
        await assigned(second)
        await rig.caught_up(kafka_bootstrap, names, timeout=60)
        assert len(hook.delivered("firing")) == 1
        target.failing = set()
        await wait_until(condition(lambda: bool(hook.delivered("resolved"))), 30, "resolved")
        await rig.caught_up(kafka_bootstrap, names)
        for proc in started[1:]:
            assert await proc.stop() == 0, proc.tail()

    (incident,) = await incidents(pg)
    assert incident["resolved_at"] is not None
    assert [(r.event, r.key) for r in hook.received] == [
        ("firing", f"{incident['id']}:firing"),
        ("resolved", f"{incident['id']}:resolved"),
    ]
    stored = await pg.fetch("SELECT transition, state FROM notifications ORDER BY created_at")
    assert [tuple(r) for r in stored] == [("firing", "delivered"), ("resolved", "delivered")]
    restored = second.find(message_is("alerter stopped"))
    assert restored is not None and restored["incidents_opened"] == 0, second.tail()
