"""Conditions on an HTTP answer beyond its status and the body regex.

``JsonCondition``: an RFC 9535 JSONPath into the body parsed as JSON, and one comparison
of the first value it selects. ``headers_expected`` (on ``HttpSpec``) holds glob patterns
for response headers. Probers evaluate them (``sitemon_adapters.probe.http_common``); a
failed one is the check's ``failed_condition`` (``json_mismatch``, ``header_mismatch``).
"""

from __future__ import annotations

import enum

import attrs

JSON_MISMATCH = "json_mismatch"
HEADER_MISMATCH = "header_mismatch"

JsonScalar = str | int | float | bool | None


class JsonOperator(enum.Enum):
    """How a JSON condition compares the selected value with its operand."""

    EQUALS = "equals"
    NOT_EQUALS = "not_equals"
    LESS_THAN = "less_than"
    GREATER_THAN = "greater_than"
    CONTAINS = "contains"  # a substring of a string, or an element of an array
    EXISTS = "exists"  # the path selects something (operand true) or nothing (false)


@attrs.frozen
class JsonCondition:
    """``path`` (RFC 9535 JSONPath), ``operator`` and its ``operand``."""

    path: str
    operator: JsonOperator
    operand: JsonScalar

    def describe(self) -> str:
        """The condition as the configuration writes it: ``$.queue less_than 100``."""
        return f"{self.path} {self.operator.value} {self.operand!r}"
