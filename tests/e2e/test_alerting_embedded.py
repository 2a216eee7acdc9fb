"""Alerting in the embedded monitor: a site that goes down opens an incident, one signed
webhook says so, and its recovery sends exactly one "resolved" (real process, real HTTP)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from tests.contract.notify_sink import RecordingSink, recording_sink
from tests.e2e.procs import SitemonProcess, message_is, wait_until, write_config
from tests.e2e.test_readme_sql import readme_sql


class Switch:
    """A target whose answer the test flips between 200 and 500."""

    def __init__(self) -> None:
        self.status = 200
        self.url = ""

    async def handle(self, _request: web.Request) -> web.Response:
        return web.Response(status=self.status, text="switch")


@pytest.fixture
async def switch() -> AsyncIterator[Switch]:
    target = Switch()
    app = web.Application()
    app.router.add_get("/", target.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    target.url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
    try:
        yield target
    finally:
        await runner.cleanup()


@pytest.fixture
async def sink() -> AsyncIterator[RecordingSink]:
    async with recording_sink() as recording:
        yield recording


def received(sink: RecordingSink, count: int) -> Callable[[], Awaitable[bool]]:
    """An async condition: the sink has at least ``count`` requests."""

    async def enough() -> bool:
        return len(sink.requests) >= count

    return enough


def events(sink: RecordingSink) -> list[tuple[str, str]]:
    """(Idempotency-Key, event) of every webhook received."""
    return [(r.headers["Idempotency-Key"], json.loads(r.body)["event"]) for r in sink.requests]


async def test_down_then_up_sends_one_firing_then_one_resolved(
    tmp_path: Path, switch: Switch, sink: RecordingSink
) -> None:
    db = tmp_path / "alerts.db"
    config = write_config(
        tmp_path / "alerts.yaml",
        {
            "scanner": {"start_jitter": "100ms", "region": "eu"},
            "sites": [{"id": "flaky", "url": switch.url, "interval": "200ms", "timeout": "150ms"}],
            "repository": {"kind": "sqlite", "sqlite": {"path": str(db)}},
            "alerts": {
                "defaults": {"failure_threshold": 2, "success_threshold": 2},
                "notifiers": {
                    "hook": {"kind": "webhook", "url": f"{sink.url}/hook", "secret": "s3cret"}
                },
            },
        },
    )
    proc = await SitemonProcess("standalone", config, "--quiet").start()
    try:
        await proc.wait_for(message_is("alerter started"), timeout=60)
        switch.status = 500
        await wait_until(received(sink, 1), 30, "the firing webhook")
        switch.status = 200
        await wait_until(received(sink, 2), 30, "the resolved webhook")
        assert await proc.stop() == 0, proc.tail()
    finally:
        await proc.kill()
    (firing_key, firing), (resolved_key, resolved) = events(sink)
    assert (firing, resolved) == ("firing", "resolved"), events(sink)
    incident_id = firing_key.removesuffix(":firing")
    assert resolved_key == f"{incident_id}:resolved"
    assert all(r.headers["X-Sitemon-Signature"].startswith("sha256=") for r in sink.requests)
    assert "s3cret" not in "\n".join(proc.raw)
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT id, site_id, resolved_at FROM incidents").fetchall()
        # The README's incident queries run as written on what was stored.
        examples = [block for block in readme_sql() if "incidents" in block]
        assert examples and all(conn.execute(block).fetchall() for block in examples)
    assert [(r[0], r[1]) for r in rows] == [(incident_id, "flaky")] and rows[0][2] is not None
    stopped = proc.find(message_is("alerter stopped"))
    assert stopped is not None and stopped["incidents_opened"] == 1, proc.tail()
