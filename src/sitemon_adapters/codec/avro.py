"""CheckResult <-> bytes in Avro's standard single-object encoding.

A frame is ``C3 01`` + the 8-byte little-endian CRC-64-AVRO fingerprint of the writer
schema's Parsing Canonical Form + the Avro binary body. Any Avro implementation can read
it given the schema, and the fingerprint lets a reader pick the schema an older (or newer)
scanner wrote with, then resolve it into the schema this code understands.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fastavro
from fastavro.read import SchemaResolutionError
from fastavro.schema import fingerprint as _fastavro_fingerprint
from fastavro.schema import to_parsing_canonical_form

from sitemon_adapters.codec.avro_reader import Reader, compile_reader
from sitemon_adapters.codec.avro_writer import Writer, compile_writer
from sitemon_core.construction import fast_constructor
from sitemon_core.errors import SitemonError
from sitemon_core.models import CheckResult, ErrorKind, PhaseTimings

MAGIC = b"\xc3\x01"
HEADER_LEN = len(MAGIC) + 8
SCHEMA_DIR = Path(__file__).parent / "schemas"
CURRENT_SCHEMA_FILE = SCHEMA_DIR / "check_result.avsc"  # version 3
PREVIOUS_SCHEMA_FILE = SCHEMA_DIR / "check_result.2.avsc"
FIRST_SCHEMA_FILE = SCHEMA_DIR / "check_result.1.avsc"

# A dict lookup is cheaper than ErrorKind(value)'s enum machinery on the hot decode path.
_ERROR_KINDS = {kind.value: kind for kind in ErrorKind}
# Garbage can make exception messages huge (UnicodeDecodeError quotes the bytes).
_MAX_DETAIL = 200
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class CodecError(SitemonError):
    """A check result could not be encoded or decoded; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EncodeError(CodecError):
    """A check result does not fit the schema (naive datetime, out-of-range int...)."""


class DecodeError(CodecError):
    """Bytes are not a single-object-encoded CheckResult of a schema this codec knows."""


def load_schema(path: Path = CURRENT_SCHEMA_FILE) -> dict[str, Any]:
    """Read one ``.avsc`` file as a JSON schema dict."""
    with path.open(encoding="utf-8") as file:
        schema: dict[str, Any] = json.load(file)
    return schema


def schema_fingerprint(schema: str | list[Any] | dict[str, Any]) -> bytes:
    """The 8-byte CRC-64-AVRO fingerprint of ``schema``'s Parsing Canonical Form.

    Byte order is little-endian, as the single-object encoding stores it (fastavro's hex
    string and the Apache library's ``fingerprint()`` both spell those bytes in order).
    """
    canonical = to_parsing_canonical_form(schema)
    return bytes.fromhex(_fastavro_fingerprint(canonical, "CRC-64-AVRO"))


def _shipped_schemas() -> list[dict[str, Any]]:
    # Older versions are kept next to the current one as check_result.<version>.avsc, so
    # records written by scanners of an earlier release still decode (with defaults).
    return [load_schema(path) for path in sorted(SCHEMA_DIR.glob("check_result*.avsc"))]


class AvroCheckResultCodec:
    """Encodes with the current schema; decodes anything written with a known schema.

    ``writer_schemas`` adds schemas beyond those shipped in ``sitemon_adapters/codec/schemas``
    (e.g. written by scanners of another version). Schemas are parsed once, here.
    """

    def __init__(self, writer_schemas: Iterable[dict[str, Any]] = ()) -> None:
        raw_reader = load_schema()
        self._header = MAGIC + schema_fingerprint(raw_reader)
        # started_at travels as the plain long it is on the wire and is converted here,
        # both ways: cheaper than fastavro's logical-type path, and the fingerprint (of the
        # canonical form, which drops logicalType) is the same.
        plain = _without_logical_types(raw_reader)
        if schema_fingerprint(plain) != self._header[len(MAGIC) :]:
            raise CodecError("stripping logical types changed the schema's fingerprint")
        self._reader = fastavro.parse_schema(plain)
        # Records written with the current schema (nearly all) are read by code generated
        # for it; other writer schemas go through fastavro's resolution.
        if (
            _field_names(plain) != _VALUE_FIELDS
            or _field_names(
                next(field["type"] for field in plain["fields"] if field["name"] == "timings")
            )
            != _TIMINGS_ORDER
        ):
            raise CodecError("the current schema's fields differ from _from_values' order")
        self._read_current: Reader = compile_reader(plain)
        # ... and written by code generated for it (the same bytes as fastavro's writer).
        self._write_current: Writer = compile_writer(plain, prefix=self._header)
        # fingerprint -> parsed writer schema; None marks "same as the reader", which lets
        # fastavro skip schema resolution for the common case.
        self._writers: dict[bytes, Any] = {}
        for raw in [*_shipped_schemas(), *writer_schemas]:
            parsed = fastavro.parse_schema(_without_logical_types(raw))
            self._writers[schema_fingerprint(raw)] = parsed
        self._writers[self._header[len(MAGIC) :]] = None

    @property
    def header(self) -> bytes:
        """The 10 bytes every frame written by this codec starts with."""
        return self._header

    def encode(self, result: CheckResult) -> bytes:
        """``result`` as one single-object-encoded Avro record.

        Raises ``EncodeError`` when it does not fit the schema.
        """
        try:
            # A naive datetime raises TypeError here rather than being guessed at.
            micros = (result.started_at - _EPOCH) // _MICROSECOND
        except TypeError as exc:
            raise EncodeError("started_at must be a timezone-aware datetime") from exc
        try:
            return self._write_current(_to_values(result, micros))
        except (ValueError, TypeError, AttributeError, KeyError, struct.error) as exc:
            raise EncodeError(f"result does not fit the schema: {exc}") from exc

    def decode(self, data: bytes) -> CheckResult:
        """The CheckResult in frame ``data``, resolved into the current schema.

        Raises ``DecodeError`` (and nothing else) for any malformed input.
        """
        if type(data) is not bytes:  # the generated reader slices and decodes bytes
            data = bytes(data)
        if data.startswith(self._header):  # the current schema: nearly every record
            return self._decode_current(data)
        fingerprint, writer = self._writer_of(data)
        return self._decode_resolved(data, fingerprint, writer)

    def decode_generic(self, data: bytes) -> CheckResult:
        """``decode`` through fastavro's reader for every schema (the reference the
        generated reader of the current schema is tested against)."""
        fingerprint, writer = self._writer_of(data)
        return self._decode_resolved(data, fingerprint, writer)

    def _writer_of(self, data: bytes) -> tuple[bytes, Any]:
        """The fingerprint in ``data``'s header and its parsed writer schema (None: the
        current one)."""
        if data[: len(MAGIC)] != MAGIC:
            raise DecodeError("bad marker")
        fingerprint = bytes(data[len(MAGIC) : HEADER_LEN])
        try:
            return fingerprint, self._writers[fingerprint]
        except KeyError:
            raise DecodeError(f"unknown schema fingerprint {fingerprint.hex()}") from None

    def _decode_current(self, data: bytes) -> CheckResult:
        try:
            values, end = self._read_current(data, HEADER_LEN)
            result = _from_values(values)
        # As below: the generated reader signals garbage with builtin exceptions.
        except Exception as exc:
            detail = f"{type(exc).__name__}: {exc}"[:_MAX_DETAIL]
            raise DecodeError(f"truncated or corrupt record: {detail}") from exc
        if end != len(data):
            raise DecodeError("truncated or corrupt record: trailing bytes after the record")
        return result

    def _decode_resolved(self, data: bytes, fingerprint: bytes, writer: Any) -> CheckResult:
        body = io.BytesIO(data)
        body.seek(HEADER_LEN)
        try:
            if writer is None:
                record = fastavro.schemaless_reader(body, self._reader, None)
            else:
                record = fastavro.schemaless_reader(body, writer, self._reader)
            result = _from_record(record)
        except SchemaResolutionError as exc:
            raise DecodeError(
                f"writer schema {fingerprint.hex()} does not resolve into the reader's: {exc}"
            ) from exc
        # Untrusted bytes reach fastavro's C reader, which signals garbage with assorted
        # builtin exceptions (EOFError, IndexError, UnicodeDecodeError, OverflowError...);
        # callers must only ever see DecodeError, so everything is mapped here.
        except Exception as exc:
            detail = f"{type(exc).__name__}: {exc}"[:_MAX_DETAIL]
            raise DecodeError(f"truncated or corrupt record: {detail}") from exc
        if body.tell() != len(data):
            raise DecodeError("truncated or corrupt record: trailing bytes after the record")
        return result


def _field_names(record_schema: dict[str, Any]) -> tuple[str, ...]:
    return tuple(field["name"] for field in record_schema["fields"])


def _without_logical_types(schema: dict[str, Any]) -> dict[str, Any]:
    fields = [{**field, "type": _plain(field["type"])} for field in schema["fields"]]
    return {**schema, "fields": fields}


def _plain(field_type: Any) -> Any:
    if isinstance(field_type, list):  # a union: ["null", {"type": "long", "logicalType"...}]
        return [_plain(member) for member in field_type]
    return field_type["type"] if _is_logical(field_type) else field_type


def _is_logical(field_type: Any) -> bool:
    return isinstance(field_type, dict) and "logicalType" in field_type


def _to_values(result: CheckResult, started_at_micros: int) -> tuple[Any, ...]:
    """``result``'s field values in ``_VALUE_FIELDS`` order, for the generated writer."""
    t = result.timings
    tls_not_after = result.tls_not_after
    return (
        result.check_id, result.site_id, result.url, result.region, started_at_micros,
        result.ok, result.total_ms, result.status_code,
        (t.dns_ms, t.connect_ms, t.tls_ms, t.ttfb_ms, t.transfer_ms),
        result.regex_matched, result.bytes_read, result.final_url, result.error_kind.value,
        result.error_message, result.outcome, result.tags,
        None if tls_not_after is None else (tls_not_after - _EPOCH) // _MICROSECOND,
        result.tls_version, result.tls_issuer, result.body_truncated, result.degraded,
        result.failed_condition, result.answers,
    )  # fmt: skip


# The current schema's fields, in order: what the generated reader's tuple holds.
_VALUE_FIELDS = (
    "check_id",
    "site_id",
    "url",
    "region",
    "started_at",
    "ok",
    "total_ms",
    "status_code",
    "timings",
    "regex_matched",
    "bytes_read",
    "final_url",
    "error_kind",
    "error_message",
    "outcome",
    "tags",
    "tls_not_after",
    "tls_version",
    "tls_issuer",
    "body_truncated",
    "degraded",
    "failed_condition",
    "answers",
)


# The hot decode path builds results with positional arguments and without attrs'
# per-field name lookups (same converters and validators; see sitemon_core.construction).
_RESULT_ORDER = tuple(name for name in _VALUE_FIELDS if name != "outcome")
_build_result = fast_constructor(CheckResult, _RESULT_ORDER)
_TIMINGS_ORDER = ("dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "transfer_ms")
_build_timings = fast_constructor(PhaseTimings, _TIMINGS_ORDER)


def _from_values(values: tuple[Any, ...]) -> CheckResult:
    (
        check_id,
        site_id,
        url,
        region,
        started_at,
        ok,
        total_ms,
        status_code,
        timings,
        regex_matched,
        bytes_read,
        final_url,
        error_kind,
        error_message,
        _outcome,  # not read back: the model derives it from the fields above
        tags,
        not_after,
        tls_version,
        tls_issuer,
        body_truncated,
        degraded,
        failed_condition,
        answers,
    ) = values
    # In _RESULT_ORDER, which is the schema's order without outcome.
    return _build_result(
        check_id,
        site_id,
        url,
        region,
        _EPOCH + _MICROSECOND * started_at,
        ok,
        total_ms,
        status_code,
        _build_timings(*timings),  # the nested record's fields, in the schema's order
        regex_matched,
        bytes_read,
        final_url,
        _ERROR_KINDS[error_kind],
        error_message,
        tags,
        None if not_after is None else _EPOCH + _MICROSECOND * not_after,
        tls_version,
        tls_issuer,
        body_truncated,
        degraded,
        failed_condition,
        answers,
    )


def _from_record(record: Any) -> CheckResult:
    timings = record["timings"]
    not_after = record["tls_not_after"]
    return CheckResult(
        check_id=record["check_id"],
        site_id=record["site_id"],
        url=record["url"],
        region=record["region"],
        started_at=_EPOCH + _MICROSECOND * record["started_at"],
        ok=record["ok"],
        total_ms=record["total_ms"],
        status_code=record["status_code"],
        timings=PhaseTimings(
            dns_ms=timings["dns_ms"],
            connect_ms=timings["connect_ms"],
            tls_ms=timings["tls_ms"],
            ttfb_ms=timings["ttfb_ms"],
            transfer_ms=timings["transfer_ms"],
        ),
        regex_matched=record["regex_matched"],
        bytes_read=record["bytes_read"],
        final_url=record["final_url"],
        error_kind=_ERROR_KINDS[record["error_kind"]],
        error_message=record["error_message"],
        # ``outcome`` is not read back: the model derives it from the fields above.
        tags=tuple(record["tags"]),
        tls_not_after=None if not_after is None else _EPOCH + _MICROSECOND * not_after,
        tls_version=record["tls_version"],
        tls_issuer=record["tls_issuer"],
        body_truncated=record["body_truncated"],
        degraded=record["degraded"],
        failed_condition=record["failed_condition"],
        answers=tuple(record["answers"]),
    )
