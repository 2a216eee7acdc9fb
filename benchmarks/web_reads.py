"""Scenario — web reads: the status page and API of one ``sitemon-run web`` over PostgreSQL.

The schema holds N sites, 30 days of hourly rollups per site (one region) and 24 h of raw
history (a check a minute; quick: every 10 min), written by SQL (``generate_series``) into
the tables ``save()`` maintains. One ``sitemon-run web`` process serves it; one client
process (this one) asks each endpoint in turn, sequentially on one keep-alive connection,
for a fixed time, and reports p50/p99 latency and requests/s per endpoint; "all sites" is
one walk of the whole list in pages of ``MAX_PAGE`` (a dashboard reading every site), timed
per walk. Then ``wrk`` (C, so the client costs little) drives a site's detail over
``WRK_CONNECTIONS`` concurrent connections: the requests/s one web process serves.
Targets on a 2-core box (issue "See it"): site detail and uptime p99 < 50 ms, the site
list p99 < 300 ms, >= 500 requests/s for a site's detail.
"""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import yaml

from benchmarks import report
from sitemon_adapters.store.fields import COLUMN_LIST
from sitemon_core.queries import MAX_PAGE

FULL = {"sites": 10_000, "raw_every_min": 1, "seconds": 20.0}
QUICK = {"sites": 500, "raw_every_min": 10, "seconds": 4.0}
WRK_CONNECTIONS = 8
ROLLUP_DAYS = 30
WALK = "all "  # an endpoint whose name starts so is one walk of every page

_FILL = """
INSERT INTO check_rollup_hourly AS r (site_id, region, hour, checks, ok, total_min_us,
    total_max_us, total_sum_us, dns_sum_us, connect_sum_us, tls_sum_us, ttfb_sum_us,
    transfer_sum_us, dns_n, connect_n, tls_n, ttfb_n, transfer_n, histogram)
SELECT 'site-' || s, 'bench', h, 60, 60 - (s + extract(hour FROM h)::int) % 3, 20000, 90000,
       60 * 35000, 60000, 120000, 300000, 1500000, 120000, 60, 60, 60, 60, 60,
       '{"105": 30, "112": 25, "125": 5}'::jsonb
FROM generate_series(0, {sites} - 1) AS s,
     generate_series(date_trunc('hour', now()) - make_interval(days => {days}),
                     date_trunc('hour', now()), interval '1 hour') AS h;

INSERT INTO check_history (started_at, total_ms, dns_ms, connect_ms, tls_ms, ttfb_ms,
    transfer_ms, bytes_read, status_code, ok, check_id, site_id, url, region, error_kind,
    error_message, outcome, tags)
SELECT t, 35.0, 1.0, 2.0, 5.0, 25.0, 2.0, 1024, 200, true, md5(s || '/' || t::text),
       'site-' || s, 'https://site-' || s || '.example/', 'bench', 'none', '', 'up', '{}'
FROM generate_series(0, {sites} - 1) AS s,
     generate_series(now() - interval '24 hours', now(), make_interval(mins => {every})) AS t;

INSERT INTO site_region_status ({columns})
SELECT DISTINCT ON (site_id) {columns} FROM check_history ORDER BY site_id, started_at DESC;
ANALYZE;
"""


async def fill(dsn: str, schema: str, sites: int, every_min: int) -> float:
    """Migrate a fresh schema and fill it; the seconds it took."""
    import asyncpg

    from sitemon_adapters.store.postgres import PostgresStatusRepository

    began = time.monotonic()
    async with PostgresStatusRepository(dsn, schema=schema) as repo:
        await repo.migrate()
    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    try:
        for statement in _FILL.split(";\n"):
            if not statement.strip():
                continue
            await conn.execute(
                statement.replace("{sites}", str(sites))
                .replace("{days}", str(ROLLUP_DAYS))
                .replace("{every}", str(every_min))
                .replace("{columns}", COLUMN_LIST)
            )
    finally:
        await conn.close()
    return time.monotonic() - began


def free_port() -> int:
    """A port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_web(config: Path) -> subprocess.Popen[bytes]:
    """``sitemon-run web`` as a child process."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sitemon_cli.entry",
            "--log-format",
            "json",
            "web",
            "-c",
            str(config),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _walk(session: Any, path: str) -> int:
    """Every page of the site list (by offset, until ``total``); the sites seen."""
    seen, offset = 0, 0
    while True:
        async with session.get(f"{path}&offset={offset}") as response:
            if response.status != 200:
                raise RuntimeError(f"{path}: HTTP {response.status}")
            page = await response.json()
        seen += len(page["items"])
        if offset + MAX_PAGE >= page["total"]:
            return seen
        offset += MAX_PAGE


async def drive(base: str, paths: dict[str, str], seconds: float) -> dict[str, Any]:
    """Each endpoint for ``seconds``, sequentially on one connection: latency and rate."""
    import aiohttp

    out: dict[str, Any] = {}
    async with aiohttp.ClientSession(base) as session:
        deadline = time.monotonic() + 60
        while True:  # ready: the server answers and reaches its database
            try:
                async with session.get("/readyz") as response:
                    if response.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("sitemon-run web did not become ready")
            await asyncio.sleep(0.2)
        for name, path in paths.items():
            took: list[float] = []
            began = time.monotonic()
            while time.monotonic() - began < seconds:
                start = time.perf_counter()
                if name.startswith(WALK):
                    out["sites seen"] = await _walk(session, path)
                else:
                    async with session.get(path) as response:
                        await response.read()
                        if response.status != 200:
                            raise RuntimeError(f"{path}: HTTP {response.status}")
                took.append(time.perf_counter() - start)
            elapsed = time.monotonic() - began
            out[name] = {
                "requests": len(took),
                "p50_ms": 1000 * (report.percentile(took, 0.50) or 0.0),
                "p99_ms": 1000 * (report.percentile(took, 0.99) or 0.0),
                "per_s": len(took) / elapsed,
            }
    return out


def wrk_detail(url: str, seconds: float) -> dict[str, Any]:
    """``wrk`` on one URL over ``WRK_CONNECTIONS`` connections: requests/s and latency."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{WRK_CONNECTIONS}", f"-d{seconds:.0f}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"\s50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if rate is None or p50 is None or p99 is None or errors is not None:
        raise RuntimeError(f"wrk on {url}: unexpected output\n{out}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return {
        "connections": WRK_CONNECTIONS,
        "per_s": float(rate.group(1)),
        "p50_ms": float(p50.group(1)) * scale[p50.group(2)],
        "p99_ms": float(p99.group(1)) * scale[p99.group(2)],
    }


def run(ctx: Any) -> dict[str, Any]:
    """Fill once, serve with one web process, drive every endpoint with one client."""
    params = QUICK if ctx.quick else FULL
    pg = ctx.postgres()
    schema = f"bench_web_{uuid.uuid4().hex[:8]}"
    report.progress(f"web_reads: filling {params['sites']:,} sites, {ROLLUP_DAYS} days")
    fill_s = asyncio.run(fill(pg.dsn, schema, params["sites"], params["raw_every_min"]))
    report.progress(f"web_reads: filled in {fill_s:.1f} s")
    site = f"site-{params['sites'] // 2}"
    paths = {
        "site list (page of 50)": "/api/v1/sites?limit=50",
        f"all {params['sites']:,} sites (pages of {MAX_PAGE})": f"/api/v1/sites?limit={MAX_PAGE}",
        "site detail": f"/api/v1/sites/{site}",
        "30-day uptime": f"/api/v1/sites/{site}/uptime",
        "24 h latency chart": f"/api/v1/sites/{site}/latency?bucket=1h",
        "status page HTML": "/",
    }
    with TemporaryDirectory() as tmp:
        port = free_port()
        config = Path(tmp) / "web.yaml"
        document = {
            "sites": [
                {"id": f"site-{n}", "url": f"https://site-{n}.example/"}
                for n in range(params["sites"])
            ],
            "repository": {"kind": "postgres", "postgres": {"dsn": pg.dsn, "schema": schema}},
            "web": {"listen": f"127.0.0.1:{port}"},
        }
        config.write_text(yaml.safe_dump(document), encoding="utf-8")
        server = start_web(config)
        try:
            base = f"http://127.0.0.1:{port}"
            figures = asyncio.run(drive(base, paths, params["seconds"]))
            concurrent = wrk_detail(base + paths["site detail"], params["seconds"])
        finally:
            server.terminate()
            server.wait(30)
    seen = figures.pop("sites seen", None)
    if seen != params["sites"]:
        raise RuntimeError(f"the walk of the site list saw {seen} sites of {params['sites']}")
    rows = [
        [name, f["requests"], round(f["p50_ms"], 1), round(f["p99_ms"], 1), round(f["per_s"])]
        for name, f in figures.items()
    ]
    rows.append(
        [
            f"site detail, wrk {WRK_CONNECTIONS} connections",
            round(concurrent["per_s"] * params["seconds"]),
            round(concurrent["p50_ms"], 1),
            round(concurrent["p99_ms"], 1),
            round(concurrent["per_s"]),
        ]
    )
    print(
        report.table(
            f"web reads: {params['sites']:,} sites, {ROLLUP_DAYS} d hourly rollups, 24 h raw",
            ["endpoint", "requests", "p50 ms", "p99 ms", "req/s"],
            rows,
        )
    )
    return {"params": params, "fill_s": fill_s, "endpoints": figures, "wrk_detail": concurrent}
