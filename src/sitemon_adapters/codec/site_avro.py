"""Site <-> bytes in Avro's single-object encoding, for the catalogue on the sites topic.

Same frame as the results (``C3 01`` + CRC-64-AVRO fingerprint + body, see ``codec/avro``)
with its own schema, ``schemas/site.avsc``. The spec of a site is a union with one record
per probe kind: a new kind appends a branch (a new schema version, the previous one kept as
``site.<n>.avsc``); a reader that does not know a writer's branch gets a ``DecodeError`` for
those sites only, and skips them.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
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
from sitemon_core.models import HttpSpec, ProbeSpec, Site

SITE_SCHEMA_FILE = SCHEMA_DIR / "site.avsc"  # version 1
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
            if writer is None:
                record = fastavro.schemaless_reader(
                    body, self._schema, None, return_record_name=True
                )
            else:
                record = fastavro.schemaless_reader(
                    body, writer, self._schema, return_record_name=True
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


def _http_record(spec: HttpSpec) -> dict[str, Any]:
    return {
        "url": spec.url,
        "method": spec.method,
        "headers": [{"name": n, "value": v} for n, v in spec.headers],
        "expected_statuses": [
            {"low": lo, "high": hi} for lo, hi in _ranges(spec.expected_statuses)
        ],
        "regex": spec.regex,
        "follow_redirects": spec.follow_redirects,
        "max_redirects": spec.max_redirects,
        "max_body_bytes": spec.max_body_bytes,
    }


# Most sites share their status set (2xx: a 100-element frozenset, ~4 KB) and their tags:
# one shared instance each keeps 100,000 decoded sites in tens, not hundreds, of MB.
_SHARED: dict[tuple[Any, ...], frozenset[Any]] = {}
_MAX_SHARED = 4096
_EMPTY: frozenset[Any] = frozenset()


def _shared(items: list[Any]) -> frozenset[Any]:
    if not items:
        return _EMPTY
    key = tuple(items)
    found = _SHARED.get(key)
    if found is None:
        found = frozenset(items)
        if len(_SHARED) < _MAX_SHARED:
            _SHARED[key] = found
    return found


def _ranges(codes: frozenset[int]) -> list[tuple[int, int]]:
    """Sorted codes as inclusive runs: {200, ..., 299} is [(200, 299)] (one record, not 100)."""
    runs: list[tuple[int, int]] = []
    for code in sorted(codes):
        if runs and runs[-1][1] == code - 1:
            runs[-1] = (runs[-1][0], code)
        else:
            runs.append((code, code))
    return runs


def _statuses(ranges: list[dict[str, int]]) -> frozenset[int]:
    # One range (any 2xx) is the common case: its key is built without a generator.
    key: tuple[Any, ...] = (
        ((ranges[0]["low"], ranges[0]["high"]),)
        if len(ranges) == 1
        else tuple((r["low"], r["high"]) for r in ranges)
    )
    found = _SHARED.get(key)
    if found is None:
        found = frozenset(c for low, high in key for c in range(low, high + 1))
        if len(_SHARED) < _MAX_SHARED:
            _SHARED[key] = found
    return found


def _http_spec(record: dict[str, Any]) -> HttpSpec:
    return HttpSpec(
        url=record["url"],
        method=record["method"],
        headers=tuple((h["name"], h["value"]) for h in record["headers"])
        if record["headers"]
        else (),
        expected_statuses=_statuses(record["expected_statuses"]),
        regex=record["regex"],
        follow_redirects=record["follow_redirects"],
        max_redirects=record["max_redirects"],
        max_body_bytes=record["max_body_bytes"],
    )


# kind -> (union branch name, spec -> record, record -> spec). A new probe kind adds a row.
_BRANCHES: dict[str, tuple[str, Callable[[Any], dict[str, Any]], Callable[..., Any]]] = {
    "http": ("io.sitemon.HttpSpec", _http_record, _http_spec),
}
_BY_BRANCH = {name: decode for name, _encode, decode in _BRANCHES.values()}


def _to_record(site: Site) -> dict[str, Any]:
    branch, encode, _decode = _BRANCHES[site.kind]
    return {
        "id": site.id,
        "interval_s": site.interval_s,
        "timeout_s": site.timeout_s,
        "tags": sorted(site.tags),
        # A (name, record) tuple names the union branch explicitly, as fastavro allows.
        "spec": (branch, encode(site.spec)),
    }


def _from_record(record: Any) -> Site:
    spec: ProbeSpec = _decode_spec(record["spec"])
    return Site(
        id=record["id"],
        interval_s=record["interval_s"],
        timeout_s=record["timeout_s"],
        tags=_shared(record["tags"]),
        spec=spec,
    )


def _decode_spec(value: Any) -> Any:
    # return_record_name=True: a union branch that is a record comes back as (name, record).
    name, record = value
    return _BY_BRANCH[name](record)
