"""The catalogue's Avro codec: round trips of every kind and field, the standard frame,
schema versions (Apache ``avro`` judges resolution), growing the spec union."""

from __future__ import annotations

import contextlib
import copy
import io
import typing
from typing import Any

import attrs
import avro.errors
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
from sitemon_adapters.codec.site_avro import FIRST_SITE_SCHEMA_FILE, SITE_SCHEMA_FILE, AvroSiteCodec
from sitemon_core.catalogue import diff_catalogue
from sitemon_core.models import DnsSpec, HttpSpec, ProbeSpec, Site, TcpSpec
from tests.strategies import dns_specs, http_specs, sites, tcp_specs

CODEC = AvroSiteCodec()
SCHEMA = load_schema(SITE_SCHEMA_FILE)
SCHEMA_V1 = load_schema(FIRST_SITE_SCHEMA_FILE)
APACHE = avro.schema.parse(SITE_SCHEMA_FILE.read_text(encoding="utf-8"))
APACHE_V1 = avro.schema.parse(FIRST_SITE_SCHEMA_FILE.read_text(encoding="utf-8"))
SAMPLE = Site.http(
    id="shop",
    url="https://shop.example/health",
    interval_s=30,
    timeout_s=5,
    tags=frozenset({"prod", "eu"}),
    headers={"Accept": "text/html"},
    regex="ok",
)


def _avro_records(schema: Any) -> dict[str, dict[str, Any]]:
    """Every record type of ``schema``, by short name."""
    found: dict[str, dict[str, Any]] = {}

    def visit(node: Any) -> None:
        if isinstance(node, list):
            for member in node:
                visit(member)
        elif isinstance(node, dict):
            if node.get("type") == "record":
                found[node["name"]] = node
                for field in node["fields"]:
                    visit(field["type"])
            else:
                visit(node.get("items"))

    visit(schema)
    return found


def _model_classes() -> list[type]:
    """``Site``, every spec kind, and every attrs class nested in their fields."""
    classes: list[type] = []
    pending: list[type] = [Site, *typing.get_args(ProbeSpec)]
    while pending:
        cls = pending.pop()
        if cls in classes:
            continue
        classes.append(cls)
        for hint in typing.get_type_hints(cls).values():
            pending.extend(_attrs_classes_in(hint))
    return classes


def _attrs_classes_in(hint: Any) -> list[type]:
    if isinstance(hint, type) and attrs.has(hint):
        return [hint]
    return [cls for arg in typing.get_args(hint) for cls in _attrs_classes_in(arg)]


def test_the_model_walk_finds_every_spec_kind_and_nested_class() -> None:
    names = {cls.__name__ for cls in _model_classes()}
    assert names >= {"Site", "HttpSpec", "TcpSpec", "DnsSpec", "TlsSettings", "JsonCondition"}


@pytest.mark.parametrize("cls", _model_classes(), ids=lambda cls: cls.__name__)
def test_the_schema_has_every_field_of_the_model(cls: type) -> None:
    records = _avro_records(SCHEMA)
    assert cls.__name__ in records, f"no Avro record for {cls.__name__}"
    in_schema = {field["name"] for field in records[cls.__name__]["fields"]}
    in_model = {field.name for field in attrs.fields(cls)}
    assert in_model - in_schema == set(), f"{cls.__name__} fields missing from site.avsc"
    assert in_schema - in_model == set(), f"site.avsc fields the model lacks in {cls.__name__}"


@given(sites())
def test_decode_inverts_encode(site: Site) -> None:
    assert CODEC.decode(CODEC.encode(site)) == site


SPECS_BY_KIND = {"http": http_specs(), "tcp": tcp_specs(), "dns": dns_specs()}


@given(sites(), st.data())
def test_sites_apply_sees_a_change_in_any_one_field_through_the_topic(
    site: Site, data: st.DataObject
) -> None:
    # What ``sites apply`` diffs against: the catalogue as read back from the topic.
    published = {site.id: CODEC.decode(CODEC.encode(site))}
    assert not diff_catalogue(published, [site])
    other = data.draw(sites())
    name = data.draw(st.sampled_from([f.name for f in attrs.fields(Site) if f.name != "id"]))
    if name == "spec":  # one field of the spec, of the same kind
        twin = data.draw(SPECS_BY_KIND[site.kind])
        field = data.draw(st.sampled_from([f.name for f in attrs.fields(type(site.spec))]))
        edited = attrs.evolve(site, spec=attrs.evolve(site.spec, **{field: getattr(twin, field)}))
    else:
        edited = attrs.evolve(site, **{name: getattr(other, name)})
    diff = diff_catalogue(published, [edited])
    assert diff.changed == ((edited,) if edited != site else ())


def _read(schema: Any, frame: bytes, reader: Any = None) -> Any:
    decoder = avro.io.BinaryDecoder(io.BytesIO(frame[HEADER_LEN:]))
    return avro.io.DatumReader(schema, reader).read(decoder)


def _statuses(ranges: list[dict[str, int]]) -> set[int]:
    return {c for r in ranges for c in range(r["low"], r["high"] + 1)}


def _check_spec(record: dict[str, Any], spec: ProbeSpec) -> None:
    if isinstance(spec, HttpSpec):
        assert record["url"] == spec.url
        assert _statuses(record["expected_statuses"]) == spec.expected_statuses
        conditions = [(c.path, c.operator.value, c.operand) for c in spec.json_conditions]
        assert [(c["path"], c["operator"], c["operand"]) for c in record["json_conditions"]] == (
            conditions
        )
        assert record["tls"] == (None if spec.tls is None else attrs.asdict(spec.tls))
        assert record["fail_on_large_body"] == spec.fail_on_large_body
    elif isinstance(spec, TcpSpec):
        assert (record["host"], record["port"], record["tls"]) == (spec.host, spec.port, spec.tls)
        settings = spec.tls_settings
        assert record["tls_settings"] == (None if settings is None else attrs.asdict(settings))
    else:
        assert isinstance(spec, DnsSpec)
        assert (record["name"], record["server"], record["tcp"]) == (
            spec.name,
            spec.server,
            spec.tcp,
        )
        assert record["expected"] == sorted(spec.expected)


@given(sites())
@settings(max_examples=50)
def test_reference_library_reads_the_body_with_the_published_schema(site: Site) -> None:
    frame = CODEC.encode(site)
    assert frame[:HEADER_LEN] == MAGIC + schema_fingerprint(SCHEMA)
    record = _read(APACHE, frame)
    assert (record["id"], record["interval_s"], record["timeout_s"]) == (
        site.id,
        site.interval_s,
        site.timeout_s,
    )
    assert (record["degraded_after_s"], record["fail_after_s"]) == (
        site.degraded_after_s,
        site.fail_after_s,
    )
    assert record["tls_expiry_warning_s"] == site.tls_expiry_warning_s
    assert record["tags"] == sorted(site.tags)
    _check_spec(record["spec"], site.spec)


_V1_HTTP_FIELDS = [
    "url",
    "method",
    "headers",
    "expected_statuses",
    "regex",
    "follow_redirects",
    "max_redirects",
    "max_body_bytes",
]


@given(sites(), http_specs())
@settings(max_examples=50)
def test_a_reader_on_version_1_reads_version_2_records_of_http_sites(
    site: Site, spec: HttpSpec
) -> None:
    site = attrs.evolve(site, spec=spec)
    record = _read(APACHE, CODEC.encode(site), APACHE_V1)
    full = _read(APACHE, CODEC.encode(site))
    assert set(record) == {"id", "interval_s", "timeout_s", "tags", "spec"}
    assert record == {**{k: full[k] for k in record}, "spec": record["spec"]}
    assert record["spec"] == {name: full["spec"][name] for name in _V1_HTTP_FIELDS}


@pytest.mark.parametrize(
    "spec", [TcpSpec(host="db", port=5432), DnsSpec(name="example.com")], ids=["tcp", "dns"]
)
def test_a_reader_on_version_1_cannot_read_a_kind_it_does_not_know(spec: ProbeSpec) -> None:
    site = Site(id="x", interval_s=10, timeout_s=1, spec=spec)
    with pytest.raises(avro.errors.SchemaResolutionException):
        _read(APACHE, CODEC.encode(site), APACHE_V1)


@given(sites(), http_specs())
@settings(max_examples=50)
def test_this_codec_reads_version_1_records_with_the_new_fields_defaulted(
    site: Site, spec: HttpSpec
) -> None:
    # Written by the Apache library with version 1, framed with version 1's fingerprint.
    v1_spec = attrs.evolve(HttpSpec(url=spec.url), **{f: getattr(spec, f) for f in _V1_HTTP_FIELDS})
    old = Site(
        id=site.id,
        interval_s=site.interval_s,
        timeout_s=site.timeout_s,
        spec=v1_spec,
        tags=site.tags,
    )
    full = _read(APACHE, CODEC.encode(old))
    v1_record = {
        **{k: full[k] for k in ("id", "interval_s", "timeout_s", "tags")},
        "spec": {name: full["spec"][name] for name in _V1_HTTP_FIELDS},
    }
    body = io.BytesIO()
    avro.io.DatumWriter(APACHE_V1).write(v1_record, avro.io.BinaryEncoder(body))
    frame = MAGIC + schema_fingerprint(SCHEMA_V1) + body.getvalue()
    assert CODEC.decode(frame) == old


def _grown_schema() -> dict[str, Any]:
    """What a later release may publish: a new kind appended, an HTTP field with a default."""
    schema = copy.deepcopy(SCHEMA)
    spec = next(f for f in schema["fields"] if f["name"] == "spec")
    spec["type"][0]["fields"].append({"name": "proxy", "type": ["null", "string"], "default": None})
    spec["type"].append(
        {
            "type": "record",
            "name": "IcmpSpec",
            "fields": [{"name": "host", "type": "string"}],
        }
    )
    return schema


def _frame(schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(schema), record)
    return MAGIC + schema_fingerprint(schema) + body.getvalue()


def _record(spec: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"id": "s", "interval_s": 10.0, "timeout_s": 1.0, "tags": [], "spec": spec}


def test_a_later_http_record_with_a_new_field_decodes_with_what_this_reader_knows() -> None:
    grown = _grown_schema()
    record = _record(
        (
            "io.sitemon.HttpSpec",
            {
                "url": "http://x.test/",
                "expected_statuses": [{"low": 200, "high": 204}],
                "proxy": "http://proxy.test:3128",
            },
        )
    )
    site = AvroSiteCodec(writer_schemas=[grown]).decode(_frame(grown, record))
    assert site.spec.url == "http://x.test/"
    assert site.spec.method == "GET"  # the writer left it out: the default


def test_a_record_of_a_kind_this_reader_does_not_know_is_a_decode_error() -> None:
    grown = _grown_schema()
    frame = _frame(grown, _record(("io.sitemon.IcmpSpec", {"host": "db"})))
    with pytest.raises(DecodeError):
        AvroSiteCodec(writer_schemas=[grown]).decode(frame)


def test_an_unknown_writer_schema_is_a_decode_error() -> None:
    grown = _grown_schema()
    with pytest.raises(DecodeError, match="unknown schema fingerprint"):
        CODEC.decode(_frame(grown, _record(("io.sitemon.IcmpSpec", {"host": "h"}))))


@given(st.binary(max_size=300))
def test_random_bytes_after_a_valid_header_are_decode_errors_or_sites(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        assert isinstance(CODEC.decode(CODEC.header + data), Site)


def test_every_truncation_of_a_valid_frame_is_a_decode_error() -> None:
    frame = CODEC.encode(SAMPLE)
    for end in range(len(frame)):
        with pytest.raises(DecodeError):
            CODEC.decode(frame[:end])
