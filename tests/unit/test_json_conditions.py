"""JSON condition semantics (RFC 9535 paths, JSON equality) and hostile bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sitemon_adapters.probe.http_common.conditions import failed_json
from sitemon_core.conditions import JsonCondition, JsonOperator
from sitemon_core.models import HttpSpec


def _spec(operator: str, operand: Any, path: str = "$.v") -> HttpSpec:
    condition = JsonCondition(path, JsonOperator(operator), operand)
    return HttpSpec(url="https://example.com/", json_conditions=(condition,))


@pytest.mark.parametrize(
    ("document", "operator", "operand", "holds"),
    [
        ({"v": 1}, "equals", 1.0, True),
        ({"v": True}, "equals", 1, False),  # JSON true is not 1
        ({"v": 1}, "equals", True, False),
        ({"v": None}, "equals", None, True),
        ({"v": "ok"}, "not_equals", "down", True),
        ({"v": 99}, "less_than", 100, True),
        ({"v": 100}, "less_than", 100, False),
        ({"v": "99"}, "less_than", 100, False),  # a string is not a number
        ({"v": 101}, "greater_than", 100, True),
        ({"v": "all ok"}, "contains", "ok", True),
        ({"v": ["a", "b"]}, "contains", "b", True),
        ({"v": ["a", "b"]}, "contains", "c", False),
        ({"v": 5}, "contains", 5, False),
        ({"v": 0}, "exists", True, True),
        ({"w": 0}, "exists", False, True),
        ({"w": 0}, "equals", 0, False),  # selects nothing
    ],
)
def test_operators(document: Any, operator: str, operand: Any, holds: bool) -> None:
    failed = failed_json(_spec(operator, operand), json.dumps(document).encode(), None, False)
    assert (failed is None) == holds, failed


def test_filter_queries_are_rfc_9535() -> None:
    body = json.dumps({"items": [{"n": 1, "ok": False}, {"n": 2, "ok": True}]}).encode()
    spec = _spec("equals", 2, path="$.items[?@.ok == true].n")
    assert failed_json(spec, body, None, False) is None


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000, b"1" * 10_000, b"\xff\xfe garbage", b'{"v": NaN}', b""],
)
def test_hostile_bodies_are_a_mismatch_never_an_exception(body: bytes) -> None:
    failed = failed_json(_spec("exists", True), body, "no-such-charset", False)
    if failed is not None:
        assert failed[0] == "json_mismatch"


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(), st.lists, max_leaves=8))
def test_any_document_is_judged_without_raising(value: Any) -> None:
    body = json.dumps({"v": value}).encode()
    failed = failed_json(_spec("less_than", 1), body, None, False)
    assert failed is None or failed[1].startswith("$.v less_than 1")
