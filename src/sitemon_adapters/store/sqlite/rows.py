"""CheckResult <-> SQLite row, derived from the stored fields (``store.fields``).

``started_at`` is integer microseconds since the Unix epoch (UTC), so it orders and
compares exactly; booleans go in as Python bools and come back as 0/1 ints; the error
kind is its string value; tags are a JSON array of strings.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sitemon_adapters.store.fields import (
    COLUMN_LIST,
    COLUMNS,
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
    "Row",
    "from_micros",
    "result_to_row",
    "row_to_result",
    "to_micros",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

# The column type of each value type, as the migrations declare it (STRICT tables).
SQL_TYPES = {
    ValueType.ID: "TEXT",
    ValueType.TEXT: "TEXT",
    ValueType.TIME: "INTEGER",
    ValueType.BOOL: "INTEGER",
    ValueType.FLOAT: "REAL",
    ValueType.INT: "INTEGER",
    ValueType.COUNT: "INTEGER",
    ValueType.ERROR_KIND: "TEXT",
    ValueType.TAGS: "TEXT",
}


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


def _tags_to_json(tags: tuple[str, ...]) -> str:
    # ASCII-escaped: any string, lone surrogates included. Most sites have no tags.
    return json.dumps(list(tags)) if tags else "[]"


def _tags_from_json(text: str) -> tuple[str, ...]:
    tags: list[Any] = json.loads(text)
    return tuple(str(tag) for tag in tags)


result_to_row = row_writer(
    {
        ValueType.TIME: to_micros,
        ValueType.ERROR_KIND: lambda kind: kind.value,
        ValueType.TAGS: _tags_to_json,
    }
)
result_to_row.__doc__ = "``result`` as a tuple of column values in ``COLUMNS`` order."

row_to_result = row_reader(
    {
        ValueType.TIME: from_micros,
        ValueType.BOOL: bool,
        ValueType.FLOAT: float,
        ValueType.ERROR_KIND: ErrorKind,
        ValueType.TAGS: _tags_from_json,
    }
)
row_to_result.__doc__ = "The CheckResult stored as ``row`` (values in ``COLUMNS`` order)."
