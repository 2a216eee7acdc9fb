"""The writer generated from a schema writes the bytes fastavro writes, value for value."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import attrs
import fastavro
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sitemon_adapters.codec.avro import (
    CURRENT_SCHEMA_FILE,
    HEADER_LEN,
    AvroCheckResultCodec,
    EncodeError,
    load_schema,
)
from sitemon_adapters.codec.avro_codegen import UnsupportedSchemaError
from sitemon_adapters.codec.avro_writer import compile_writer, int_bytes, long_bytes
from sitemon_core.models import CheckResult
from tests.strategies import check_results

SAMPLE = CheckResult(
    check_id="c1", site_id="s", url="https://s.example/", region="eu",
    started_at=datetime(2026, 1, 1, tzinfo=UTC), ok=True, total_ms=1.5,
)  # fmt: skip

CODEC = AvroCheckResultCodec()
LONGS = st.integers(-(2**63), 2**63 - 1)
INTS = st.integers(-(2**31), 2**31 - 1)
INNER = {"type": "record", "name": "Inner", "fields": [{"name": "y", "type": "long"}]}
SMALL: dict[str, Any] = {
    "type": "record",
    "name": "Small",
    "fields": [
        {"name": "n", "type": "long"},
        {"name": "i", "type": ["null", "int"]},
        {"name": "j", "type": ["int", "null"]},
        {"name": "x", "type": "double"},
        {"name": "ox", "type": ["null", "double"]},
        {"name": "s", "type": "string"},
        {"name": "os", "type": ["null", "string"]},
        {"name": "b", "type": "boolean"},
        {"name": "ob", "type": ["null", "boolean"]},
        {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["a", "b", "c"]}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "otags", "type": ["null", {"type": "array", "items": "long"}]},
        {"name": "inner", "type": INNER},
        {"name": "oinner", "type": ["null", "Inner"]},
    ],
}
# The generator wants named types inline; fastavro wants a name defined once.
WRITE_SMALL = compile_writer(
    {**SMALL, "fields": [*SMALL["fields"][:-1], {"name": "oinner", "type": ["null", INNER]}]}
)
PARSED_SMALL = fastavro.parse_schema(SMALL)
TEXT = st.text(st.characters(exclude_categories=["Cs"]))
inner = st.fixed_dictionaries({"y": LONGS})
small_records = st.fixed_dictionaries(
    {
        "n": LONGS,
        "i": st.none() | INTS,
        "j": st.none() | INTS,
        "x": st.floats(),
        "ox": st.none() | st.floats(allow_nan=False),
        "s": TEXT,
        "os": st.none() | TEXT,
        "b": st.booleans(),
        "ob": st.none() | st.booleans(),
        "e": st.sampled_from(["a", "b", "c"]),
        "tags": st.lists(st.text(max_size=5), max_size=70),
        "otags": st.none() | st.lists(LONGS, max_size=70),
        "inner": inner,
        "oinner": st.none() | inner,
    }
)


def _fastavro(schema: Any, record: Any) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, schema, record)
    return buffer.getvalue()


def _strip(schema: Any) -> Any:
    """``schema`` with logical types replaced by their underlying type."""
    if isinstance(schema, list):
        return [_strip(member) for member in schema]
    if isinstance(schema, dict):
        if "logicalType" in schema:
            return schema["type"]
        return {key: _strip(value) for key, value in schema.items()}
    return schema


def _values(record: dict[str, Any]) -> tuple[Any, ...]:
    def plain(value: Any) -> Any:
        return (value["y"],) if isinstance(value, dict) else value

    return tuple(plain(record[field["name"]]) for field in SMALL["fields"])


@given(small_records)
def test_each_type_is_written_as_fastavro_writes_it(record: dict[str, Any]) -> None:
    assert WRITE_SMALL(_values(record)) == _fastavro(PARSED_SMALL, record)


@given(LONGS)
def test_long_bytes_is_avros_zigzag_varint(value: int) -> None:
    assert long_bytes(value) == _fastavro(fastavro.parse_schema("long"), value)


@pytest.mark.parametrize(
    ("encode", "value"),
    [
        (long_bytes, 2**63),
        (long_bytes, -(2**63) - 1),
        (int_bytes, 2**31),
        (int_bytes, -(2**31) - 1),
    ],
)
def test_a_number_outside_its_type_is_refused(encode: Any, value: int) -> None:
    with pytest.raises(ValueError, match="does not fit"):
        encode(value)


def test_the_prefix_comes_first() -> None:
    schema = {"type": "record", "name": "P", "fields": [{"name": "s", "type": "string"}]}
    assert compile_writer(schema, prefix=b"\xc3\x01")(("é",)) == b"\xc3\x01\x04\xc3\xa9"


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ((None,), AttributeError),  # a string field holding None
        (("z",), KeyError),  # not a symbol of the enum
    ],
)
def test_a_value_of_the_wrong_kind_raises(values: tuple[Any, ...], error: type) -> None:
    field_type = "string" if error is AttributeError else SMALL["fields"][9]["type"]
    schema = {"type": "record", "name": "W", "fields": [{"name": "f", "type": field_type}]}
    with pytest.raises(error):
        compile_writer(schema)(values)


@pytest.mark.parametrize(
    "field_type",
    [
        ["null", "long", "string"],
        ["long", "string"],
        ["null", "null"],
        "bytes",
        "float",
        {"type": "map", "values": "long"},
        {"type": "fixed", "name": "F", "size": 2},
    ],
)
def test_a_type_without_generated_code_is_refused(field_type: Any) -> None:
    with pytest.raises(UnsupportedSchemaError):
        compile_writer(
            {"type": "record", "name": "R", "fields": [{"name": "f", "type": field_type}]}
        )


PLAIN_CURRENT = fastavro.parse_schema(_strip(load_schema(CURRENT_SCHEMA_FILE)))


@given(check_results())
def test_the_codec_writes_the_bytes_fastavro_writes_for_the_same_record(
    result: CheckResult,
) -> None:
    frame = CODEC.encode(result)
    assert frame[:HEADER_LEN] == CODEC.header
    record = fastavro.schemaless_reader(io.BytesIO(frame[HEADER_LEN:]), PLAIN_CURRENT, None)
    assert frame[HEADER_LEN:] == _fastavro(PLAIN_CURRENT, record)


@pytest.mark.parametrize(
    "change",
    [{"tags": ("prod", 7)}, {"error_kind": "timeout"}, {"answers": None}, {"total_ms": "1"}],
)
def test_a_result_that_does_not_fit_is_an_encode_error(change: dict[str, Any]) -> None:
    with attrs.validators.disabled():
        changed = attrs.evolve(SAMPLE, **change)
    with pytest.raises(EncodeError, match="does not fit"):
        CODEC.encode(changed)
