"""Parsing a site's answer conditions: ``json`` (RFC 9535 JSONPath conditions),
``headers_expected`` (glob patterns of response headers) and the request ``body``."""

from __future__ import annotations

import json
from typing import Any

import jsonpath_rfc9535

from sitemon_adapters.probe.http_common.conditions import compile_path
from sitemon_cli.config.values import Section, string_map, text
from sitemon_core.conditions import JsonCondition, JsonOperator, JsonScalar

_OPERATORS = {operator.value: operator for operator in JsonOperator}
JSON_CONDITION_KEYS = {"path", *_OPERATORS}


def json_conditions(sec: Section, path: str, raw: Any) -> tuple[JsonCondition, ...]:
    """``json: [{path: "$.status", equals: "ok"}, ...]``: one operator per condition."""
    if not isinstance(raw, list):
        raise sec.error(path, f"must be a list, got {type(raw).__name__}")
    return tuple(
        _condition(Section(sec.source, f"{path}[{index}]", item, JSON_CONDITION_KEYS))
        for index, item in enumerate(raw)
    )


def _condition(sec: Section) -> JsonCondition:
    query = sec.require("path", _query)
    given = [name for name in _OPERATORS if name in sec.data]
    if len(given) != 1:
        names = ", ".join(_OPERATORS)
        raise sec.error(sec.path, f"needs exactly one of {names}, got {len(given)}")
    operator = _OPERATORS[given[0]]
    operand = sec.data[given[0]]
    where = sec.key(given[0])
    if operator is JsonOperator.EXISTS and not isinstance(operand, bool):
        raise sec.error(where, f"must be true or false, got {operand!r}")
    numeric = operator in (JsonOperator.LESS_THAN, JsonOperator.GREATER_THAN)
    if numeric and (isinstance(operand, bool) or not isinstance(operand, int | float)):
        raise sec.error(where, f"must be a number, got {operand!r}")
    if not isinstance(operand, str | int | float | bool | None):
        raise sec.error(where, f"must be a string, number, true, false or null, got {operand!r}")
    scalar: JsonScalar = operand
    return JsonCondition(query, operator, scalar)


def _query(sec: Section, path: str, raw: Any) -> str:
    value = text(sec, path, raw)
    try:
        compile_path(value)
    except jsonpath_rfc9535.JSONPathError as exc:
        raise sec.error(path, f"invalid JSONPath {value!r}: {exc}") from exc
    return value


def headers_expected(sec: Section, path: str, raw: Any) -> tuple[tuple[str, str], ...]:
    """``headers_expected: {content-type: "application/json*"}``: names case-insensitive."""
    return tuple((name.lower(), pattern) for name, pattern in string_map(sec, path, raw).items())


def request_body(sec: Section, path: str, raw: Any) -> tuple[str, str]:
    """(body text, its default Content-Type): a string as text, a mapping or list as JSON."""
    if isinstance(raw, dict | list):
        return json.dumps(raw, separators=(",", ":")), "application/json"
    return text(sec, path, raw), "text/plain; charset=utf-8"
