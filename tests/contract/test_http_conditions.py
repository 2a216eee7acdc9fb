"""Header and JSON conditions, request bodies and the per-site User-Agent, on both HTTP
engines against the real target app (``/echo`` answers JSON of the request)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from sitemon_cli.targets import start_target_server
from sitemon_core.conditions import JsonCondition, JsonOperator
from sitemon_core.models import ErrorKind, Site
from sitemon_core.ports import SiteProber
from tests.contract.probers import ADAPTERS, ProberFactory, check

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(params=ADAPTERS)
async def prober(request: pytest.FixtureRequest) -> AsyncIterator[SiteProber]:
    factory: ProberFactory = request.param
    async with factory() as ready:
        yield ready


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    runner, url = await start_target_server()
    yield url
    await runner.cleanup()


def _site(url: str, **spec: Any) -> Site:
    return Site.http(id="c", url=url, interval_s=60.0, timeout_s=2.0, **spec)


def _json(path: str, operator: str, operand: Any) -> JsonCondition:
    return JsonCondition(path, JsonOperator(operator), operand)


async def test_json_conditions_that_hold(prober: SiteProber, base_url: str) -> None:
    conditions = (
        _json("$.method", "equals", "GET"),
        _json("$.method", "not_equals", "POST"),
        _json("$.headers", "exists", True),
        _json("$.nothing", "exists", False),
        _json("$.method", "contains", "GE"),
    )
    result = await check(prober, _site(f"{base_url}/echo", json_conditions=conditions))
    assert result.ok and result.outcome == "up", result.error_message
    assert result.failed_condition is None


async def test_a_json_condition_that_fails_says_which(prober: SiteProber, base_url: str) -> None:
    conditions = (_json("$.method", "equals", "GET"), _json("$.method", "equals", "PUT"))
    result = await check(prober, _site(f"{base_url}/echo", json_conditions=conditions))
    assert not result.ok and result.error_kind is ErrorKind.NONE
    assert result.outcome == result.failed_condition == "json_mismatch"
    assert result.error_message == "$.method equals 'PUT': got \"GET\""


async def test_a_body_that_is_not_json_fails_clearly(prober: SiteProber, base_url: str) -> None:
    conditions = (_json("$.status", "equals", "ok"),)
    result = await check(prober, _site(f"{base_url}/ok", json_conditions=conditions))
    assert result.outcome == "json_mismatch"
    assert result.error_message.startswith("body is not JSON (")


async def test_json_cut_at_the_cap_says_so(prober: SiteProber, base_url: str) -> None:
    site = _site(
        f"{base_url}/echo", json_conditions=(_json("$.method", "exists", True),), max_body_bytes=10
    )
    result = await check(prober, site)
    assert result.body_truncated
    assert result.error_message == "body is not JSON (cut at max_body_bytes)"


async def test_a_bad_status_is_reported_before_conditions(
    prober: SiteProber, base_url: str
) -> None:
    site = _site(f"{base_url}/status/503", json_conditions=(_json("$.a", "exists", True),))
    result = await check(prober, site)
    assert result.outcome == "bad_status" and result.failed_condition is None


async def test_header_glob_conditions(prober: SiteProber, base_url: str) -> None:
    expected = {"content-type": "application/json*"}
    good = await check(prober, _site(f"{base_url}/echo", headers_expected=expected))
    assert good.ok, good.error_message
    bad = await check(prober, _site(f"{base_url}/ok", headers_expected=expected))
    assert bad.outcome == "header_mismatch"
    assert bad.error_message == (
        "header content-type is not 'application/json*' (text/html; charset=utf-8)"
    )
    missing = await check(prober, _site(f"{base_url}/ok", headers_expected={"x-nope": "*"}))
    assert missing.error_message == "header x-nope is not '*' (no such header)"


async def test_post_body_and_user_agent_are_sent(prober: SiteProber, base_url: str) -> None:
    site = _site(
        f"{base_url}/echo",
        method="POST",
        body='{"q":1}',
        headers={"Content-Type": "application/json"},
        user_agent="custom-agent/1",
        json_conditions=(
            _json("$.method", "equals", "POST"),
            _json("$.body", "equals", '{"q":1}'),
            _json("$.headers['User-Agent']", "equals", "custom-agent/1"),
            _json("$.headers['Content-Type']", "equals", "application/json"),
        ),
    )
    result = await check(prober, site)
    assert result.ok, result.error_message
