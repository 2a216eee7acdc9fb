"""The checks of issue "Checks users ask for", end to end in the embedded mode: a real
``standalone`` process checks a TLS service (certificate recorded), DNS names at a real
dnsmasq, JSON and header conditions, slow pages (degraded, too slow), a large body, and an
unverified site (warned at start); SQLite holds what each check found."""

from __future__ import annotations

import json
import signal
import sqlite3
from pathlib import Path
from typing import Any

from tests.contract import kinds
from tests.contract.dns_server import WWW_V4, dns_servers
from tests.e2e.procs import SitemonProcess, message_is, wait_until, write_config

COLUMNS = "outcome, ok, degraded, body_truncated, tls_not_after, tls_issuer, answers"


def _sites(target: str, tls_address: str, dns_address: str, ca_file: str) -> list[dict[str, Any]]:
    timing = {"interval": "1s", "timeout": "900ms"}
    echo = f"{target}/echo"
    return [
        {"id": "tls", "url": f"tls://{tls_address}", "tls": {"ca_file": ca_file}, **timing},
        {"id": "tls-unverified", "url": f"tls://{tls_address}", "tls": {"verify": False}, **timing},
        {
            "id": "dns-ok",
            "kind": "dns",
            "name": "www.sitemon.test",
            "server": dns_address,
            "expected": [WWW_V4],
            **timing,
        },
        {
            "id": "dns-wrong",
            "kind": "dns",
            "name": "www.sitemon.test",
            "server": dns_address,
            "expected": ["192.0.2.99"],
            **timing,
        },
        {
            "id": "dns-nx",
            "kind": "dns",
            "name": "nope.sitemon.test",
            "server": dns_address,
            **timing,
        },
        {
            "id": "json-ok",
            "url": echo,
            "json": [{"path": "$.method", "equals": "GET"}],
            "headers_expected": {"content-type": "application/json*"},
            **timing,
        },
        {"id": "json-miss", "url": echo, "json": [{"path": "$.method", "equals": "PUT"}], **timing},
        {"id": "degraded", "url": f"{target}/slow/0.3", "degraded_after": "100ms", **timing},
        {"id": "too-slow", "url": f"{target}/slow/0.6", "fail_after": "300ms", **timing},
        {"id": "big", "url": f"{target}/body/5000", "max_body_bytes": 1000, **timing},
    ]


EXPECTED = {
    "tls": "up",
    "tls-unverified": "up",
    "dns-ok": "up",
    "dns-wrong": "answer_mismatch",
    "dns-nx": "dns",
    "json-ok": "up",
    "json-miss": "json_mismatch",
    "degraded": "degraded",
    "too-slow": "too_slow",
    "big": "up",
}


async def test_every_new_check_end_to_end(tmp_path: Path, target_base: str) -> None:
    db = tmp_path / "checks.db"
    ca, _ = kinds.test_ca()
    (tmp_path / "dns").mkdir()
    with dns_servers(tmp_path / "dns") as dns:
        async with kinds.tls_listener() as tls_address:
            sites = _sites(target_base, tls_address, dns.address, str(ca.cert))
            config = write_config(
                tmp_path / "c.yaml",
                {
                    "scanner": {"start_jitter": "100ms"},
                    "sites": sites,
                    "repository": {"kind": "sqlite", "sqlite": {"path": str(db)}},
                },
            )
            proc = await SitemonProcess("standalone", config).start()
            try:
                await wait_until(lambda: _all_checked(db), 30, "every site checked")
                warned = "TLS certificates are not verified for 1 site(s): tls-unverified"
                warning = proc.find(message_is(warned))
                assert warning is not None and warning["sites"] == ["tls-unverified"]
                assert await proc.stop(signal.SIGTERM) == 0
            finally:
                await proc.kill()
    rows = _latest(db)
    assert {site: row["outcome"] for site, row in rows.items()} == EXPECTED
    assert rows["tls"]["tls_issuer"] == "CN=sitemon-test-ca" and rows["tls"]["tls_not_after"]
    assert json.loads(rows["dns-ok"]["answers"]) == [WWW_V4]
    assert rows["degraded"]["ok"] == 1 and rows["degraded"]["degraded"] == 1
    assert rows["big"]["body_truncated"] == 1


def _latest(db: Path) -> dict[str, dict[str, Any]]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(f"SELECT site_id, {COLUMNS} FROM site_status").fetchall()
    return {row["site_id"]: dict(row) for row in rows}


async def _all_checked(db: Path) -> bool:
    return _stored_every_site(db)


def _stored_every_site(db: Path) -> bool:
    if not db.exists():
        return False
    try:
        return set(_latest(db)) == set(EXPECTED)
    except sqlite3.OperationalError:  # not migrated yet
        return False
