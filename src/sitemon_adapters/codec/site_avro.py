"""Site <-> bytes in Avro's single-object encoding, for the catalogue on the sites topic.

Same frame as the results (``C3 01`` + CRC-64-AVRO fingerprint + body, see ``codec/avro``)
with its own schema, ``schemas/site.avsc`` (version 2; earlier versions are kept as
``site.<n>.avsc`` and resolved by fingerprint). Every field of ``Site`` and of each spec is
on the wire (``site_specs`` maps the specs). The spec of a site is a union with one record
per probe kind: a new kind appends a branch (a new schema version); a reader that does not
know a writer's branch gets a ``DecodeError`` for those sites only, and skips them.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import fastavro
from fastavro.read import SchemaResolutionError

from sitemon_adapters.codec.avro import (
    HEADER_LEN,
    MAGIC,
    SCHEMA_DIR,
    DecodeError,
    EncodeError,
    load_schema,
    schema_fingerprint,
)
from sitemon_adapters.codec.site_specs import shared, spec_branch, spec_of
from sitemon_core.models import Site

SITE_SCHEMA_FILE = SCHEMA_DIR / "site.avsc"  # version 2
FIRST_SITE_SCHEMA_FILE = SCHEMA_DIR / "site.1.avsc"
_MAX_DETAIL = 200


def _shipped_site_schemas() -> list[dict[str, Any]]:
    return [load_schema(path) for path in sorted(SCHEMA_DIR.glob("site*.avsc"))]


class AvroSiteCodec:
    """Encodes a ``Site`` with the current schema; decodes any known writer schema."""

    def __init__(
        self, writer_schemas: Iterable[dict[str, Any]] = (), schema_file: Path = SITE_SCHEMA_FILE
    ) -> None:
        raw = load_schema(schema_file)
        self._header = MAGIC + schema_fingerprint(raw)
        self._schema = fastavro.parse_schema(raw)
        self._writers: dict[bytes, Any] = {
            schema_fingerprint(s): fastavro.parse_schema(s)
            for s in [*_shipped_site_schemas(), *writer_schemas]
        }
        self._writers[self._header[len(MAGIC) :]] = None  # same as the reader: no resolution

    @property
    def header(self) -> bytes:
        """The 10 bytes every frame written by this codec starts with."""
        return self._header

    def encode(self, site: Site) -> bytes:
        """``site`` as one single-object-encoded record; ``EncodeError`` if it does not fit."""
        buffer = io.BytesIO(self._header)
        buffer.seek(HEADER_LEN)
        try:
            fastavro.schemaless_writer(buffer, self._schema, _to_record(site))
        except (ValueError, TypeError, OverflowError, AttributeError, KeyError) as exc:
            raise EncodeError(f"site does not fit the schema: {exc}") from exc
        return buffer.getvalue()

    def decode(self, data: bytes) -> Site:
        """The ``Site`` in frame ``data``; ``DecodeError`` (and nothing else) when malformed."""
        if data[: len(MAGIC)] != MAGIC:
            raise DecodeError("bad marker")
        fingerprint = bytes(data[len(MAGIC) : HEADER_LEN])
        try:
            writer = self._writers[fingerprint]
        except KeyError:
            raise DecodeError(f"unknown schema fingerprint {fingerprint.hex()}") from None
        body = io.BytesIO(data)
        body.seek(HEADER_LEN)
        try:
            # return_record_name: a record in a union comes back as (name, record), so the
            # spec's branch names its kind.
            record = fastavro.schemaless_reader(
                body,
                self._schema if writer is None else writer,
                None if writer is None else self._schema,
                return_record_name=True,
            )
            site = _from_record(record)
        except SchemaResolutionError as exc:
            raise DecodeError(f"writer schema {fingerprint.hex()} does not resolve: {exc}") from exc
        except Exception as exc:  # untrusted bytes: every failure is a DecodeError
            detail = f"{type(exc).__name__}: {exc}"[:_MAX_DETAIL]
            raise DecodeError(f"truncated or corrupt record: {detail}") from exc
        if body.tell() != len(data):
            raise DecodeError("truncated or corrupt record: trailing bytes after the record")
        return site


def _to_record(site: Site) -> dict[str, Any]:
    return {
        "id": site.id,
        "interval_s": site.interval_s,
        "timeout_s": site.timeout_s,
        "tags": sorted(site.tags),
        # A (name, record) tuple names the union branch explicitly, as fastavro allows.
        "spec": spec_branch(site.spec),
        "degraded_after_s": site.degraded_after_s,
        "fail_after_s": site.fail_after_s,
        "tls_expiry_warning_s": site.tls_expiry_warning_s,
    }


def _from_record(record: Any) -> Site:
    return Site(
        id=record["id"],
        interval_s=record["interval_s"],
        timeout_s=record["timeout_s"],
        tags=shared(record["tags"]),
        spec=spec_of(record["spec"]),
        degraded_after_s=record["degraded_after_s"],
        fail_after_s=record["fail_after_s"],
        tls_expiry_warning_s=record["tls_expiry_warning_s"],
    )
