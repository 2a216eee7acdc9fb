"""The stored fields of a ``CheckResult``: one declaration every SQL store derives from.

Each ``StoredField`` names a column, the attribute of ``CheckResult`` it holds (dotted for
the nested phase timings) and the type of its values. The SQLite and PostgreSQL row
mappings, the column lists of their statements and PostgreSQL's staging table are all
built from ``FIELDS``, so a new result field is: the model, the Avro schema, one line
here, one migration per store (tests compare each store's tables with this list).
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from sitemon_core.models import CheckResult, PhaseTimings


class ValueType(enum.Enum):
    """What a column holds; each store maps it to its own SQL type and conversions."""

    ID = "id"  # text compared by code point (ordering and the tie-break use it)
    TEXT = "text"
    TIME = "time"  # a timezone-aware datetime, microsecond precision
    BOOL = "bool"
    FLOAT = "float"  # IEEE double
    INT = "int"  # fits 32 bits
    COUNT = "count"  # fits 64 bits
    ERROR_KIND = "error_kind"  # an ErrorKind
    TAGS = "tags"  # a tuple of strings


@attrs.frozen
class StoredField:
    """One column: its name, the ``CheckResult`` attribute it holds, its value type.

    ``derived`` columns are written for SQL readers but not read back: the model computes
    them from the other fields (``outcome``).
    """

    column: str
    attribute: str
    type: ValueType
    nullable: bool = False
    derived: bool = False


_T = ValueType
FIELDS: tuple[StoredField, ...] = (
    StoredField("check_id", "check_id", _T.ID),
    StoredField("site_id", "site_id", _T.ID),
    StoredField("url", "url", _T.TEXT),
    StoredField("region", "region", _T.TEXT),
    StoredField("started_at", "started_at", _T.TIME),
    StoredField("ok", "ok", _T.BOOL),
    StoredField("total_ms", "total_ms", _T.FLOAT),
    StoredField("status_code", "status_code", _T.INT, nullable=True),
    StoredField("dns_ms", "timings.dns_ms", _T.FLOAT, nullable=True),
    StoredField("connect_ms", "timings.connect_ms", _T.FLOAT, nullable=True),
    StoredField("tls_ms", "timings.tls_ms", _T.FLOAT, nullable=True),
    StoredField("ttfb_ms", "timings.ttfb_ms", _T.FLOAT, nullable=True),
    StoredField("transfer_ms", "timings.transfer_ms", _T.FLOAT, nullable=True),
    StoredField("regex_matched", "regex_matched", _T.BOOL, nullable=True),
    StoredField("bytes_read", "bytes_read", _T.COUNT),
    StoredField("final_url", "final_url", _T.TEXT, nullable=True),
    StoredField("error_kind", "error_kind", _T.ERROR_KIND),
    StoredField("error_message", "error_message", _T.TEXT),
    # Schema 2 (SQLite 3): what the log line says (up, bad_status, regex_miss, timeout...),
    # for SQL readers; and the site's tags.
    StoredField("outcome", "outcome", _T.TEXT, nullable=True, derived=True),
    StoredField("tags", "tags", _T.TAGS),
    # Schema 3 (SQLite 4, PostgreSQL 0005): the certificate of TLS checks, a body judged
    # on its first max_body_bytes, the degraded verdict, the condition that failed, and
    # what a DNS check resolved.
    StoredField("tls_not_after", "tls_not_after", _T.TIME, nullable=True),
    StoredField("tls_version", "tls_version", _T.TEXT, nullable=True),
    StoredField("tls_issuer", "tls_issuer", _T.TEXT, nullable=True),
    StoredField("body_truncated", "body_truncated", _T.BOOL),
    StoredField("degraded", "degraded", _T.BOOL),
    StoredField("failed_condition", "failed_condition", _T.TEXT, nullable=True),
    StoredField("answers", "answers", _T.TAGS),
)

COLUMNS: tuple[str, ...] = tuple(field.column for field in FIELDS)
COLUMN_LIST = ", ".join(COLUMNS)

Row = tuple[Any, ...]
# Per value type, how a store turns a model value into a column value or back; types
# without an entry pass through as they are, and so does None in a nullable column.
Conversions = Mapping[ValueType, Callable[[Any], Any]]

# Nested attributes of CheckResult, by the name of the attribute holding them.
_NESTED: dict[str, Callable[..., Any]] = {"timings": PhaseTimings}


def row_writer(conversions: Conversions) -> Callable[[CheckResult], Row]:
    """A function making a row (values in ``COLUMNS`` order) of a result.

    The function is generated as straight-line code (as attrs and dataclasses generate
    theirs): it runs once per saved result, and a loop over the fields measured ~2x the
    cost of the hand-written mapping it replaces.
    """
    namespace: dict[str, Any] = {
        "read_all": operator.attrgetter(*(field.attribute for field in FIELDS))
    }
    values = []
    for index, field in enumerate(FIELDS):
        value = f"v[{index}]"
        convert = conversions.get(field.type)
        if convert is not None:
            namespace[f"convert_{index}"] = convert
            call = f"convert_{index}({value})"
            value = f"(None if {value} is None else {call})" if field.nullable else call
        values.append(value)
    source = f"def to_row(result):\n    v = read_all(result)\n    return ({', '.join(values)},)\n"
    exec(source, namespace)  # built above from the declaration only, no outside input
    to_row: Callable[[CheckResult], Row] = namespace["to_row"]
    return to_row


def row_reader(conversions: Conversions) -> Callable[[Sequence[Any]], CheckResult]:
    """A function making the result stored as a row (values in ``COLUMNS`` order)."""
    plan = [
        (index, field.attribute.rpartition("."), conversions.get(field.type))
        for index, field in enumerate(FIELDS)
        if not field.derived
    ]

    def to_result(row: Sequence[Any]) -> CheckResult:
        top: dict[str, Any] = {}
        nested: dict[str, dict[str, Any]] = {owner: {} for owner in _NESTED}
        for index, (owner, _, name), convert in plan:
            value = row[index]
            if value is not None and convert is not None:
                value = convert(value)
            (nested[owner] if owner else top)[name] = value
        for owner, make in _NESTED.items():
            top[owner] = make(**nested[owner])
        return CheckResult(**top)

    return to_result
