"""The response-time verdict (``up | degraded | down``) and the outcome it gives."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
from hypothesis import given
from hypothesis import strategies as st

from sitemon_adapters.probe.http_common.certificate import read_certificate
from sitemon_core.models import CheckResult, ErrorKind, Site
from sitemon_core.verdict import judge_response_time

SITE = attrs.evolve(
    Site.http(id="s", url="https://example.com/", interval_s=60, timeout_s=10),
    degraded_after_s=0.8,
    fail_after_s=5.0,
)


def _result(total_ms: float, ok: bool = True) -> CheckResult:
    return CheckResult(
        check_id="c" * 32,
        site_id="s",
        url="https://example.com/",
        region="r",
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        ok=ok,
        total_ms=total_ms,
        status_code=200 if ok else 503,
    )


def test_fast_is_up_slow_is_degraded_too_slow_is_down() -> None:
    assert judge_response_time(SITE, _result(100)).outcome == "up"
    degraded = judge_response_time(SITE, _result(900))
    assert (degraded.ok, degraded.outcome, degraded.verdict) == (True, "degraded", "degraded")
    slow = judge_response_time(SITE, _result(6000))
    assert (slow.ok, slow.outcome, slow.verdict) == (False, "too_slow", "down")
    assert slow.error_kind is ErrorKind.NONE and "fail_after" in slow.error_message


def test_a_failed_check_stays_as_it_was() -> None:
    failed = _result(9000, ok=False)
    assert judge_response_time(SITE, failed) is failed
    assert failed.outcome == "bad_status"


def test_a_site_without_thresholds_costs_no_copy() -> None:
    plain = attrs.evolve(SITE, degraded_after_s=None, fail_after_s=None)
    result = _result(9000)
    assert judge_response_time(plain, result) is result


_RANK = {"up": 0, "degraded": 1, "down": 2}


@given(st.floats(0, 20_000), st.floats(0, 20_000))
def test_slower_is_never_a_better_verdict(a: float, b: float) -> None:
    fast, slow = sorted((a, b))
    fast_verdict = judge_response_time(SITE, _result(fast)).verdict
    assert _RANK[fast_verdict] <= _RANK[judge_response_time(SITE, _result(slow)).verdict]


@given(st.binary(max_size=600))
def test_the_certificate_reader_never_raises(data: bytes) -> None:
    facts = read_certificate(b"\x30\x82" + data)
    assert facts.issuer is None or isinstance(facts.issuer, str)


def test_the_status_table_shows_the_days_a_certificate_has_left() -> None:
    from datetime import timedelta

    from sitemon_cli.live import format_status_table
    from sitemon_core.models import SiteStatus

    now = datetime(2026, 1, 1, tzinfo=UTC)
    good = attrs.evolve(_result(10), site_id="good", tls_not_after=now + timedelta(days=14.5))
    gone = attrs.evolve(_result(10), site_id="gone", tls_not_after=now - timedelta(days=3))
    plain = attrs.evolve(_result(10), site_id="plain")
    statuses = [SiteStatus(site_id=r.site_id, latest=r) for r in (good, gone, plain)]
    table = format_status_table(statuses, now)
    cert = {line.split()[0]: line.split()[6] for line in table.splitlines()[1:]}
    assert cert == {"good": "14d", "gone": "-3d", "plain": "-"}
