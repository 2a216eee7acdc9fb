"""The status page as the CLI runs it: inside ``standalone`` (SQLite) and as
``sitemon-run web`` over PostgreSQL, each serving its WebServer's stats in ``/metrics``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from sitemon_adapters.store.postgres import PostgresStatusRepository
from sitemon_core.models import CheckResult
from tests.e2e.procs import SitemonProcess, message_is, wait_until, write_config
from tests.e2e.test_metrics import free_port, scrape


async def get_json(url: str) -> Any:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def test_standalone_serves_the_page_from_its_sqlite_file(
    tmp_path: Path, target_base: str
) -> None:
    web_port, metrics_port = free_port(), free_port()
    config = write_config(
        tmp_path / "w.yaml",
        {
            "scanner": {"start_jitter": "100ms"},
            "sites": [{"id": "up", "url": f"{target_base}/ok", "interval": "200ms"}],
            "repository": {"kind": "sqlite", "sqlite": {"path": str(tmp_path / "w.db")}},
            "metrics": {"listen": f"127.0.0.1:{metrics_port}"},
            "web": {"listen": f"127.0.0.1:{web_port}"},
        },
    )
    proc = await SitemonProcess("standalone", config, "--quiet").start()
    base = f"http://127.0.0.1:{web_port}"
    try:
        listening = await proc.wait_for(message_is("web listening"), timeout=60)
        assert listening["url"] == f"{base}/"

        async def uptime() -> dict[str, Any] | None:
            body = await get_json(f"{base}/api/v1/sites/up/uptime")
            return body if body["overall"][0]["checks"] >= 3 else None

        await wait_until(uptime, 60, "3 checks in the 1h uptime, from the rollups")
        sites = await get_json(f"{base}/api/v1/sites")
        assert [s["site_id"] for s in sites["items"]] == ["up"]
        samples = await scrape(f"http://127.0.0.1:{metrics_port}/metrics")
        assert samples["sitemon_web_requests_total"] >= 2
        assert await proc.stop() == 0
    finally:
        await proc.kill()


async def test_web_command_serves_postgres_rollups_read_only(tmp_path: Path, pg_dsn: str) -> None:
    schema = f"web_{uuid.uuid4().hex[:10]}"
    now = datetime.now(UTC)
    results = [
        CheckResult(
            check_id=f"c{i}",
            site_id="shop",
            url="https://shop.example/",
            region=region,
            started_at=now - timedelta(minutes=i),
            ok=i % 4 != 0,
            total_ms=20.0 + i,
        )
        for i in range(40)
        for region in ("eu",)
    ]
    try:
        async with PostgresStatusRepository(pg_dsn, schema=schema) as repo:
            await repo.migrate()
            await repo.save(results)
            await repo.save(results)  # a replay: counted once
        port = free_port()
        config = write_config(
            tmp_path / "pg.yaml",
            {
                "sites": [{"id": "shop", "url": "https://shop.example/"}],
                "repository": {"kind": "postgres", "postgres": {"dsn": pg_dsn, "schema": schema}},
                "web": {"listen": f"127.0.0.1:{port}"},
            },
        )
        proc = await SitemonProcess("web", config).start()
        try:
            await proc.wait_for(message_is("web listening"), timeout=60)
            base = f"http://127.0.0.1:{port}/api/v1/sites/shop"
            day = next(
                f for f in (await get_json(f"{base}/uptime"))["overall"] if f["window"] == "24h"
            )
            assert (day["checks"], day["ok"]) == (40, 30)
            checks = await get_json(f"{base}/checks?limit=25")
            assert len(checks["items"]) == 25 and checks["next_cursor"]
            assert await proc.stop() == 0
        finally:
            await proc.kill()
    finally:
        conn = await asyncpg.connect(pg_dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()
