"""The /metrics exposition: counters from stats objects, checks by outcome, durations."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import attrs

from sitemon_adapters.bus.kafka import PublisherStats, SubscriberStats
from sitemon_cli.config import parse_config
from sitemon_cli.metrics import CheckMetrics, MetricsEndpoint
from sitemon_core.errors import ConfigError
from sitemon_core.models import CheckResult, ErrorKind
from sitemon_core.partitions import PartitionStats
from sitemon_core.persister import PersisterStats
from sitemon_core.retention import RetentionStats
from sitemon_core.scanner import ScannerStats
from tests.promtool import promtool_problems

LINE = re.compile(r'^(# (HELP|TYPE) .+|[a-z_]+(\{[a-z]+="[^"]*"\})? -?[0-9.e+-]+|.*Inf.*)$')


@attrs.define
class FakeStats:
    started: int = 3
    max_lag_s: float = 0.25
    label: str = "ignored"


def check(total_ms: float, *, ok: bool = True, kind: ErrorKind = ErrorKind.NONE) -> CheckResult:
    return CheckResult(
        check_id="c",
        site_id="s",
        url="http://x/",
        region="r",
        started_at=datetime.now(UTC),
        ok=ok,
        total_ms=total_ms,
        status_code=200 if ok else None,
        error_kind=kind,
        error_message="" if ok else "boom",
    )


def test_exposition_has_counters_gauges_outcomes_and_a_cumulative_histogram() -> None:
    endpoint = MetricsEndpoint("127.0.0.1", 9464)
    endpoint.add_stats("scanner", attrs.make_class("Owner", {})())  # no stats: skipped
    owner = type("Owner", (), {"stats": FakeStats()})()
    endpoint.add_stats("scanner", owner)
    endpoint.add_gauge("sites", lambda: 7)
    endpoint.checks = CheckMetrics()
    for ms in (3.0, 40.0, 40.0, 60_000.0):
        endpoint.checks.observe(check(ms), 0.0)
    endpoint.checks.observe(check(900.0, ok=False, kind=ErrorKind.TIMEOUT), 0.0)
    endpoint.checks.observe(attrs.evolve(check(3.0), degraded=True), 0.0)
    text = endpoint.render()
    assert all(LINE.match(line) for line in text.splitlines()), text
    samples = dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    assert samples["sitemon_scanner_started_total"] == "3"
    assert samples["sitemon_scanner_max_lag_seconds"] == "0.25"
    assert "sitemon_scanner_label_total" not in samples
    assert samples["sitemon_sites"] == "7"
    assert samples['sitemon_checks_total{outcome="up"}'] == "4"
    assert samples['sitemon_checks_total{outcome="timeout"}'] == "1"
    assert samples['sitemon_checks_total{outcome="degraded"}'] == "1"
    assert samples['sitemon_check_verdicts_total{verdict="up"}'] == "4"
    assert samples['sitemon_check_verdicts_total{verdict="degraded"}'] == "1"
    assert samples['sitemon_check_verdicts_total{verdict="down"}'] == "1"
    assert samples['sitemon_check_duration_seconds_bucket{le="0.005"}'] == "2"
    assert samples['sitemon_check_duration_seconds_bucket{le="0.05"}'] == "4"
    assert samples['sitemon_check_duration_seconds_bucket{le="1.0"}'] == "5"
    assert samples['sitemon_check_duration_seconds_bucket{le="30.0"}'] == "5"
    assert samples['sitemon_check_duration_seconds_bucket{le="+Inf"}'] == "6"
    assert float(samples["sitemon_check_duration_seconds_sum"]) == 60.986


def test_listen_address_is_validated() -> None:
    assert parse_config("c", {"metrics": {"listen": "0.0.0.0:9464"}}).metrics_listen == (
        "0.0.0.0",
        9464,
    )
    assert parse_config("c", {"metrics": {"listen": "[::1]:9464"}}).metrics_listen == ("::1", 9464)
    assert parse_config("c", {}).metrics_listen is None
    for bad in ("9464", "host:", "host:0", "host:70000", ":9464"):
        try:
            parse_config("c", {"metrics": {"listen": bad}})
        except ConfigError as exc:
            assert str(exc) == (
                f"c: metrics.listen: must be host:port with a port from 1 to 65535, got {bad!r}"
            )
        else:
            raise AssertionError(f"{bad!r} accepted")


def test_promtool_accepts_every_component_s_exposition() -> None:
    endpoint = MetricsEndpoint("127.0.0.1", 9464)
    for name, stats in (
        ("scanner", ScannerStats(started=2, max_lag_s=0.5)),
        ("publisher", PublisherStats()),
        ("persister", PersisterStats()),
        ("subscriber", SubscriberStats()),
        ("retention", RetentionStats(rollups_deleted=7)),
        ("partitions", PartitionStats(default_rows=2.0)),
    ):
        endpoint.add_stats(name, type("Owner", (), {"stats": stats})())
    endpoint.add_gauge("sites", lambda: 3, "Sites scheduled.")
    endpoint.checks = CheckMetrics()
    endpoint.checks.observe(check(12.0), 0.0)
    text = endpoint.render()
    assert "sitemon_scanner_max_lag_seconds 0.5" in text
    assert "# TYPE sitemon_partitions_default_rows gauge" in text
    assert "sitemon_partitions_default_rows 2.0" in text
    assert "Rows in check_history's default partition" in text
    assert "# HELP sitemon_retention_rollups_deleted_total Rollup rows deleted" in text
    assert "sitemon_retention_rollups_deleted_total 7" in text
    assert promtool_problems(text) == ""


def test_promtool_catches_what_it_is_here_to_catch() -> None:
    # The check above can fail: an unspelled unit and a missing HELP are what it reported.
    assert "no help text" in promtool_problems("# TYPE sitemon_x_s gauge\nsitemon_x_s 1\n")
