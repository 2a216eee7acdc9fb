"""Rollup laws: folding is order-free and associative, percentiles within the stated bound,
uptime from rollups equals uptime from raw results."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import attrs
from hypothesis import given
from hypothesis import strategies as st

from sitemon_core.models import CheckResult
from sitemon_core.rollup import (
    HISTOGRAM_BUCKETS,
    HISTOGRAM_LOW_MS,
    MAX_MS,
    PERCENTILE_RELATIVE_ERROR,
    Rollup,
    bucket_lower_ms,
    bucket_of,
    clamp_ms,
    combine_all,
    fold,
    merge_maps,
    percentile_ms,
    period_start,
    uptime_ratio,
)
from tests.strategies import check_results

T0 = datetime(2026, 3, 1, tzinfo=UTC)
FEW_SITES = st.sampled_from(["a", "b"])
FEW_HOURS = st.integers(0, 4 * 3600 - 1).map(lambda s: T0 + timedelta(seconds=s))
# Short regions so results of the same site share rollups often.
RESULTS = st.lists(
    check_results(site_ids=FEW_SITES, started_at=FEW_HOURS).map(
        lambda r: attrs.evolve(r, region=r.region[:1])
    ),
    max_size=30,
)
LATENCIES = st.floats(min_value=0.0, max_value=MAX_MS, allow_nan=False)


@given(RESULTS, st.randoms())
def test_folding_does_not_depend_on_order(results: list[CheckResult], rnd: random.Random) -> None:
    shuffled = list(results)
    rnd.shuffle(shuffled)
    assert fold(shuffled) == fold(results)


@given(RESULTS, RESULTS, RESULTS)
def test_merging_is_associative_and_equals_folding_the_union(
    a: list[CheckResult], b: list[CheckResult], c: list[CheckResult]
) -> None:
    left = merge_maps(merge_maps(fold(a), fold(b)), fold(c))
    right = merge_maps(fold(a), merge_maps(fold(b), fold(c)))
    assert left == right == fold(a + b + c)


@given(RESULTS)
def test_uptime_from_rollups_equals_uptime_from_raw_results(results: list[CheckResult]) -> None:
    for site in {r.site_id for r in results}:
        raw = [r for r in results if r.site_id == site]
        rollups = [v for k, v in fold(results).items() if k[0] == site]
        total = combine_all(rollups, key=(site, "*", T0))
        assert uptime_ratio(total) == sum(r.ok for r in raw) / len(raw)
        assert total.checks == len(raw)


@given(st.lists(LATENCIES, min_size=1, max_size=200), st.sampled_from([0.5, 0.95, 0.99, 1.0]))
def test_percentiles_from_the_histogram_are_within_the_stated_bound(
    values: list[float], q: float
) -> None:
    histogram = combine_all((Rollup.of(_result(v)) for v in values), key=("s", "r", T0)).histogram
    exact = sorted(values)[max(1, math.ceil(q * len(values))) - 1]
    estimate = percentile_ms(histogram, q)
    assert estimate is not None
    if exact >= HISTOGRAM_LOW_MS:
        assert abs(estimate - exact) <= PERCENTILE_RELATIVE_ERROR * exact * (1 + 1e-9)
    else:
        assert abs(estimate - exact) <= HISTOGRAM_LOW_MS
    assert PERCENTILE_RELATIVE_ERROR < 0.05  # the bound the docstring states


@given(st.floats(allow_nan=False))
def test_every_time_lands_in_a_bucket_whose_edges_contain_it(value: float) -> None:
    index = bucket_of(value)
    assert 0 <= index < HISTOGRAM_BUCKETS
    clamped = clamp_ms(value)
    if index >= 1:
        assert bucket_lower_ms(index) <= clamped
    if index < HISTOGRAM_BUCKETS - 1:
        assert clamped < (bucket_lower_ms(index + 1) if index else HISTOGRAM_LOW_MS)


def test_the_empty_histogram_has_no_percentile() -> None:
    assert percentile_ms((), 0.5) is None


def test_rollups_of_different_keys_do_not_merge() -> None:
    a = Rollup.of(_result(1.0))
    b = Rollup.of(_result(1.0, region="other"))
    try:
        a.merge(b)
    except ValueError as exc:
        assert "cannot merge" in str(exc)
    else:
        raise AssertionError("merged rollups of different regions")


def test_a_result_is_rolled_up_into_its_utc_hour() -> None:
    at = datetime(2026, 3, 1, 10, 59, 59, tzinfo=UTC)
    assert period_start(at) == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert period_start(at, timedelta(days=1)) == datetime(2026, 3, 1, tzinfo=UTC)


def _result(total_ms: float, region: str = "r") -> CheckResult:
    return CheckResult(
        check_id=f"{total_ms}-{region}",
        site_id="s",
        url="http://s/",
        region=region,
        started_at=T0,
        ok=True,
        total_ms=total_ms,
    )
