"""The reader generated from a schema reads what fastavro reads, value for value."""

from __future__ import annotations

import io
from typing import Any

import fastavro
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sitemon_adapters.codec.avro import AvroCheckResultCodec, DecodeError
from sitemon_adapters.codec.avro_reader import UnsupportedSchemaError, compile_reader, read_long
from sitemon_core.models import CheckResult
from tests.strategies import check_results

CODEC = AvroCheckResultCodec()

SMALL: dict[str, Any] = {
    "type": "record",
    "name": "Small",
    "fields": [
        {"name": "n", "type": "long"},
        {"name": "i", "type": ["null", "int"]},
        {"name": "x", "type": "double"},
        {"name": "s", "type": "string"},
        {"name": "b", "type": "boolean"},
        {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["a", "b", "c"]}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {
            "name": "inner",
            "type": {"type": "record", "name": "Inner", "fields": [{"name": "y", "type": "long"}]},
        },
    ],
}
SMALL_ARRAY = {"type": "array", "items": "string"}
READ_SMALL = compile_reader(SMALL)
PARSED_SMALL = fastavro.parse_schema(SMALL)

small_records = st.fixed_dictionaries(
    {
        "n": st.integers(-(2**63), 2**63 - 1),
        "i": st.none() | st.integers(-(2**31), 2**31 - 1),
        "x": st.floats(allow_nan=False),
        "s": st.text(st.characters(exclude_categories=["Cs"])),
        "b": st.booleans(),
        "e": st.sampled_from(["a", "b", "c"]),
        "tags": st.lists(st.text(max_size=5), max_size=70),
        "inner": st.fixed_dictionaries({"y": st.integers(-(2**63), 2**63 - 1)}),
    }
)


def _write(record: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, PARSED_SMALL, record)
    return buffer.getvalue()


@given(small_records)
def test_each_type_reads_back_what_fastavro_wrote(record: dict[str, Any]) -> None:
    data = _write(record)
    values, end = READ_SMALL(data, 0)
    assert end == len(data)
    expected = {**record, "tags": tuple(record["tags"]), "inner": (record["inner"]["y"],)}
    assert dict(zip([f["name"] for f in SMALL["fields"]], values, strict=True)) == expected


@given(st.integers(-(2**63), 2**63 - 1))
def test_read_long_inverts_the_zigzag_varint(value: int) -> None:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, fastavro.parse_schema("long"), value)
    assert read_long(buffer.getvalue(), 0) == (value, len(buffer.getvalue()))


def test_an_array_block_with_a_byte_size_is_read() -> None:
    # count -2 (zigzag 3), then the block's size in bytes (4: zigzag 8), two strings, end.
    schema = {"type": "record", "name": "A", "fields": [{"name": "a", "type": SMALL_ARRAY}]}
    data = b"\x03\x08\x02x\x02y\x00"
    assert compile_reader(schema)(data, 0) == ((("x", "y"),), len(data))
    assert fastavro.schemaless_reader(io.BytesIO(data), fastavro.parse_schema(schema), None) == {
        "a": ["x", "y"]
    }


@pytest.mark.parametrize(
    "field_type",
    [
        ["null", *({"type": "enum", "name": f"E{n}", "symbols": ["a"]} for n in range(64))],
        "bytes",
        "float",
        {"type": "map", "values": "long"},
        {"type": "fixed", "name": "F", "size": 2},
    ],
)
def test_a_type_without_generated_code_is_refused(field_type: Any) -> None:
    with pytest.raises(UnsupportedSchemaError):
        compile_reader(
            {"type": "record", "name": "R", "fields": [{"name": "f", "type": field_type}]}
        )


@given(check_results())
def test_the_current_schema_decodes_as_fastavro_decodes_it(result: CheckResult) -> None:
    frame = CODEC.encode(result)
    assert CODEC.decode(frame) == CODEC.decode_generic(frame) == result


@given(check_results(), st.data())
def test_a_damaged_frame_the_generated_reader_accepts_fastavro_reads_alike(
    result: CheckResult, data: st.DataObject
) -> None:
    frame = bytearray(CODEC.encode(result))
    at = data.draw(st.integers(10, len(frame) - 1))
    frame[at] = data.draw(st.integers(0, 255))
    try:
        decoded = CODEC.decode(bytes(frame))
    except DecodeError:
        return  # the generated reader may be stricter than fastavro, never looser
    assert CODEC.decode_generic(bytes(frame)) == decoded


@given(check_results())
def test_a_memoryview_frame_decodes_like_bytes(result: CheckResult) -> None:
    frame = CODEC.encode(result)
    assert CODEC.decode(memoryview(frame)) == result  # type: ignore[arg-type]


def test_a_union_index_in_a_longer_encoding_than_needed_is_refused() -> None:
    schema = {"type": "record", "name": "U", "fields": [{"name": "u", "type": ["null", "long"]}]}
    canonical, padded = b"\x02\x06", b"\x82\x00\x06"  # index 1 (zigzag 2), then 3
    assert compile_reader(schema)(canonical, 0) == ((3,), 2)
    with pytest.raises(ValueError, match="union index"):
        compile_reader(schema)(padded, 0)
