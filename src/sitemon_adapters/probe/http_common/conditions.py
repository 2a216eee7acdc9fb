"""Evaluating a site's header and JSON conditions on the answer both engines read.

Header conditions are glob patterns (``application/json*``) matched against every value
of the header (names are case-insensitive). JSON conditions parse the body read (the first
``max_body_bytes``) and query it with RFC 9535 JSONPath (``jsonpath-rfc9535``); a body that
is not JSON fails them with a message saying so. Nothing here raises for what a target sends.
"""

from __future__ import annotations

import fnmatch
import functools
import json
from collections.abc import Callable, Sequence
from typing import Any

import jsonpath_rfc9535

from sitemon_core.conditions import (
    HEADER_MISMATCH,
    JSON_MISMATCH,
    JsonCondition,
    JsonOperator,
)
from sitemon_core.models import ErrorKind, HttpSpec, judge

Failure = tuple[str, str]  # (failed_condition, message)
HeaderValues = Callable[[str], Sequence[str]]  # lower-case name -> the values received
_MAX_SHOWN = 60


@functools.lru_cache(maxsize=4096)
def compile_path(path: str) -> Any:
    """``path`` compiled (cached); raises ``jsonpath_rfc9535.JSONPathError`` if invalid."""
    return jsonpath_rfc9535.compile(path)


def conclude(
    spec: HttpSpec,
    status: int | None,
    regex_matched: bool | None,
    error: tuple[ErrorKind, str],
    failed: Failure | None,
) -> tuple[bool, str | None, str]:
    """(ok, failed_condition, error_message) of an HTTP check: a failed condition counts
    only on an answer that passed everything else (else the outcome says what did not)."""
    ok = judge(spec, status, regex_matched, error[0])
    if ok and failed is not None:
        return False, failed[0], failed[1]
    return ok, None, error[1]


def failed_header(spec: HttpSpec, values: HeaderValues) -> Failure | None:
    """The first header condition the answer misses, as (condition, message)."""
    for name, pattern in spec.headers_expected:
        received = values(name)
        if not any(fnmatch.fnmatchcase(value, pattern) for value in received):
            shown = _shown(received[0]) if received else "no such header"
            return HEADER_MISMATCH, f"header {name} is not {pattern!r} ({shown})"
    return None


def failed_json(
    spec: HttpSpec, body: bytes, charset: str | None, truncated: bool
) -> Failure | None:
    """The first JSON condition the body misses, as (condition, message)."""
    if not spec.json_conditions:
        return None
    try:
        document = json.loads(_text(body, charset))
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, too many digits, nesting
        reason = "cut at max_body_bytes" if truncated else _shown(str(exc))
        return JSON_MISMATCH, f"body is not JSON ({reason})"
    for condition in spec.json_conditions:
        problem = _judge(condition, document)
        if problem is not None:
            return JSON_MISMATCH, f"{condition.describe()}: {problem}"
    return None


def _judge(condition: JsonCondition, document: Any) -> str | None:
    """Why ``condition`` does not hold on ``document``; None when it does."""
    try:
        nodes = compile_path(condition.path).find(document)
    except (jsonpath_rfc9535.JSONPathError, RecursionError) as exc:
        return f"cannot evaluate ({_shown(str(exc))})"
    if condition.operator is JsonOperator.EXISTS:
        found = len(nodes) > 0
        return None if found == condition.operand else ("found" if found else "selects nothing")
    if not nodes:
        return "selects nothing"
    value = nodes[0].value
    return None if _holds(condition, value) else f"got {_shown(json.dumps(value))}"


def _holds(condition: JsonCondition, value: Any) -> bool:
    operand, operator = condition.operand, condition.operator
    if operator is JsonOperator.EQUALS:
        return _same(value, operand)
    if operator is JsonOperator.NOT_EQUALS:
        return not _same(value, operand)
    if operator is JsonOperator.CONTAINS:
        if isinstance(value, str):
            return isinstance(operand, str) and operand in value
        return isinstance(value, list) and any(_same(item, operand) for item in value)
    if not (_number(value) and _number(operand)):
        return False
    if operator is JsonOperator.LESS_THAN:
        return bool(value < operand)
    return bool(value > operand)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(value: Any, operand: Any) -> bool:
    """JSON equality: true is not 1, 1 is 1.0."""
    if isinstance(value, bool) or isinstance(operand, bool):
        return type(value) is type(operand) and value == operand
    return bool(value == operand)


def _text(body: bytes, charset: str | None) -> str:
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def _shown(text: str) -> str:
    """Target text, short, for a message (sanitised again by the result model)."""
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"
