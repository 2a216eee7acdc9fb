"""Strict configuration: every bad file gives its exact error; good files parse fully."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sitemon_cli.config import load_config, parse_config
from sitemon_cli.main import main
from sitemon_core.errors import ConfigError

DATA = Path(__file__).parent.parent / "data"
BAD = sorted(DATA.glob("bad-*.yaml"))
ROOT = Path(__file__).parent.parent.parent


def expected_message(path: Path) -> str:
    # A fixture that is not UTF-8 text cannot hold a comment: its message is beside it.
    sidecar = path.with_name(f"{path.name}.expect")
    first = (sidecar if sidecar.exists() else path).read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: "), f"{path} lacks its expected message"
    return f"{path}: {first.removeprefix('# expect: ')}"


@pytest.fixture(autouse=True)
def without_pycurl_for_its_rule(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rule of ``bad-curl-without-pycurl.yaml`` holds where pycurl cannot be imported:
    make it so for that fixture (a ``None`` in ``sys.modules`` fails the import)."""
    callspec = getattr(request.node, "callspec", None)
    path = callspec.params.get("path") if callspec is not None else None
    if isinstance(path, Path) and "pycurl" in path.stem:
        monkeypatch.setitem(sys.modules, "pycurl", None)


def test_there_is_a_bad_config_per_rule() -> None:
    assert len(BAD) >= 15


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_config_gives_the_exact_error(path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == expected_message(path)


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_check_config_prints_the_error_and_exits_2(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config", "-c", str(path)]) == 2
    assert capsys.readouterr().err.strip() == f"config error: {expected_message(path)}"


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope.yaml: \(file\): cannot read: No such file"):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    "path", sorted((ROOT / "example_config").glob("*.yaml")), ids=lambda p: p.name
)
def test_example_configs_are_valid(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(path)
    assert config.source == str(path)


def test_defaults_units_env_and_secret_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SITEMON_TEST_TOKEN", "abc")
    secret = tmp_path / "kafka-password"
    secret.write_text("hunter2\n")
    config = parse_config(
        "inline",
        {
            "defaults": {
                "interval": "2m",
                "timeout": "1500ms",
                "headers": {"X-T": "${SITEMON_TEST_TOKEN}"},
            },
            "sites": [
                {"url": "https://example.com/health", "regex": "ok"},
                {
                    "id": "api",
                    "url": "http://api.local:8080/",
                    "interval": 30,
                    "timeout": "5s",
                    "expected_status": 204,
                },
            ],
            "bus": {
                "kind": "kafka",
                "kafka": {
                    "security_protocol": "SASL_SSL",
                    "sasl_mechanism": "SCRAM-SHA-512",
                    "sasl_username": "u",
                    "sasl_password_file": str(secret),
                },
            },
        },
    )
    first, second = config.sites
    assert (first.id, first.interval_s, first.timeout_s) == ("example.com/health", 120.0, 1.5)
    assert first.spec.headers == (("X-T", "abc"),)
    assert (second.id, second.interval_s, second.spec.expected_statuses) == ("api", 30.0, {204})
    assert config.kafka.connection.sasl_password == "hunter2"
    assert "hunter2" not in repr(config)


durations = st.tuples(st.integers(1, 10_000), st.sampled_from(["ms", "s", "m", "h", "d", ""]))


@given(durations)
def test_duration_parsing_law(value: tuple[int, str]) -> None:
    number, unit = value
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "": 1}[unit]
    config = parse_config(
        "p",
        {
            "sites": [
                {
                    "url": "http://x.test/",
                    "interval": f"{number}{unit}",
                    "timeout": f"{number}{unit}",
                }
            ]
        },
    )
    assert config.sites[0].interval_s == pytest.approx(number * scale)
    assert config.sites[0].timeout_s == config.sites[0].interval_s


@given(st.text(max_size=40))
def test_arbitrary_text_as_a_url_is_accepted_or_a_config_error(raw: str) -> None:
    try:
        parse_config("p", {"sites": [{"url": raw}]})
    except ConfigError as exc:
        assert exc.key_path == "sites[0].url"


def test_consumer_workers_need_kafka(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "embedded.yaml"
    config.write_text("sites:\n  - id: a\n    url: http://127.0.0.1:1/\n", encoding="utf-8")
    assert main(["consumer", "-c", str(config), "--workers", "2"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"config error: {config}: bus: consumer --workers needs bus: kafka "
        "(its members share the topic's partitions)"
    )


def test_kafka_session_timeout_is_a_duration(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("bus:\n  kind: kafka\n  kafka:\n    session_timeout: 45s\n", encoding="utf-8")
    assert load_config(config).kafka.session_timeout_s == 45.0
    config.write_text("bus:\n  kind: kafka\n", encoding="utf-8")
    assert load_config(config).kafka.session_timeout_s == 10.0


def test_history_retention_is_optional_and_in_days(tmp_path: Path) -> None:
    assert parse_config("c", {}).history_retention_s is None
    config = parse_config("c", {"repository": {"history_retention": "30d"}})
    assert config.history_retention_s == 30 * 86400


def test_dns_cache_ttl_is_whole_seconds_and_off_by_default() -> None:
    assert parse_config("c", {}).scanner.dns_cache_ttl_s is None
    assert parse_config("c", {"scanner": {"dns_cache_ttl": "90s"}}).scanner.dns_cache_ttl_s == 90
    assert parse_config("c", {"scanner": {"dns_cache_ttl": "200ms"}}).scanner.dns_cache_ttl_s == 1


def test_user_agent_names_the_scanner_region_unless_overridden() -> None:
    import importlib.metadata

    version = importlib.metadata.version("sitemon")
    eu = parse_config("c", {"scanner": {"region": "eu-west-1"}})
    assert eu.scanner.user_agent == f"sitemon/{version} (eu-west-1)"
    own = parse_config("c", {"scanner": {"region": "us", "user_agent": "probe/1"}})
    assert own.scanner.user_agent == "probe/1"


def test_tcp_and_dns_sites_parse_into_their_specs() -> None:
    from sitemon_core.models import DnsSpec, TcpSpec

    config = parse_config(
        "c.yaml",
        {
            "sites": [
                {"url": "tcp://db.internal:5432"},
                {"url": "tls://mail.example.com:465", "id": "smtps"},
                {
                    "kind": "dns",
                    "name": "Example.COM.",
                    "record_type": "CNAME",
                    "server": "[::1]:5353",
                    "transport": "tcp",
                    "expected": ["Target.Example.NET."],
                },
            ]
        },
    )
    tcp, tls, dns = (site.spec for site in config.sites)
    assert tcp == TcpSpec(host="db.internal", port=5432, tls=False)
    assert tls == TcpSpec(host="mail.example.com", port=465, tls=True)
    assert dns == DnsSpec(
        name="Example.COM",
        record_type="CNAME",
        server="::1",
        port=5353,
        tcp=True,
        expected=frozenset({"target.example.net"}),
    )
    assert [site.kind for site in config.sites] == ["tcp", "tcp", "dns"]
    assert [site.id for site in config.sites] == [
        "tcp:db.internal:5432",
        "smtps",
        "dns:Example.COM/CNAME",
    ]
