"""What the generated Avro reader and writer share: the code emitter, the schema kinds, and
turning the emitted lines into a function.

A subclass names its handlers ``<verb>_<kind>`` (``_read_string``, ``_write_union``...);
``value`` dispatches on the schema's kind and refuses a kind without a handler.
"""

from __future__ import annotations

from typing import Any, ClassVar


class UnsupportedSchemaError(Exception):
    """The schema uses a type the generator does not generate code for."""


def schema_kind(schema: Any) -> str:
    """``null``, ``string``, ``record``, ``union``...: what a schema (or a named type
    written inline) is."""
    if isinstance(schema, str):
        return schema
    if isinstance(schema, list):
        return "union"
    if isinstance(schema, dict):
        kind = schema["type"]
        return kind if isinstance(kind, str) else "nested"
    raise UnsupportedSchemaError(f"no generated code for {schema!r}")


class Emitter:
    """Accumulates a generated function's lines and the names they refer to."""

    verb: ClassVar[str]  # the handlers' prefix: "read" for ``_read_<kind>``

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.lines: list[str] = []
        self.namespace = dict(namespace)
        self._counter = 0

    def name(self, prefix: str) -> str:
        """A fresh local name."""
        self._counter += 1
        return f"{prefix}{self._counter}"

    def constant(self, prefix: str, value: Any) -> str:
        """A fresh global name bound to ``value``."""
        name = self.name(prefix)
        self.namespace[name] = value
        return name

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def value(self, indent: int, schema: Any, target: str) -> None:
        """The code for one value of ``schema`` (what ``target`` means is the verb's)."""
        kind = schema_kind(schema)
        handler = getattr(self, f"_{self.verb}_{kind}", None)
        if handler is None:
            raise UnsupportedSchemaError(f"no generated code to {self.verb} {kind!r}")
        handler(indent, schema, target)

    def compile(self, signature: str) -> Any:
        """The function ``def <signature>:`` whose body is the emitted lines."""
        source = f"def {signature}:\n" + "\n".join(self.lines) + "\n"
        # Built from a schema the codec loaded from its own files, no outside input.
        exec(source, self.namespace)
        return self.namespace[signature.split("(", 1)[0]]
