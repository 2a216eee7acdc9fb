"""The response-time part of a check's verdict: ``up | degraded | down``.

Applied once, by the scanner, to every kind's result: a healthy check slower than the
site's ``degraded_after`` is ``degraded`` (reachable, but slow); slower than ``fail_after``
it fails with the outcome ``too_slow``. A check that already failed stays as it was.
"""

from __future__ import annotations

import attrs

from sitemon_core.models import CheckResult, Site

TOO_SLOW = "too_slow"


def judge_response_time(site: Site, result: CheckResult) -> CheckResult:
    """``result`` with the site's response-time thresholds applied (the same object when
    they change nothing, so sites without thresholds cost no copy)."""
    if not result.ok or (site.degraded_after_s is None and site.fail_after_s is None):
        return result
    seconds = result.total_ms / 1000.0
    if site.fail_after_s is not None and seconds > site.fail_after_s:
        return attrs.evolve(
            result,
            ok=False,
            failed_condition=TOO_SLOW,
            error_message=f"took {result.total_ms:.0f} ms, over fail_after {site.fail_after_s}s",
        )
    if site.degraded_after_s is not None and seconds > site.degraded_after_s:
        return attrs.evolve(result, degraded=True)
    return result
