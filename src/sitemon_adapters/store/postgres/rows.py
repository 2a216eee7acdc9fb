"""CheckResult <-> asyncpg record and the staging table, derived from ``store.fields``.

PostgreSQL has ``timestamptz`` with microsecond precision, so datetimes pass through;
text is cleaned of what PostgreSQL cannot store; tags are a ``text[]``. The column order
(which the SQL and the binary COPY depend on) is the shared one.
"""

from __future__ import annotations

from datetime import datetime

from sitemon_adapters.store.fields import (
    COLUMN_LIST,
    COLUMNS,
    FIELDS,
    Row,
    ValueType,
    row_reader,
    row_writer,
)
from sitemon_core.models import ErrorKind

__all__ = [
    "COLUMNS",
    "COLUMN_LIST",
    "SQL_TYPES",
    "Record",
    "clean_text",
    "record_to_result",
    "result_to_record",
    "staging_table_sql",
]

Record = Row

# The column type of each value type, as the migrations declare it.
SQL_TYPES = {
    ValueType.ID: 'text COLLATE "C"',
    ValueType.TEXT: "text",
    ValueType.TIME: "timestamptz",
    ValueType.BOOL: "boolean",
    ValueType.FLOAT: "double precision",
    ValueType.INT: "integer",
    ValueType.COUNT: "bigint",
    ValueType.ERROR_KIND: "text",
    ValueType.TAGS: "text[]",
}

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


def _clean_tags(tags: tuple[str, ...]) -> list[str]:
    return [clean_text(tag) for tag in tags] if tags else []  # most sites have no tags


def staging_table_sql(name: str) -> str:
    """``CREATE TEMP TABLE`` for a session-local table of ``name`` with every stored column,
    emptied by each commit."""
    columns = ", ".join(f"{field.column} {SQL_TYPES[field.type]}" for field in FIELDS)
    return f"CREATE TEMP TABLE IF NOT EXISTS {name} ({columns}) ON COMMIT DELETE ROWS"


result_to_record = row_writer(
    {
        ValueType.ID: clean_text,
        ValueType.TEXT: clean_text,
        ValueType.TIME: _aware,
        ValueType.ERROR_KIND: lambda kind: kind.value,
        ValueType.TAGS: _clean_tags,
    }
)
result_to_record.__doc__ = """``result`` as a tuple in ``COLUMNS`` order, text cleaned by
``clean_text``. Raises ``ValueError`` for a naive ``started_at``."""

record_to_result = row_reader(
    {
        # An unknown kind (written by a newer version) reads as internal, like on the bus.
        ValueType.ERROR_KIND: lambda value: _ERROR_KINDS.get(value, ErrorKind.INTERNAL),
        ValueType.TAGS: tuple,
    }
)
record_to_result.__doc__ = "The CheckResult stored as ``record`` (values in ``COLUMNS`` order)."
