"""What the monitor shows while it runs: log lines about checks, and the status table.

Which checks get a line at INFO is ``logging.checks``: ``changes`` (the default) logs a
site's first check and every check whose outcome differs from the site's previous one, the
rest at DEBUG; ``all`` logs every check at INFO; ``none`` logs no check at all. At 100,000
sites a minute a line per check is 1,667 lines a second, a firehose nobody reads and a
measurable share of the scanner's CPU (BENCHMARKS.md); a state change is what a person
watching the log wants to see.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sitemon_core.models import CheckResult, SiteStatus

check_log = logging.getLogger("sitemon.check")


CHECK_LOGGING = ("all", "changes", "none")


def check_logger(mode: str) -> Callable[[CheckResult, float], None] | None:
    """The observer that logs checks as ``logging.checks`` says (``None`` for ``none``)."""
    if mode == "all":
        return log_check
    if mode == "changes":
        return ChangeLog().observe
    if mode == "none":
        return None
    raise ValueError(f"logging.checks must be one of {CHECK_LOGGING}, not {mode!r}")


class ChangeLog:
    """Logs a check at INFO when its site's outcome changed (or it is the site's first),
    at DEBUG otherwise; remembers one outcome per site."""

    def __init__(self) -> None:
        self._last: dict[str, str] = {}

    def observe(self, result: CheckResult, lag_s: float) -> None:
        """Log ``result`` at the level its change (or not) deserves."""
        outcome = result.outcome
        if self._last.get(result.site_id) != outcome:
            self._last[result.site_id] = outcome
            log_check(result, lag_s)
        elif check_log.isEnabledFor(logging.DEBUG):
            log_check(result, lag_s, logging.DEBUG)


def log_check(result: CheckResult, lag_s: float, level: int = logging.INFO) -> None:
    """Log one check: a readable line for people, every field for JSON pipelines."""
    status = result.status_code if result.status_code is not None else "-"
    line = f"{result.outcome:<18} {status!s:>3} {result.total_ms:8.1f}ms  {result.site_id}"
    if result.error_message:
        line += f"  ({result.error_message})"
    check_log.log(
        level,
        line,
        extra={
            "_compact": True,
            "site_id": result.site_id,
            "check_id": result.check_id,
            "outcome": result.outcome,
            "ok": result.ok,
            "status_code": result.status_code,
            "total_ms": round(result.total_ms, 2),
            "error_kind": result.error_kind.value,
            "start_lag_ms": round(lag_s * 1000, 1),
        },
    )


def format_status_table(statuses: Sequence[SiteStatus], now: datetime | None = None) -> str:
    """The latest status of every site as an aligned text table."""
    now = now or datetime.now(UTC)
    header = ("SITE", "OUTCOME", "CODE", "TIME", "CHECKED", "CERT", "ERROR")
    rows = [header] + [_row(s.latest, now) for s in statuses]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]
        for r in rows
    ]
    if not statuses:
        lines.append("(no results yet)")
    return "\n".join(line.rstrip() for line in lines)


def _row(r: CheckResult, now: datetime) -> tuple[str, str, str, str, str, str, str]:
    age = max(0.0, (now - r.started_at).total_seconds())
    return (
        r.site_id,
        r.outcome.upper(),
        str(r.status_code) if r.status_code is not None else "-",
        f"{r.total_ms:.0f}ms",
        f"{age:.0f}s ago",
        _days_left(r, now),
        r.error_message,
    )


def _days_left(r: CheckResult, now: datetime) -> str:
    """Whole days until the certificate expires (``14d``; ``-3d``: expired 3 days ago)."""
    if r.tls_not_after is None:
        return "-"
    return f"{math.floor((r.tls_not_after - now).total_seconds() / 86400)}d"
