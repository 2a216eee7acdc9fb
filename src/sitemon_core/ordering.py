"""Which of two results of a site is the later one: the rule every repository follows.

Later start time wins; equal start times fall back to the check id, compared by code
point, so the order is total and every adapter agrees on a site's latest result whatever
order the results arrive in (replays, rebalances, two scanners in one microsecond). The
SQL repositories state the same rule as ``(started_at, check_id) > (…)`` with code-point
collation on ``check_id``; the repository contract tests hold them to it.
"""

from __future__ import annotations

from datetime import datetime

from sitemon_core.models import CheckResult


def order_key(result: CheckResult) -> tuple[datetime, str]:
    """The sort key of ``result`` among a site's results: (start time, check id)."""
    return (result.started_at, result.check_id)


def newer(candidate: CheckResult, current: CheckResult | None) -> bool:
    """Whether ``candidate`` should replace ``current`` as a site's latest result."""
    return current is None or order_key(candidate) > order_key(current)
