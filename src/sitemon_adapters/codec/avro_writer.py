"""A writer compiled from one Avro record schema: a tuple of field values -> bytes.

The mirror of ``avro_reader``. fastavro's writer interprets the schema for every record
and picks each union's branch by validating the value against the members (≈ 20 µs for a
check result, half of what publishing a result costs a scanner). For the schema every
scanner writes with (the current one) this module generates straight-line Python: one
``bytearray`` grown in place, varints from a table for small values, each nullable field
one ``is None`` test. The bytes are those fastavro writes (the unit tests compare them for
arbitrary values), so any Avro reader reads them.

Input: the record's field values in schema order (a nested record as a tuple of its own,
an array as a sequence, an enum as its symbol, a long with a logical type as its plain
integer). Supported: the types the check-result schemas use (null, boolean, int, long,
double, string, enum, array, record, and unions of null with one other type);
``compile_writer`` raises ``UnsupportedSchemaError`` for anything else. A value that does
not fit raises ``ValueError`` (out of range), ``KeyError`` (unknown symbol),
``struct.error``, ``TypeError`` or ``AttributeError`` (wrong type): the codec maps them to
``EncodeError``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from sitemon_adapters.codec.avro_codegen import Emitter, UnsupportedSchemaError, schema_kind

__all__ = ["Writer", "compile_writer", "long_bytes"]

Writer = Callable[[tuple[Any, ...]], bytes]

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
_SMALL = 64  # zigzag varints of -64..63 take one byte: precomputed


def _zigzag_varint(value: int) -> bytes:
    n = (value << 1) ^ (value >> 63)
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL_VARINTS = tuple(_zigzag_varint(value) for value in range(-_SMALL, _SMALL))


def long_bytes(value: int) -> bytes:
    """``value`` as an Avro long (zigzag varint); ``ValueError`` outside 64 bits."""
    if -_SMALL <= value < _SMALL:
        return _SMALL_VARINTS[value + _SMALL]
    if not _LONG_MIN <= value <= _LONG_MAX:
        raise ValueError(f"{value} does not fit an Avro long")
    return _zigzag_varint(value)


def int_bytes(value: int) -> bytes:
    """``value`` as an Avro int; ``ValueError`` outside 32 bits."""
    if not _INT_MIN <= value <= _INT_MAX:
        raise ValueError(f"{value} does not fit an Avro int")
    return long_bytes(value)


class _Emitter(Emitter):
    """The writer's code: ``target`` is the expression whose value is appended to ``out``."""

    verb = "write"

    def _write_null(self, indent: int, _schema: Any, source: str) -> None:
        self.emit(indent, f"if {source} is not None:")
        self.emit(indent + 1, "raise TypeError('a null field holds a value')")

    def _write_boolean(self, indent: int, _schema: Any, source: str) -> None:
        self.emit(indent, f"out += b'\\x01' if {source} else b'\\x00'")

    def _write_long(self, indent: int, _schema: Any, source: str) -> None:
        self.emit(indent, f"out += long_bytes({source})")

    def _write_int(self, indent: int, _schema: Any, source: str) -> None:
        self.emit(indent, f"out += int_bytes({source})")

    def _write_double(self, indent: int, _schema: Any, source: str) -> None:
        self.emit(indent, f"out += pack_double({source})")

    def _write_string(self, indent: int, _schema: Any, source: str) -> None:
        encoded = self.name("b")
        self.emit(indent, f"{encoded} = {source}.encode()")
        self.emit(indent, f"out += long_bytes(len({encoded}))")
        self.emit(indent, f"out += {encoded}")

    def _write_enum(self, indent: int, schema: Any, source: str) -> None:
        indexes = {symbol: long_bytes(i) for i, symbol in enumerate(schema["symbols"])}
        table = self.constant("symbols", indexes)
        self.emit(indent, f"out += {table}[{source}]")

    def _write_array(self, indent: int, schema: Any, source: str) -> None:
        # One block holding every item, then the empty block (as fastavro writes it).
        items, item, count = self.name("items"), self.name("item"), self.name("count")
        self.emit(indent, f"{items} = {source}")
        self.emit(indent, f"{count} = len({items})")  # None or a scalar: TypeError
        self.emit(indent, f"if {count}:")
        self.emit(indent + 1, f"out += long_bytes({count})")
        self.emit(indent + 1, f"for {item} in {items}:")
        self.value(indent + 2, schema["items"], item)
        self.emit(indent, "out += b'\\x00'")

    def _write_record(self, indent: int, schema: Any, source: str) -> None:
        fields = schema["fields"]
        names = [self.name("f") for _ in fields]
        self.emit(indent, f"({', '.join(names)},) = {source}")
        for field, name in zip(fields, names, strict=True):
            self.value(indent, field["type"], name)

    def _write_union(self, indent: int, schema: Any, source: str) -> None:
        members = [m if isinstance(m, str) else schema_kind(m) for m in schema]
        if len(schema) != 2 or "null" not in members or members[0] == members[1]:
            raise UnsupportedSchemaError("only a union of null and one other type")
        null_at = members.index("null")
        other = schema[1 - null_at]
        self.emit(indent, f"if {source} is None:")
        self.emit(indent + 1, f"out += {long_bytes(null_at)!r}")
        self.emit(indent, "else:")
        self.emit(indent + 1, f"out += {long_bytes(1 - null_at)!r}")
        self.value(indent + 1, other, source)


def compile_writer(schema: dict[str, Any], prefix: bytes = b"") -> Writer:
    """A function ``write(values)``: ``prefix`` followed by the record of ``schema`` whose
    field values are ``values`` (in field order), as bytes.

    ``schema`` is a record schema with its named types inline (as written in the
    ``.avsc``; logical types already stripped to their underlying type).
    """
    if schema_kind(schema) != "record":
        raise UnsupportedSchemaError("the top-level schema must be a record")
    emitter = _Emitter(
        {
            "long_bytes": long_bytes,
            "int_bytes": int_bytes,
            "pack_double": struct.Struct("<d").pack,
        }
    )
    start = emitter.constant("prefix", bytes(prefix))
    emitter.emit(1, f"out = bytearray({start})")
    emitter.value(1, schema, "values")
    emitter.emit(1, "return bytes(out)")
    writer: Writer = emitter.compile("write(values)")
    return writer
