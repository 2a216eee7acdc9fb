"""A reader compiled from one Avro record schema: bytes -> a tuple of its field values.

fastavro's reader interprets the schema for every record (≈ 12 µs for a check result, a
third of the consumer's CPU per row). For the schema the codec reads most (the current
one, written by current scanners: no resolution needed) this module generates a function
of straight-line Python for that schema, as attrs generates ``__init__``: one inline
varint per field, strings sliced and decoded in place, no intermediate dict. It returns
the values in field order (a nested record as a tuple of its own, an array as a tuple),
so the codec builds the ``CheckResult`` directly.

Supported: the types the check-result schemas use (null, boolean, int, long, double,
string, enum, array, record, and unions of those); ``compile_reader`` raises
``UnsupportedSchemaError`` for anything else (a schema change the generator does not cover
fails the codec's construction, so every test notices). Malformed
input raises ``ValueError`` / ``IndexError`` / ``struct.error`` / ``UnicodeDecodeError``:
the codec maps every exception to ``DecodeError``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from sitemon_adapters.codec.avro_codegen import Emitter, UnsupportedSchemaError, schema_kind

__all__ = ["UnsupportedSchemaError", "compile_reader", "read_long"]

Reader = Callable[[bytes, int], tuple[tuple[Any, ...], int]]

_DOUBLE = struct.Struct("<d")
_MAX_VARINT_BYTES = 10  # a 64-bit long
_ONE_BYTE_INDEXES = 64  # zigzag varints of 0..63 take one byte


def read_long(data: bytes, pos: int) -> tuple[int, int]:
    """The zigzag varint at ``pos`` and the position after it (any length)."""
    shift = value = 0
    for at in range(pos, pos + _MAX_VARINT_BYTES):
        byte = data[at]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return (value >> 1) ^ -(value & 1), at + 1
        shift += 7
    raise ValueError("varint longer than 10 bytes")


class _Emitter(Emitter):
    """The reader's code: ``target`` is the local each value is read into."""

    verb = "read"

    def long(self, indent: int, target: str) -> None:
        # One- and two-byte varints (-8192..8191: lengths, indexes, status codes, most
        # counts) without a call; longer ones (timestamps) through read_long.
        self.emit(indent, "b = d[p]")
        self.emit(indent, "if b < 0x80:")
        self.emit(indent + 1, "p += 1")
        self.emit(indent + 1, f"{target} = (b >> 1) ^ -(b & 1)")
        self.emit(indent, "elif d[p + 1] < 0x80:")
        self.emit(indent + 1, "b = (b & 0x7F) | (d[p + 1] << 7)")
        self.emit(indent + 1, "p += 2")
        self.emit(indent + 1, f"{target} = (b >> 1) ^ -(b & 1)")
        self.emit(indent, "else:")
        self.emit(indent + 1, f"{target}, p = read_long(d, p)")

    def _read_null(self, indent: int, _schema: Any, target: str) -> None:
        self.emit(indent, f"{target} = None")

    def _read_boolean(self, indent: int, _schema: Any, target: str) -> None:
        # Any byte but 0 reads as true, as fastavro reads it.
        self.emit(indent, f"{target} = d[p] != 0")
        self.emit(indent, "p += 1")

    def _read_long(self, indent: int, _schema: Any, target: str) -> None:
        self.long(indent, target)

    _read_int = _read_long

    def _read_double(self, indent: int, _schema: Any, target: str) -> None:
        self.emit(indent, f"({target},) = unpack_double(d, p)")
        self.emit(indent, "p += 8")

    def _read_string(self, indent: int, _schema: Any, target: str) -> None:
        self.long(indent, "n")
        self.emit(indent, "e = p + n")
        self.emit(indent, "if n < 0 or e > size:")
        self.emit(indent + 1, "raise ValueError('string runs past the data')")
        self.emit(indent, f"{target} = d[p:e].decode()")
        self.emit(indent, "p = e")

    def _read_enum(self, indent: int, schema: Any, target: str) -> None:
        symbols = self.constant("symbols", tuple(schema["symbols"]))
        self.long(indent, "n")
        self.emit(indent, "if n < 0:")
        self.emit(indent + 1, "raise ValueError('negative enum index')")
        self.emit(indent, f"{target} = {symbols}[n]")

    def _read_array(self, indent: int, schema: Any, target: str) -> None:
        items = self.name("items")
        count = self.name("count")
        item = self.name("item")
        self.emit(indent, f"{items} = []")
        self.emit(indent, "while True:")
        self.long(indent + 1, count)
        self.emit(indent + 1, f"if {count} == 0:")
        self.emit(indent + 2, "break")
        self.emit(indent + 1, f"if {count} < 0:")  # a block that also states its byte size
        self.emit(indent + 2, f"{count} = -{count}")
        self.emit(indent + 2, "_, p = read_long(d, p)")
        self.emit(indent + 1, f"for _ in range({count}):")
        self.value(indent + 2, schema["items"], item)
        self.emit(indent + 2, f"{items}.append({item})")
        self.emit(indent, f"{target} = tuple({items})")

    def _read_record(self, indent: int, schema: Any, target: str) -> None:
        names = [self.name("f") for _ in schema["fields"]]
        for field, name in zip(schema["fields"], names, strict=True):
            self.value(indent, field["type"], name)
        self.emit(indent, f"{target} = ({', '.join(names)},)")

    def _read_union(self, indent: int, schema: Any, target: str) -> None:
        if len(schema) > _ONE_BYTE_INDEXES:
            raise UnsupportedSchemaError("a union of more than 64 members")
        # The branch index is one varint byte, compared as written (index i is 2i): a
        # longer, non-canonical encoding of a small index is refused (fastavro takes it).
        self.emit(indent, "n = d[p]")
        self.emit(indent, "p += 1")
        for index, member in enumerate(schema):
            self.emit(indent, f"{'if' if index == 0 else 'elif'} n == {2 * index}:")
            self.value(indent + 1, member, target)
        self.emit(indent, "else:")
        self.emit(indent + 1, "raise ValueError('union index out of range')")


def compile_reader(schema: dict[str, Any]) -> Reader:
    """A function ``read(data, pos)``: the record of ``schema`` that starts at ``pos``, as a
    tuple of its field values in order, and the position after it.

    ``schema`` is a record schema with its named types inline (as written in the
    ``.avsc``; logical types already stripped to their underlying type).
    """
    if schema_kind(schema) != "record":
        raise UnsupportedSchemaError("the top-level schema must be a record")
    emitter = _Emitter({"read_long": read_long, "unpack_double": _DOUBLE.unpack_from})
    emitter.emit(1, "size = len(d)")
    emitter.value(1, schema, "record")
    emitter.emit(1, "return record, p")
    reader: Reader = emitter.compile("read(d, p)")
    return reader
