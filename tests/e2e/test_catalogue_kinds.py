"""Every probe kind through the catalogue: ``sites apply`` publishes an HTTP site with JSON
conditions and TLS settings, TCP and tls:// sites and DNS sites; ``sites list`` prints them;
applying the same file again changes nothing (every field came back from the topic as it
went in); a producer with ``sites: {source: kafka}`` checks them all, and the outcomes show
the fields that only the full schema carries (JSON conditions, CA file, DNS answers)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.contract import kinds
from tests.contract.dns_server import WWW_V4, dns_servers
from tests.e2e.catalogue_rig import ResultsLog, follower_config, start_producers, stop_all
from tests.e2e.procs import wait_until, write_config
from tests.e2e.test_catalogue_live import sites_cli

TIMING = {"interval": "2s", "timeout": "1s"}


@pytest.fixture
def names_with_sites(names: dict[str, str]) -> dict[str, str]:
    return {**names, "sites": f"sites-{uuid.uuid4().hex[:10]}"}


def every_kind(target: str, tls_address: str, dns_address: str, ca_file: str) -> list[Any]:
    """Sites of every kind whose outcome depends on a field the first schema lacked."""
    echo = f"{target}/echo"
    api = {
        "url": echo,
        "json": [{"path": "$.method", "equals": "GET"}, {"path": "$.nope", "exists": False}],
        "headers_expected": {"Content-Type": "application/json*"},
        "user_agent": "sitemon-catalogue-e2e",
        "tls": {"ca_file": ca_file, "server_name": "localhost"},
        "fail_after": "900ms",
        "tls_expiry_warning": "30d",
        **TIMING,
    }
    dns = {"kind": "dns", "name": "www.sitemon.test", "server": dns_address, **TIMING}
    return [
        {"id": "api", **api},
        {**api, "id": "api-miss", "json": [{"path": "$.method", "equals": "PUT"}]},
        {"id": "tcp", "url": f"tcp://{tls_address}", **TIMING},
        {"id": "tls", "url": f"tls://{tls_address}", "tls": {"ca_file": ca_file}, **TIMING},
        {**dns, "id": "dns", "expected": [WWW_V4], "transport": "tcp"},
        {**dns, "id": "dns-wrong", "expected": ["192.0.2.99"]},
    ]


EXPECTED = {
    "api": "up",
    "api-miss": "json_mismatch",  # the JSON condition travelled
    "tcp": "up",
    "tls": "up",  # the CA file travelled (the system CAs do not trust the test CA)
    "dns": "up",
    "dns-wrong": "answer_mismatch",  # the expected answers travelled
}


async def test_sites_of_every_kind_travel_through_the_catalogue_whole(
    tmp_path: Path, kafka_bootstrap: str, names_with_sites: dict[str, str], target_base: str
) -> None:
    names = names_with_sites
    ca, _ = kinds.test_ca()
    (tmp_path / "dns").mkdir()
    with dns_servers(tmp_path / "dns") as dns:
        async with kinds.tls_listener() as tls_address:
            sites = every_kind(target_base, tls_address, dns.address, str(ca.cert))
            document: dict[str, Any] = {
                "sites": sites,
                "bus": {
                    "kind": "kafka",
                    "kafka": {"bootstrap_servers": kafka_bootstrap, "sites_topic": names["sites"]},
                },
            }
            path = write_config(tmp_path / "sites.yaml", document)
            code, out = await sites_cli("apply", "-c", str(path))
            assert code == 0 and "6 added, 0 changed, 0 removed" in out, out
            code, out = await sites_cli("list", "-c", str(path))
            assert code == 0 and "6 sites in" in out, out
            assert f"tcp  tcp  every 2s  tcp://{tls_address}" in out, out
            assert "dns  dns  every 2s  dns://" in out and "api  http  every 2s" in out, out
            code, out = await sites_cli("apply", "-c", str(path))
            assert code == 0 and "0 added, 0 changed, 0 removed" in out, out
            await _checked_by_a_follower(tmp_path, kafka_bootstrap, names)


async def _checked_by_a_follower(tmp: Path, bootstrap: str, names: dict[str, str]) -> None:
    config = follower_config(tmp, bootstrap, names)
    async with ResultsLog(bootstrap, names["topic"]) as results:
        procs = await start_producers(config, 1)
        try:

            async def settled() -> bool:
                return _outcomes(results) == EXPECTED

            await wait_until(settled, 60, f"outcomes {EXPECTED}")
            assert procs[0].find(lambda e: e.get("msg") == "invalid site skipped") is None
        finally:
            await stop_all(procs)


def _outcomes(results: ResultsLog) -> dict[str, str]:
    return {site: outcome for (site, _region), outcome in results.outcomes.items()}
