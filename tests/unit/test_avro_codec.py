"""The Avro codec: round trips, the standard wire format, schema evolution, bad input."""

from __future__ import annotations

import contextlib
import io
from datetime import UTC, datetime
from typing import Any

import attrs
import avro.io
import avro.schema
import fastavro
import pytest
from fastavro.schema import to_parsing_canonical_form
from hypothesis import given, settings
from hypothesis import strategies as st

from sitemon_adapters.codec.avro import (
    CURRENT_SCHEMA_FILE,
    FIRST_SCHEMA_FILE,
    HEADER_LEN,
    MAGIC,
    PREVIOUS_SCHEMA_FILE,
    AvroCheckResultCodec,
    DecodeError,
    EncodeError,
    load_schema,
    schema_fingerprint,
)
from sitemon_core.models import CheckResult, ErrorKind, PhaseTimings
from tests.strategies import ANY_CHARACTERS, check_results

CODEC = AvroCheckResultCodec()

# The first version of the schema: no phase timings, no final URL, and an ErrorKind enum
# that did not know about body_too_large yet.
SCHEMA_V0: dict[str, Any] = {
    "type": "record",
    "name": "CheckResult",
    "namespace": "io.sitemon",
    "fields": [
        {"name": "check_id", "type": "string"},
        {"name": "site_id", "type": "string"},
        {"name": "url", "type": "string"},
        {"name": "region", "type": "string"},
        {"name": "started_at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "ok", "type": "boolean"},
        {"name": "total_ms", "type": "double"},
        {"name": "status_code", "type": ["null", "int"], "default": None},
        {"name": "regex_matched", "type": ["null", "boolean"], "default": None},
        {"name": "bytes_read", "type": "long", "default": 0},
        {
            "name": "error_kind",
            "type": {
                "type": "enum",
                "name": "ErrorKind",
                "symbols": [
                    "none",
                    "dns",
                    "connect",
                    "timeout",
                    "tls",
                    "protocol",
                    "too_many_redirects",
                    "internal",
                ],
            },
        },
        {"name": "error_message", "type": "string", "default": ""},
    ],
}

SAMPLE = CheckResult(
    check_id="0" * 32,
    site_id="example",
    url="https://example.com/",
    region="eu-west-1",
    started_at=datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC),
    ok=True,
    total_ms=123.5,
    status_code=200,
    timings=PhaseTimings(dns_ms=1.5, connect_ms=2.0, tls_ms=None, ttfb_ms=50.25, transfer_ms=3.0),
    regex_matched=True,
    bytes_read=5120,
    final_url="https://example.com/home",
)


def _v0_frame(record: dict[str, Any]) -> bytes:
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(SCHEMA_V0), record)
    return b"\xc3\x01" + schema_fingerprint(SCHEMA_V0) + body.getvalue()


@given(check_results(alphabet=ANY_CHARACTERS))
def test_decode_inverts_encode(result: CheckResult) -> None:
    assert CODEC.decode(CODEC.encode(result)) == result


@given(check_results(alphabet=ANY_CHARACTERS))
@settings(max_examples=50)
def test_reference_library_reads_the_body_with_the_published_schema(result: CheckResult) -> None:
    frame = CODEC.encode(result)
    schema = avro.schema.parse(CURRENT_SCHEMA_FILE.read_text(encoding="utf-8"))
    reader = avro.io.DatumReader(schema)
    record = reader.read(avro.io.BinaryDecoder(io.BytesIO(frame[HEADER_LEN:])))

    t = result.timings
    assert record == {
        "check_id": result.check_id,
        "site_id": result.site_id,
        "url": result.url,
        "region": result.region,
        "started_at": result.started_at,
        "ok": result.ok,
        "total_ms": result.total_ms,
        "status_code": result.status_code,
        "timings": {
            "dns_ms": t.dns_ms,
            "connect_ms": t.connect_ms,
            "tls_ms": t.tls_ms,
            "ttfb_ms": t.ttfb_ms,
            "transfer_ms": t.transfer_ms,
        },
        "regex_matched": result.regex_matched,
        "bytes_read": result.bytes_read,
        "final_url": result.final_url,
        "error_kind": result.error_kind.value,
        "error_message": result.error_message,
        "outcome": result.outcome,
        "tags": list(result.tags),
        **_v3_fields(result),
    }


def _v3_fields(result: CheckResult) -> dict[str, Any]:
    """The fields schema 3 added, as the Apache library reads them."""
    return {
        "tls_not_after": result.tls_not_after,
        "tls_version": result.tls_version,
        "tls_issuer": result.tls_issuer,
        "body_truncated": result.body_truncated,
        "degraded": result.degraded,
        "failed_condition": result.failed_condition,
        "answers": list(result.answers),
    }


V3_DEFAULTS: dict[str, Any] = {
    "tls_not_after": None,
    "tls_version": None,
    "tls_issuer": None,
    "body_truncated": False,
    "degraded": False,
    "failed_condition": None,
    "answers": [],
}


# --- schema evolution: version 1 (the previous release) <-> version 2 (outcome, tags) ---

SCHEMA_V1 = avro.schema.parse(FIRST_SCHEMA_FILE.read_text(encoding="utf-8"))
SCHEMA_V2 = avro.schema.parse(PREVIOUS_SCHEMA_FILE.read_text(encoding="utf-8"))
SCHEMA_V3 = avro.schema.parse(CURRENT_SCHEMA_FILE.read_text(encoding="utf-8"))


def _added(old_file: Any, new_file: Any) -> list[tuple[str, Any]]:
    old, new = load_schema(old_file), load_schema(new_file)
    # Everything older is unchanged; what is new comes after it, each with a default.
    assert new["fields"][: len(old["fields"])] == old["fields"]
    return [(f["name"], f["default"]) for f in new["fields"][len(old["fields"]) :]]


def test_version_2_adds_outcome_and_tags_with_defaults_and_nothing_else() -> None:
    assert _added(FIRST_SCHEMA_FILE, PREVIOUS_SCHEMA_FILE) == [("outcome", None), ("tags", [])]


def test_version_3_adds_tls_truncation_verdict_and_answers_with_defaults() -> None:
    assert _added(PREVIOUS_SCHEMA_FILE, CURRENT_SCHEMA_FILE) == list(V3_DEFAULTS.items())


@given(check_results(alphabet=ANY_CHARACTERS))
@settings(max_examples=50)
def test_a_reader_on_version_1_reads_current_records(result: CheckResult) -> None:
    # The Apache library is the judge: schema resolution as the specification defines it.
    body = io.BytesIO(CODEC.encode(result)[HEADER_LEN:])
    reader = avro.io.DatumReader(writers_schema=SCHEMA_V3, readers_schema=SCHEMA_V1)
    record = reader.read(avro.io.BinaryDecoder(body))
    assert record == {**_as_record(result), "started_at": result.started_at}
    assert "outcome" not in record and "tags" not in record


@given(check_results(alphabet=ANY_CHARACTERS))
@settings(max_examples=50)
def test_a_reader_on_version_2_reads_version_3_records(result: CheckResult) -> None:
    body = io.BytesIO(CODEC.encode(result)[HEADER_LEN:])
    reader = avro.io.DatumReader(writers_schema=SCHEMA_V3, readers_schema=SCHEMA_V2)
    record = reader.read(avro.io.BinaryDecoder(body))
    expected = {**_as_record(result), "outcome": result.outcome, "tags": list(result.tags)}
    assert record == expected
    assert not set(V3_DEFAULTS) & set(record)


@given(check_results(alphabet=ANY_CHARACTERS))
@settings(max_examples=50)
def test_a_reader_on_version_3_reads_version_1_records(result: CheckResult) -> None:
    body = io.BytesIO()
    avro.io.DatumWriter(SCHEMA_V1).write(_as_record(result), avro.io.BinaryEncoder(body))
    reader = avro.io.DatumReader(writers_schema=SCHEMA_V1, readers_schema=SCHEMA_V3)
    record = reader.read(avro.io.BinaryDecoder(io.BytesIO(body.getvalue())))
    assert record == {**_as_record(result), "outcome": None, "tags": [], **V3_DEFAULTS}
    # ... and so does the codec, finding version 1 by its fingerprint in the frame.
    frame = MAGIC + schema_fingerprint(load_schema(FIRST_SCHEMA_FILE)) + body.getvalue()
    assert CODEC.decode(frame) == attrs.evolve(result, tags=(), **_V3_MODEL_DEFAULTS)


_V3_MODEL_DEFAULTS: dict[str, Any] = {**V3_DEFAULTS, "answers": ()}


@given(check_results(alphabet=ANY_CHARACTERS))
@settings(max_examples=50)
def test_a_reader_on_version_3_reads_version_2_records(result: CheckResult) -> None:
    body = io.BytesIO()
    v2_record = {**_as_record(result), "outcome": result.outcome, "tags": list(result.tags)}
    avro.io.DatumWriter(SCHEMA_V2).write(v2_record, avro.io.BinaryEncoder(body))
    reader = avro.io.DatumReader(writers_schema=SCHEMA_V2, readers_schema=SCHEMA_V3)
    record = reader.read(avro.io.BinaryDecoder(io.BytesIO(body.getvalue())))
    assert record == {**v2_record, **V3_DEFAULTS}
    # ... and the codec, by the fingerprint of version 2 in the frame.
    frame = MAGIC + schema_fingerprint(load_schema(PREVIOUS_SCHEMA_FILE)) + body.getvalue()
    assert CODEC.decode(frame) == attrs.evolve(result, **_V3_MODEL_DEFAULTS)


def test_frame_is_marker_then_little_endian_crc64_fingerprint() -> None:
    frame = CODEC.encode(SAMPLE)
    canonical = to_parsing_canonical_form(load_schema())
    # The Apache library computes CRC-64-AVRO independently; it is given the canonical
    # form itself because its own canonical form keeps {"type": "long"} for logical
    # types, which the specification (and Java, and fastavro) reduce to "long".
    reference = avro.schema.parse(canonical).fingerprint("CRC-64-AVRO")
    assert frame[:2] == b"\xc3\x01"
    assert frame[2:HEADER_LEN] == reference == CODEC.header[2:]


def test_fingerprint_matches_the_specification_example() -> None:
    # The specification's CRC-64-AVRO of the schema "null" is 0x63dd24e7cc258f8a; the
    # single-object encoding stores it little-endian.
    assert schema_fingerprint("null") == (0x63DD24E7CC258F8A).to_bytes(8, "little")


def test_every_error_kind_has_a_schema_symbol_and_unknown_symbols_read_as_internal() -> None:
    enum_schema = next(f["type"] for f in load_schema()["fields"] if f["name"] == "error_kind")
    assert enum_schema["symbols"] == [kind.value for kind in ErrorKind]
    assert enum_schema["default"] == ErrorKind.INTERNAL.value


def test_a_record_of_an_older_schema_decodes_with_defaults() -> None:
    frame = _v0_frame(
        {
            "check_id": "c1",
            "site_id": "s1",
            "url": "https://a.example/",
            "region": "r",
            "started_at": SAMPLE.started_at,
            "ok": False,
            "total_ms": 10.0,
            "status_code": 503,
            "regex_matched": None,
            "bytes_read": 12,
            "error_kind": "none",
            "error_message": "",
        }
    )
    with pytest.raises(DecodeError, match="unknown schema fingerprint"):
        CODEC.decode(frame)

    decoded = AvroCheckResultCodec(writer_schemas=[SCHEMA_V0]).decode(frame)

    assert decoded == CheckResult(
        check_id="c1",
        site_id="s1",
        url="https://a.example/",
        region="r",
        started_at=SAMPLE.started_at,
        ok=False,
        total_ms=10.0,
        status_code=503,
        timings=PhaseTimings(),
        regex_matched=None,
        bytes_read=12,
        final_url=None,
        error_kind=ErrorKind.NONE,
        error_message="",
    )


def test_a_symbol_unknown_to_the_reader_becomes_internal() -> None:
    newer = load_schema()
    kind = next(f for f in newer["fields"] if f["name"] == "error_kind")
    kind["type"]["symbols"] = [*kind["type"]["symbols"], "quantum_decoherence"]
    body = io.BytesIO()
    record = {**_as_record(SAMPLE), "error_kind": "quantum_decoherence"}
    fastavro.schemaless_writer(body, fastavro.parse_schema(newer), record)
    frame = b"\xc3\x01" + schema_fingerprint(newer) + body.getvalue()

    decoded = AvroCheckResultCodec(writer_schemas=[newer]).decode(frame)

    assert decoded.error_kind is ErrorKind.INTERNAL


def test_a_writer_schema_that_cannot_resolve_is_a_decode_error() -> None:
    # check_id has no default in the reader, so a writer without it cannot be resolved.
    incompatible = {**SCHEMA_V0, "fields": SCHEMA_V0["fields"][1:]}
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(incompatible), _as_record(SAMPLE))
    frame = b"\xc3\x01" + schema_fingerprint(incompatible) + body.getvalue()

    with pytest.raises(DecodeError, match="does not resolve"):
        AvroCheckResultCodec(writer_schemas=[incompatible]).decode(frame)


def _as_record(result: CheckResult) -> dict[str, Any]:
    t = result.timings
    return {
        **{
            name: getattr(result, name)
            for name in (
                "check_id",
                "site_id",
                "url",
                "region",
                "started_at",
                "ok",
                "total_ms",
                "status_code",
                "regex_matched",
                "bytes_read",
                "final_url",
                "error_message",
            )
        },
        "timings": {
            "dns_ms": t.dns_ms,
            "connect_ms": t.connect_ms,
            "tls_ms": t.tls_ms,
            "ttfb_ms": t.ttfb_ms,
            "transfer_ms": t.transfer_ms,
        },
        "error_kind": result.error_kind.value,
    }


@pytest.mark.parametrize(
    "change",
    [
        {"started_at": datetime(2026, 1, 1)},  # naive: its instant is unknown
        {"status_code": 2**40},  # beyond Avro's 32-bit int
        {"bytes_read": 2**64},  # beyond Avro's 64-bit long
    ],
)
def test_a_value_outside_the_schema_is_an_encode_error(change: dict[str, Any]) -> None:
    with attrs.validators.disabled():  # the model refuses naive times; the codec must too
        changed = attrs.evolve(SAMPLE, **change)
    with pytest.raises(EncodeError):
        CODEC.encode(changed)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "bad marker"),
        (b"\xc3", "bad marker"),
        (b"\xc3\x02" + CODEC.header[2:] + b"x", "bad marker"),
        (b"\xc3\x01" + b"\x00" * 8, "unknown schema fingerprint 0000000000000000"),
        (b"\xc3\x01\x01\x02", "unknown schema fingerprint 0102"),
        (CODEC.header, "truncated or corrupt record"),
        (CODEC.encode(SAMPLE)[:-1], "truncated or corrupt record"),
        (CODEC.encode(SAMPLE) + b"\x00", "truncated or corrupt record: trailing bytes"),
    ],
)
def test_malformed_frames_are_decode_errors_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as caught:
        CODEC.decode(data)
    assert caught.value.reason.startswith(reason)


@given(st.binary(max_size=300))
def test_random_bytes_are_never_anything_but_a_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        CODEC.decode(data)


@given(st.binary(max_size=300))
def test_random_bodies_after_a_valid_header_are_decode_errors_or_results(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        assert isinstance(CODEC.decode(CODEC.header + data), CheckResult)


@given(check_results(), st.data())
def test_every_truncation_of_a_valid_frame_is_a_decode_error(
    result: CheckResult, data: st.DataObject
) -> None:
    frame = CODEC.encode(result)
    cut = data.draw(st.integers(0, len(frame) - 1))
    with pytest.raises(DecodeError):
        CODEC.decode(frame[:cut])
