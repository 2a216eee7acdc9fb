"""The status page as the CLI runs it: inside ``standalone`` (SQLite) and as
``sitemon-run web`` over PostgreSQL, each serving its WebServer's stats in ``/metrics``."""

from __future__ import annotations

import asyncio
import signal
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

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


async def status_of(url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.json()


async def test_web_command_never_migrates_and_is_ready_once_migrated(
    tmp_path: Path, pg_dsn: str
) -> None:
    """A fresh schema: ``web``, as a role with no right but SELECT, runs no DDL, says to run
    ``migrate`` (log: the DSN without its password; /readyz 503 with the reason); after
    ``migrate`` (as the owner) and the grants, the same process is ready and answers."""
    suffix = uuid.uuid4().hex[:10]
    schema, role, password = f"web_{suffix}", f"reader_{suffix}", f"pw-{suffix}"
    parts = urlsplit(pg_dsn)
    reader_dsn = urlunsplit(
        parts._replace(netloc=f"{role}:{password}@{parts.hostname}:{parts.port}")
    )
    admin = await asyncpg.connect(pg_dsn)
    await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    port = free_port()
    sites = [{"id": "shop", "url": "https://shop.example/"}]
    reader = write_config(
        tmp_path / "reader.yaml",
        {
            "sites": sites,
            "repository": {"kind": "postgres", "postgres": {"dsn": reader_dsn, "schema": schema}},
            "web": {"listen": f"127.0.0.1:{port}"},
        },
    )
    owner = write_config(
        tmp_path / "owner.yaml",
        {"repository": {"kind": "postgres", "postgres": {"dsn": pg_dsn, "schema": schema}}},
    )
    base = f"http://127.0.0.1:{port}"
    proc = await SitemonProcess("web", reader).start()
    try:
        warning = await proc.wait_for(message_is("repository not ready"), timeout=60)
        assert warning["dsn"] == reader_dsn.replace(f":{password}@", ":***@")
        assert f"sitemon-run migrate -c {reader}" in warning["problem"]
        await proc.wait_for(message_is("web listening"), timeout=60)
        status, body = await status_of(f"{base}/readyz")
        assert status == 503
        assert body["reason"].startswith(f'schema "{schema}" has no sitemon tables')
        assert "sitemon-run migrate" in body["reason"]
        assert (await status_of(f"{base}/api/v1/sites"))[0] == 503
        exists = "SELECT 1 FROM pg_namespace WHERE nspname = $1"
        assert await admin.fetchval(exists, schema) is None  # no DDL from the reader

        migrate = await SitemonProcess("migrate", owner).start()
        assert migrate.proc is not None
        assert await asyncio.wait_for(migrate.proc.wait(), 60) == 0, migrate.tail()
        await admin.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}')
        await admin.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO {role}')

        async def ready() -> bool:
            return (await status_of(f"{base}/readyz"))[0] == 200

        await wait_until(ready, 30, "ready once migrated, without a restart")
        status, page = await status_of(f"{base}/api/v1/sites")
        assert status == 200 and [s["site_id"] for s in page["items"]] == ["shop"]
        assert password not in "\n".join(proc.raw)
        assert await proc.stop() == 0
    finally:
        await proc.kill()
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.execute(f"DROP OWNED BY {role}")
        await admin.execute(f"DROP ROLE {role}")
        await admin.close()


def listed(body: Any) -> dict[str, tuple[str, list[str]]]:
    return {s["site_id"]: (s["url"], s["tags"]) for s in body["items"]}


async def test_sighup_refreshes_the_sites_web_lists(tmp_path: Path, pg_dsn: str) -> None:
    """``web`` takes ids, URLs and tags from its config: a SIGHUP applies a valid new list
    (a site added without any result yet, one renamed, one retagged; the removed one, never
    checked, gone) and keeps the running list on an invalid file."""
    schema = f"web_{uuid.uuid4().hex[:10]}"
    port = free_port()

    def document(sites: list[dict[str, object]]) -> dict[str, object]:
        return {
            "sites": sites,
            "repository": {"kind": "postgres", "postgres": {"dsn": pg_dsn, "schema": schema}},
            "web": {"listen": f"127.0.0.1:{port}"},
        }

    config = write_config(
        tmp_path / "web.yaml",
        document(
            [
                {"id": "shop", "url": "https://shop.example/", "tags": ["web"]},
                {"id": "old", "url": "https://old.example/"},
            ]
        ),
    )
    try:
        async with PostgresStatusRepository(pg_dsn, schema=schema) as repo:
            await repo.migrate()
        proc = await SitemonProcess("web", config).start()
        try:
            await proc.wait_for(message_is("web listening"), timeout=60)
            sites_url = f"http://127.0.0.1:{port}/api/v1/sites"
            assert listed(await get_json(sites_url)) == {
                "shop": ("https://shop.example/", ["web"]),
                "old": ("https://old.example/", []),
            }
            write_config(
                config,
                document(
                    [
                        {"id": "shop", "url": "https://shop.example/v2", "tags": ["api"]},
                        {"id": "eu/blog", "url": "https://blog.example/"},
                    ]
                ),
            )
            assert proc.proc is not None
            proc.proc.send_signal(signal.SIGHUP)
            reloaded = await proc.wait_for(message_is("config reloaded"), timeout=10)
            assert reloaded["listed"] == 2
            assert listed(await get_json(sites_url)) == {
                "shop": ("https://shop.example/v2", ["api"]),
                "eu/blog": ("https://blog.example/", []),
            }
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://127.0.0.1:{port}/") as response,
            ):
                page = await response.text()
            assert 'href="/sites/eu%2Fblog"' in page and "https://old.example/" not in page

            config.write_text("sites:\n  - url: ftp://nope/\n", encoding="utf-8")
            proc.proc.send_signal(signal.SIGHUP)
            await proc.wait_for(message_is("reload rejected, keeping the running config"))
            assert set(listed(await get_json(sites_url))) == {"shop", "eu/blog"}
            assert await proc.stop() == 0
        finally:
            await proc.kill()
    finally:
        conn = await asyncpg.connect(pg_dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


async def test_sighup_in_standalone_refreshes_the_page_with_the_scanner(
    tmp_path: Path, target_base: str
) -> None:
    """The embedded page lists what the scanner checks: after a SIGHUP, a new site's tags
    (which only the config carries) are on the page."""
    port = free_port()

    def document(sites: list[dict[str, object]]) -> dict[str, object]:
        return {
            "scanner": {"start_jitter": "100ms"},
            "sites": [{"url": f"{target_base}/ok", "interval": "300ms", **s} for s in sites],
            "repository": {"kind": "sqlite", "sqlite": {"path": str(tmp_path / "s.db")}},
            "web": {"listen": f"127.0.0.1:{port}"},
        }

    config = write_config(tmp_path / "s.yaml", document([{"id": "keep", "tags": ["a"]}]))
    proc = await SitemonProcess("standalone", config, "--quiet").start()
    try:
        await proc.wait_for(message_is("web listening"), timeout=60)
        sites_url = f"http://127.0.0.1:{port}/api/v1/sites"
        write_config(
            config, document([{"id": "keep", "tags": ["b"]}, {"id": "eu/new", "tags": ["c"]}])
        )
        assert proc.proc is not None
        proc.proc.send_signal(signal.SIGHUP)
        reloaded = await proc.wait_for(message_is("config reloaded"), timeout=10)
        assert (reloaded["added"], reloaded["sites"], reloaded["listed"]) == (1, 2, 2)
        tags = {s: t for s, (_, t) in listed(await get_json(sites_url)).items()}
        assert tags == {"keep": ["b"], "eu/new": ["c"]}
        assert await proc.stop() == 0
    finally:
        await proc.kill()
