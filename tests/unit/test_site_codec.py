"""The catalogue's Avro codec: round trips, the standard frame, growing the spec union."""

from __future__ import annotations

import contextlib
import copy
import io
from typing import Any

import avro.io
import avro.schema
import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitemon_adapters.codec.avro import (
    HEADER_LEN,
    MAGIC,
    DecodeError,
    load_schema,
    schema_fingerprint,
)
from sitemon_adapters.codec.site_avro import SITE_SCHEMA_FILE, AvroSiteCodec
from sitemon_core.models import Site
from tests.strategies import sites

CODEC = AvroSiteCodec()
SCHEMA_V1 = load_schema(SITE_SCHEMA_FILE)
SAMPLE = Site.http(
    id="shop",
    url="https://shop.example/health",
    interval_s=30,
    timeout_s=5,
    tags=frozenset({"prod", "eu"}),
    headers={"Accept": "text/html"},
    regex="ok",
)


def _grown_schema() -> dict[str, Any]:
    """What a later release may publish: a TCP branch appended, an HTTP field with a default."""
    schema = copy.deepcopy(SCHEMA_V1)
    spec = next(f for f in schema["fields"] if f["name"] == "spec")
    spec["type"][0]["fields"].append({"name": "body", "type": ["null", "string"], "default": None})
    spec["type"].append(
        {
            "type": "record",
            "name": "TcpSpec",
            "fields": [{"name": "host", "type": "string"}, {"name": "port", "type": "int"}],
        }
    )
    return schema


def _frame(schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(schema), record)
    return MAGIC + schema_fingerprint(schema) + body.getvalue()


def _record(spec: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"id": "s", "interval_s": 10.0, "timeout_s": 1.0, "tags": [], "spec": spec}


@given(sites())
def test_decode_inverts_encode(site: Site) -> None:
    assert CODEC.decode(CODEC.encode(site)) == site


@given(sites())
@settings(max_examples=50)
def test_reference_library_reads_the_body_with_the_published_schema(site: Site) -> None:
    frame = CODEC.encode(site)
    assert frame[:HEADER_LEN] == MAGIC + schema_fingerprint(SCHEMA_V1)
    schema = avro.schema.parse(SITE_SCHEMA_FILE.read_text(encoding="utf-8"))
    record = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(io.BytesIO(frame[HEADER_LEN:])))
    assert record["id"] == site.id
    assert record["spec"]["url"] == site.spec.url
    codes = {c for r in record["spec"]["expected_statuses"] for c in range(r["low"], r["high"] + 1)}
    assert codes == site.spec.expected_statuses


def test_a_later_http_record_with_a_new_field_decodes_with_what_this_reader_knows() -> None:
    grown = _grown_schema()
    record = _record(
        (
            "io.sitemon.HttpSpec",
            {
                "url": "http://x.test/",
                "expected_statuses": [{"low": 200, "high": 204}],
                "body": "ping",
            },
        )
    )
    site = AvroSiteCodec(writer_schemas=[grown]).decode(_frame(grown, record))
    assert site.spec.url == "http://x.test/"
    assert site.spec.method == "GET"  # the writer left it out: the default


def test_a_record_of_a_kind_this_reader_does_not_know_is_a_decode_error() -> None:
    grown = _grown_schema()
    frame = _frame(grown, _record(("io.sitemon.TcpSpec", {"host": "db", "port": 5432})))
    with pytest.raises(DecodeError):
        AvroSiteCodec(writer_schemas=[grown]).decode(frame)


def test_an_unknown_writer_schema_is_a_decode_error() -> None:
    grown = _grown_schema()
    with pytest.raises(DecodeError, match="unknown schema fingerprint"):
        CODEC.decode(_frame(grown, _record(("io.sitemon.TcpSpec", {"host": "h", "port": 1}))))


@given(st.binary(max_size=300))
def test_random_bytes_after_a_valid_header_are_decode_errors_or_sites(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        assert isinstance(CODEC.decode(CODEC.header + data), Site)


def test_every_truncation_of_a_valid_frame_is_a_decode_error() -> None:
    frame = CODEC.encode(SAMPLE)
    for end in range(len(frame)):
        with pytest.raises(DecodeError):
            CODEC.decode(frame[:end])
