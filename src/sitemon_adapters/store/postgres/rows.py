"""CheckResult <-> asyncpg record, for PostgreSQL's native types.

The shared ``sitemon_adapters.store.rows`` stores ``started_at`` as integer microseconds (for
SQLite); PostgreSQL has ``timestamptz`` with the same microsecond precision, so this
module passes datetimes through; the column order (which the SQL and the binary COPY
depend on) is the shared one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sitemon_adapters.store.rows import COLUMNS
from sitemon_core.models import CheckResult, ErrorKind, PhaseTimings

COLUMN_LIST = ", ".join(COLUMNS)

Record = tuple[Any, ...]

_ERROR_KINDS = {kind.value: kind for kind in ErrorKind}


def clean_text(value: str) -> str:
    """``value`` made storable in a PostgreSQL text column.

    PostgreSQL rejects NUL characters in text and asyncpg cannot encode lone surrogates
    as UTF-8. Either would fail the whole batch on every redelivery, so one odd response
    could block persistence forever: NULs are dropped and surrogates replaced by ``?``.
    """
    if value.isascii():  # fast path: almost every value
        return value.replace("\x00", "") if "\x00" in value else value
    value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        # asyncpg would read a naive datetime as local time: refuse to guess the instant.
        raise ValueError(f"naive datetime {moment.isoformat()} has no defined instant")
    return moment


def result_to_record(result: CheckResult) -> Record:
    """``result`` as a tuple in ``COLUMNS`` order, text cleaned by ``clean_text``.

    Raises ``ValueError`` for a naive ``started_at``.
    """
    timings = result.timings
    final_url = result.final_url
    return (
        clean_text(result.check_id),
        clean_text(result.site_id),
        clean_text(result.url),
        clean_text(result.region),
        _aware(result.started_at),
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
        None if final_url is None else clean_text(final_url),
        result.error_kind.value,
        clean_text(result.error_message),
    )


def record_to_result(record: Sequence[Any]) -> CheckResult:
    """The CheckResult stored as ``record`` (values in ``COLUMNS`` order)."""
    (
        check_id, site_id, url, region, started_at, ok, total_ms, status_code,
        dns_ms, connect_ms, tls_ms, ttfb_ms, transfer_ms,
        regex_matched, bytes_read, final_url, error_kind, error_message,
    ) = record  # fmt: skip
    return CheckResult(
        check_id=check_id,
        site_id=site_id,
        url=url,
        region=region,
        started_at=started_at,
        ok=ok,
        total_ms=total_ms,
        status_code=status_code,
        timings=PhaseTimings(
            dns_ms=dns_ms,
            connect_ms=connect_ms,
            tls_ms=tls_ms,
            ttfb_ms=ttfb_ms,
            transfer_ms=transfer_ms,
        ),
        regex_matched=regex_matched,
        bytes_read=bytes_read,
        final_url=final_url,
        # An unknown kind (written by a newer version) reads as internal, like on the bus.
        error_kind=_ERROR_KINDS.get(error_kind, ErrorKind.INTERNAL),
        error_message=error_message,
    )
