"""The rules a scanner applies to sites decoded from the catalogue: everything the config
loader accepts passes them, what it refuses (where a finished site can show it) does not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest

from sitemon_adapters.probe.http_common.patterns import ProbePatterns
from sitemon_cli.config.load import parse_config
from sitemon_core.conditions import JsonCondition, JsonOperator
from sitemon_core.models import DnsSpec, HttpSpec, Site, TcpSpec, TlsSettings
from sitemon_core.site_rules import site_problem


def every_kind_document(pem: Path) -> dict[str, Any]:
    """A config using every key of every kind (TLS files must exist: ``pem``)."""
    tls = {"ca_file": str(pem), "client_cert": str(pem), "client_key": str(pem)}
    return {
        "sites": [
            {
                "id": "api",
                "url": "https://api.example/health",
                "method": "POST",
                "body": {"ping": 1},
                "headers": {"Authorization": "Bearer x"},
                "expected_status": [200, 204],
                "regex": "ok|fine",
                "json": [
                    {"path": "$.status", "equals": "ok"},
                    {"path": "$.queue", "less_than": 100},
                    {"path": "$.load", "greater_than": 0.5},
                    {"path": "$.errors", "exists": False},
                    {"path": "$.tags", "contains": "prod"},
                    {"path": "$.gone", "not_equals": None},
                ],
                "headers_expected": {"Content-Type": "application/json*"},
                "user_agent": "sitemon-test/1",
                "tls": {**tls, "server_name": "api.internal", "verify": True},
                "on_large_body": "fail",
                "max_body_bytes": 4096,
                "follow_redirects": False,
                "max_redirects": 3,
                "interval": "30s",
                "timeout": "5s",
                "degraded_after": "1s",
                "fail_after": "3s",
                "tls_expiry_warning": "30d",
                "tags": ["prod"],
            },
            {"url": "tcp://db.example:5432"},
            {"url": "tls://[2001:db8::1]:443", "tls": {"verify": False}},
            {
                "kind": "dns",
                "name": "example.com.",
                "record_type": "MX",
                "server": "[2001:db8::53]:5353",
                "transport": "tcp",
                "expected": ["10 Mail.Example.com."],
            },
            {"kind": "dns", "name": "example.com", "expected": ["192.0.2.1"]},
        ]
    }


@pytest.fixture
def loaded(tmp_path: Path) -> tuple[Site, ...]:
    pem = tmp_path / "some.pem"
    pem.write_text("not read by the loader, only checked readable\n", encoding="utf-8")
    return parse_config("every-kind.yaml", every_kind_document(pem)).sites


def test_every_site_the_config_loader_accepts_passes(loaded: tuple[Site, ...]) -> None:
    assert {site.kind for site in loaded} == {"http", "tcp", "dns"}
    assert [site_problem(site) for site in loaded] == [None] * len(loaded)


HTTP = HttpSpec(url="https://x.example/")
TLS = TlsSettings()
BAD_SPECS: list[tuple[str, Any]] = [
    ("body without POST", attrs.evolve(HTTP, body="x")),
    (
        "json path",
        attrs.evolve(HTTP, json_conditions=(JsonCondition("status", JsonOperator.EQUALS, 1),)),
    ),
    (
        "exists not bool",
        attrs.evolve(HTTP, json_conditions=(JsonCondition("$.a", JsonOperator.EXISTS, 1),)),
    ),
    (
        "less_than a string",
        attrs.evolve(HTTP, json_conditions=(JsonCondition("$.a", JsonOperator.LESS_THAN, "1"),)),
    ),
    (
        "greater_than bool",
        attrs.evolve(
            HTTP, json_conditions=(JsonCondition("$.a", JsonOperator.GREATER_THAN, True),)
        ),
    ),
    (
        "operand not scalar",
        attrs.evolve(HTTP, json_conditions=(JsonCondition("$.a", JsonOperator.EQUALS, [1]),)),
    ),  # type: ignore[arg-type]
    ("header name upper", attrs.evolve(HTTP, headers_expected=(("Content-Type", "*"),))),
    ("user agent newline", attrs.evolve(HTTP, user_agent="a\r\nX-Evil: 1")),
    ("user agent empty", attrs.evolve(HTTP, user_agent="")),
    ("key without cert", attrs.evolve(HTTP, tls=TlsSettings(client_key="/k.pem"))),
    ("empty ca file", attrs.evolve(HTTP, tls=TlsSettings(ca_file=""))),
    ("server name", attrs.evolve(HTTP, tls=TlsSettings(server_name="a b"))),
    ("tcp empty host", TcpSpec(host="", port=5432)),
    ("tcp port", TcpSpec(host="db", port=70000)),
    ("tcp negative port", TcpSpec(host="db", port=-1)),
    (
        "tcp tls settings",
        TcpSpec(host="db", port=443, tls=True, tls_settings=TlsSettings(client_key="/k")),
    ),
    ("dns empty name", DnsSpec(name="")),
    ("dns empty label", DnsSpec(name="a..example")),
    ("dns long label", DnsSpec(name="a" * 64 + ".example")),
    ("dns record type", DnsSpec(name="example.com", record_type="SRV")),
    ("dns server", DnsSpec(name="example.com", server="ns/1")),
    ("dns port", DnsSpec(name="example.com", port=0)),
]


@pytest.mark.parametrize(("case", "spec"), BAD_SPECS, ids=[case for case, _ in BAD_SPECS])
def test_a_spec_the_config_loader_refuses_is_refused(case: str, spec: Any) -> None:
    site = Site(id="s", interval_s=10, timeout_s=5, spec=spec)
    assert site_problem(site) is not None, case


BAD_TIMES: list[dict[str, float]] = [
    {"degraded_after_s": 5.0},  # not shorter than the timeout
    {"fail_after_s": 6.0},
    {"degraded_after_s": 0.0},
    {"degraded_after_s": 2.0, "fail_after_s": 2.0},
    {"fail_after_s": float("nan")},
    {"tls_expiry_warning_s": 0.0},
    {"tls_expiry_warning_s": float("inf")},
]


@pytest.mark.parametrize("times", BAD_TIMES, ids=[str(t) for t in BAD_TIMES])
def test_response_times_the_config_loader_refuses_are_refused(times: dict[str, float]) -> None:
    site = Site(id="s", interval_s=10, timeout_s=5, spec=HTTP, **times)
    assert site_problem(site) is not None
    assert site_problem(Site(id="s", interval_s=10, timeout_s=5, spec=HTTP)) is None


def test_the_probers_pattern_engines_refuse_what_the_config_loader_refuses(
    loaded: tuple[Site, ...],
) -> None:
    patterns = ProbePatterns()
    assert [site_problem(site, patterns) for site in loaded] == [None] * len(loaded)
    bad_path = attrs.evolve(HTTP, json_conditions=(JsonCondition("$.[", JsonOperator.EQUALS, 1),))
    site = Site(id="s", interval_s=10, timeout_s=5, spec=bad_path)
    assert site_problem(site) is None  # "$..." is all the core alone can tell
    assert "invalid JSONPath '$.['" in (site_problem(site, patterns) or "")
    assert patterns.regex_problem("(") is not None and patterns.regex_problem("ok|") is None


class RefusingEveryRegex:
    """A PatternCheck whose regex engine takes nothing: the rules must ask it."""

    def regex_problem(self, pattern: str) -> str | None:
        return f"engine refuses {pattern!r}"

    def json_path_problem(self, path: str) -> str | None:
        return None


def test_a_regex_the_probers_engine_refuses_is_refused() -> None:
    site = Site(id="s", interval_s=10, timeout_s=5, spec=attrs.evolve(HTTP, regex="ok"))
    assert site_problem(site) is None
    assert site_problem(site, RefusingEveryRegex()) == "engine refuses 'ok'"
