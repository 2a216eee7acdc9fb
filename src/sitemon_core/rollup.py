"""Rollups: what the read side keeps per site x region x hour so it never scans raw history.

A ``Rollup`` counts checks and ok checks, keeps min/max/sum of the total time, per-phase sums
and a fixed log-spaced latency histogram. Every field is an integer (times in whole
microseconds), so merging is exact: folding results into rollups is order-independent and
associative, and ``merge(fold(a), fold(b)) == fold(a + b)`` holds bit for bit. That is what lets
a database add a batch to a stored row (``UPDATE … SET checks = checks + …``) and still agree
with a brute-force computation from history.

Latency histogram: bucket 0 holds times below ``HISTOGRAM_LOW_MS`` (0.1 ms); bucket ``i ≥ 1``
holds ``[LOW·R^(i-1), LOW·R^i)`` with ``R = 1.1``; the last bucket also takes everything up to
the clamp ``MAX_MS``. A percentile is reported as its bucket's geometric midpoint, so for a
true value in ``[0.1 ms, MAX_MS]`` the estimate is within **±5 %** (exactly ``sqrt(1.1) - 1 ≈
4.88 %``) of the exact nearest-rank percentile; below 0.1 ms it is within 0.1 ms.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta

import attrs

from sitemon_core.models import CheckResult, PhaseTimings

HISTOGRAM_LOW_MS = 0.1
HISTOGRAM_RATIO = 1.1
MAX_MS = 3_600_000.0  # one hour: no check lasts longer; clamping keeps sums in a bigint
HISTOGRAM_BUCKETS = 2 + math.ceil(math.log(MAX_MS / HISTOGRAM_LOW_MS, HISTOGRAM_RATIO))
PERCENTILE_RELATIVE_ERROR = math.sqrt(HISTOGRAM_RATIO) - 1.0
PHASES = ("dns", "connect", "tls", "ttfb", "transfer")
HOUR = timedelta(hours=1)

RollupKey = tuple[str, str, datetime]  # site id, region, period start (UTC)
Histogram = tuple[tuple[int, int], ...]  # sorted (bucket index, count) pairs, counts > 0


def clamp_ms(value: float) -> float:
    """A time as the rollups count it: within ``[0, MAX_MS]`` (NaN counts as 0)."""
    return min(max(value, 0.0), MAX_MS) if not math.isnan(value) else 0.0


def to_us(value: float) -> int:
    """Clamped milliseconds as whole microseconds (integers make merging exact)."""
    return round(clamp_ms(value) * 1000.0)


def bucket_of(value_ms: float) -> int:
    """The histogram bucket of a time (clamped first)."""
    value = clamp_ms(value_ms)
    if value < HISTOGRAM_LOW_MS:
        return 0
    index = int(math.log(value / HISTOGRAM_LOW_MS, HISTOGRAM_RATIO)) + 1
    # log() can round across a bucket edge; settle the index against the edges themselves.
    while index > 1 and value < bucket_lower_ms(index):
        index -= 1
    while index < HISTOGRAM_BUCKETS - 1 and value >= bucket_lower_ms(index + 1):
        index += 1
    return index


def bucket_lower_ms(index: int) -> float:
    """The lower edge of bucket ``index`` (≥ 1)."""
    return float(HISTOGRAM_LOW_MS * HISTOGRAM_RATIO ** (index - 1))


def bucket_value_ms(index: int) -> float:
    """The value a percentile falling in bucket ``index`` is reported as."""
    if index == 0:
        return HISTOGRAM_LOW_MS / 2
    return bucket_lower_ms(index) * math.sqrt(HISTOGRAM_RATIO)


def period_start(at: datetime, period: timedelta = HOUR) -> datetime:
    """The UTC start of the ``period`` (a divisor of a day) containing ``at``."""
    at = at.astimezone(UTC)
    midnight = at.replace(hour=0, minute=0, second=0, microsecond=0)
    step = int(period.total_seconds())
    return midnight + timedelta(seconds=int((at - midnight).total_seconds()) // step * step)


def _phase_values(timings: PhaseTimings) -> tuple[float | None, ...]:
    return (
        timings.dns_ms,
        timings.connect_ms,
        timings.tls_ms,
        timings.ttfb_ms,
        timings.transfer_ms,
    )


@attrs.frozen(kw_only=True)
class Rollup:
    """Aggregates of the checks of one site in one region during one period (an hour).

    ``phase_sums_us[i]`` adds the ``PHASES[i]`` times of the ``phase_counts[i]`` checks that
    measured that phase; ``histogram`` counts total times per bucket (see the module doc).
    """

    site_id: str
    region: str
    start: datetime
    checks: int = 0
    ok: int = 0
    total_min_us: int | None = None
    total_max_us: int | None = None
    total_sum_us: int = 0
    phase_sums_us: tuple[int, ...] = (0,) * len(PHASES)
    phase_counts: tuple[int, ...] = (0,) * len(PHASES)
    histogram: Histogram = ()

    @property
    def key(self) -> RollupKey:
        """Where this rollup belongs."""
        return (self.site_id, self.region, self.start)

    @classmethod
    def of(cls, result: CheckResult, period: timedelta = HOUR) -> Rollup:
        """The rollup of a single result."""
        total = to_us(result.total_ms)
        phases = _phase_values(result.timings)
        return cls(
            site_id=result.site_id,
            region=result.region,
            start=period_start(result.started_at, period),
            checks=1,
            ok=int(result.ok),
            total_min_us=total,
            total_max_us=total,
            total_sum_us=total,
            phase_sums_us=tuple(0 if v is None else to_us(v) for v in phases),
            phase_counts=tuple(0 if v is None else 1 for v in phases),
            histogram=((bucket_of(result.total_ms), 1),),
        )

    def merge(self, other: Rollup) -> Rollup:
        """Both rollups' checks together (the keys must match; use ``combine`` across keys)."""
        if other.key != self.key:
            raise ValueError(f"cannot merge rollups of {self.key} and {other.key}")
        return combine(self, other, key=self.key)


def _opt(op: Callable[[int, int], int], a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else op(a, b)


def _add_histograms(a: Histogram, b: Histogram) -> Histogram:
    counts = dict(a)
    for index, count in b:
        counts[index] = counts.get(index, 0) + count
    return tuple(sorted(counts.items()))


def combine(a: Rollup, b: Rollup, *, key: RollupKey) -> Rollup:
    """``a`` and ``b`` added together under ``key`` (e.g. regions or hours folded into one)."""
    return Rollup(
        site_id=key[0],
        region=key[1],
        start=key[2],
        checks=a.checks + b.checks,
        ok=a.ok + b.ok,
        total_min_us=_opt(min, a.total_min_us, b.total_min_us),
        total_max_us=_opt(max, a.total_max_us, b.total_max_us),
        total_sum_us=a.total_sum_us + b.total_sum_us,
        phase_sums_us=tuple(x + y for x, y in zip(a.phase_sums_us, b.phase_sums_us, strict=True)),
        phase_counts=tuple(x + y for x, y in zip(a.phase_counts, b.phase_counts, strict=True)),
        histogram=_add_histograms(a.histogram, b.histogram),
    )


def combine_all(rollups: Iterable[Rollup], *, key: RollupKey) -> Rollup:
    """All of ``rollups`` added into one under ``key`` (an empty rollup when there are none)."""
    total = Rollup(site_id=key[0], region=key[1], start=key[2])
    for rollup in rollups:
        total = combine(total, rollup, key=key)
    return total


def fold(results: Iterable[CheckResult], period: timedelta = HOUR) -> dict[RollupKey, Rollup]:
    """Results grouped into rollups per site x region x period (each result counted once)."""
    return fold_into({}, results, period)


def fold_into(
    rollups: dict[RollupKey, Rollup], results: Iterable[CheckResult], period: timedelta = HOUR
) -> dict[RollupKey, Rollup]:
    """Add ``results`` to ``rollups`` in place; return it."""
    for result in results:
        single = Rollup.of(result, period)
        current = rollups.get(single.key)
        rollups[single.key] = single if current is None else current.merge(single)
    return rollups


def merge_maps(
    a: Mapping[RollupKey, Rollup], b: Mapping[RollupKey, Rollup]
) -> dict[RollupKey, Rollup]:
    """Two sets of rollups together, key by key."""
    merged = dict(a)
    for key, rollup in b.items():
        merged[key] = rollup if key not in merged else merged[key].merge(rollup)
    return merged


def percentile_ms(histogram: Histogram, q: float) -> float | None:
    """The nearest-rank ``q`` quantile (0 < q ≤ 1) estimated from ``histogram``; None if empty.

    Within ``PERCENTILE_RELATIVE_ERROR`` (< 5 %) of the exact one for times in
    ``[HISTOGRAM_LOW_MS, MAX_MS]``, within ``HISTOGRAM_LOW_MS`` below that.
    """
    total = sum(count for _, count in histogram)
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for index, count in histogram:
        seen += count
        if seen >= rank:
            return bucket_value_ms(index)
    raise AssertionError("unreachable: rank ≤ total")


def uptime_ratio(rollup: Rollup) -> float | None:
    """The share of ok checks, None when there were none."""
    return rollup.ok / rollup.checks if rollup.checks else None


def phase_means_ms(rollup: Rollup) -> dict[str, float | None]:
    """Mean time of each phase over the checks that measured it (None: never measured)."""
    return {
        name: (total / count / 1000.0 if count else None)
        for name, total, count in zip(
            PHASES, rollup.phase_sums_us, rollup.phase_counts, strict=True
        )
    }
