"""The DNS prober against a real DNS server (dnsmasq, started by these tests): every
record type, and each failure classified — NXDOMAIN, SERVFAIL, a timeout, a wrong answer,
no records of the type. The generic prober rules run over it in ``test_prober_rules.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from sitemon_adapters.clock import SystemClock
from sitemon_adapters.probe.dns import MAX_ANSWERS, DnsSiteProber
from sitemon_core.models import DnsSpec, ErrorKind, Site
from tests.contract.dns_server import (
    MANY,
    WWW_V4,
    WWW_V6,
    DnsServer,
    dns_servers,
    silent_udp,
)
from tests.contract.probers import REGION, check

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DnsServer]:
    """dnsmasq on a loopback port (fails, never skips, when it cannot start)."""
    with dns_servers(tmp_path_factory.mktemp("dns")) as running:
        yield running


@pytest.fixture
async def prober() -> AsyncIterator[DnsSiteProber]:
    async with DnsSiteProber(REGION, SystemClock()) as ready:
        yield ready


def _site(server: DnsServer, name: str, record_type: str = "A", **spec: object) -> Site:
    dns = DnsSpec(name=name, record_type=record_type, server=server.host, port=server.port)
    return Site(id="d", interval_s=60.0, timeout_s=1.0, spec=DnsSpec(**{**_fields(dns), **spec}))


def _fields(spec: DnsSpec) -> dict[str, object]:
    return {
        "name": spec.name,
        "record_type": spec.record_type,
        "server": spec.server,
        "port": spec.port,
    }


@pytest.mark.parametrize(
    ("name", "record_type", "answers"),
    [
        ("www.sitemon.test", "A", (WWW_V4,)),
        ("www.sitemon.test", "AAAA", (WWW_V6,)),
        ("alias.sitemon.test", "CNAME", ("www.sitemon.test",)),
        ("sitemon.test", "MX", ("10 mail.sitemon.test",)),
        ("sitemon.test", "TXT", ("v=spf1 -all",)),
    ],
)
@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
async def test_answers_are_recorded(
    prober: DnsSiteProber,
    server: DnsServer,
    name: str,
    record_type: str,
    answers: tuple[str, ...],
    tcp: bool,
) -> None:
    site = _site(server, name, record_type, tcp=tcp, expected=frozenset(answers))
    result = await check(prober, site)
    assert result.ok and result.outcome == "up", result.error_message
    assert result.answers == answers
    assert result.timings.dns_ms is not None and result.timings.dns_ms <= result.total_ms
    assert result.url == f"dns://127.0.0.1:{server.port}/{name}?type={record_type}"


async def test_a_flood_of_answers_is_compared_whole_and_recorded_capped(
    prober: DnsSiteProber, server: DnsServer
) -> None:
    last = f"r{MANY - 1:02d}"
    site = _site(server, "many.sitemon.test", "TXT", tcp=True, expected=frozenset({last}))
    result = await check(prober, site)
    assert result.ok, result.error_message
    assert len(result.answers) == MAX_ANSWERS and last not in result.answers


async def test_nxdomain(prober: DnsSiteProber, server: DnsServer) -> None:
    result = await check(prober, _site(server, "nope.sitemon.test"))
    assert (result.ok, result.error_kind) == (False, ErrorKind.DNS)
    assert result.error_message == "NXDOMAIN: nope.sitemon.test does not exist"


async def test_servfail(prober: DnsSiteProber, server: DnsServer) -> None:
    result = await check(prober, _site(server, "www.bogus.test"))
    assert (result.ok, result.error_kind) == (False, ErrorKind.DNS)
    assert result.error_message == "SERVFAIL for www.bogus.test A"


async def test_no_records_of_the_type(prober: DnsSiteProber, server: DnsServer) -> None:
    result = await check(prober, _site(server, "www.sitemon.test", "MX"))
    assert result.error_kind is ErrorKind.DNS
    assert result.error_message == "no MX records for www.sitemon.test"


async def test_a_wrong_answer(prober: DnsSiteProber, server: DnsServer) -> None:
    site = _site(server, "www.sitemon.test", expected=frozenset({"192.0.2.99"}))
    result = await check(prober, site)
    assert not result.ok and result.error_kind is ErrorKind.NONE
    assert result.outcome == result.failed_condition == "answer_mismatch"
    assert result.answers == (WWW_V4,)
    assert result.error_message == "expected 192.0.2.99 among the answers"


async def test_a_server_that_never_answers_times_out(prober: DnsSiteProber) -> None:
    async with silent_udp() as silent:
        result = await check(prober, _site(silent, "www.sitemon.test"))
    assert result.error_kind is ErrorKind.TIMEOUT
    assert result.error_message == "timed out after 1.0s resolving the name"
    assert 900 <= result.total_ms <= 1500


def test_the_server_fixture_fails_loudly_without_dnsmasq(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.contract import dns_server

    monkeypatch.setattr(dns_server.shutil, "which", lambda _name: None)
    monkeypatch.setattr(dns_server, "Path", lambda _p: tmp_path / "no-such-dnsmasq")
    with (
        pytest.raises(dns_server.DnsServerError, match="dnsmasq is missing"),
        dns_server.dns_servers(tmp_path),
    ):
        pass
