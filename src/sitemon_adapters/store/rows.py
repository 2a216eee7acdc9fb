"""CheckResult <-> a flat table row, shared by the SQL repositories (SQLite, PostgreSQL).

A row is a tuple in ``COLUMNS`` order: the five phase timings are flattened into their
own columns, ``started_at`` is integer microseconds since the Unix epoch (UTC) so it
orders and compares exactly in any database, booleans are Python bools (SQLite stores
them as 0/1 and gives back ints, which ``row_to_result`` accepts) and the error kind is
its string value.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sitemon_core.models import CheckResult, ErrorKind, PhaseTimings

COLUMNS: tuple[str, ...] = (
    "check_id",
    "site_id",
    "url",
    "region",
    "started_at",
    "ok",
    "total_ms",
    "status_code",
    "dns_ms",
    "connect_ms",
    "tls_ms",
    "ttfb_ms",
    "transfer_ms",
    "regex_matched",
    "bytes_read",
    "final_url",
    "error_kind",
    "error_message",
)

Row = tuple[Any, ...]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_micros(moment: datetime) -> int:
    """``moment`` as integer microseconds since the Unix epoch.

    Raises ``ValueError`` for a naive datetime: its instant is unknown.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()} has no defined instant")
    return (moment - _EPOCH) // _MICROSECOND


def from_micros(micros: int) -> datetime:
    """The UTC datetime ``micros`` microseconds after the Unix epoch."""
    return _EPOCH + timedelta(microseconds=micros)


def result_to_row(result: CheckResult) -> Row:
    """``result`` as a tuple of column values in ``COLUMNS`` order."""
    timings = result.timings
    return (
        result.check_id,
        result.site_id,
        result.url,
        result.region,
        to_micros(result.started_at),
        result.ok,
        result.total_ms,
        result.status_code,
        timings.dns_ms,
        timings.connect_ms,
        timings.tls_ms,
        timings.ttfb_ms,
        timings.transfer_ms,
        result.regex_matched,
        result.bytes_read,
        result.final_url,
        result.error_kind.value,
        result.error_message,
    )


def row_to_result(row: Sequence[Any]) -> CheckResult:
    """The CheckResult stored as ``row`` (values in ``COLUMNS`` order)."""
    (
        check_id, site_id, url, region, started_at, ok, total_ms, status_code,
        dns_ms, connect_ms, tls_ms, ttfb_ms, transfer_ms,
        regex_matched, bytes_read, final_url, error_kind, error_message,
    ) = row  # fmt: skip
    return CheckResult(
        check_id=check_id,
        site_id=site_id,
        url=url,
        region=region,
        started_at=from_micros(started_at),
        ok=bool(ok),
        total_ms=float(total_ms),
        status_code=status_code,
        timings=PhaseTimings(
            dns_ms=dns_ms,
            connect_ms=connect_ms,
            tls_ms=tls_ms,
            ttfb_ms=ttfb_ms,
            transfer_ms=transfer_ms,
        ),
        regex_matched=None if regex_matched is None else bool(regex_matched),
        bytes_read=bytes_read,
        final_url=final_url,
        error_kind=ErrorKind(error_kind),
        error_message=error_message,
    )
