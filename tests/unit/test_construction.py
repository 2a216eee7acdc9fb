"""The fast constructor builds exactly what the attrs class's own ``__init__`` builds."""

from __future__ import annotations

from datetime import datetime

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sitemon_core.construction import fast_constructor
from sitemon_core.models import CheckResult
from tests.strategies import check_results

# Any order of the fields will do: the builder's parameters follow the one it is given.
ORDER = sorted(field.name for field in attrs.fields(CheckResult))
_build = fast_constructor(CheckResult, ORDER)


def build(**fields: object) -> CheckResult:
    return _build(*(fields[name] for name in ORDER))


def _fields(result: CheckResult) -> dict[str, object]:
    return attrs.asdict(result, recurse=False)


@given(check_results())
def test_it_builds_the_same_result_as_the_class(result: CheckResult) -> None:
    built = build(**_fields(result))
    assert type(built) is CheckResult
    assert built == result
    assert hash(built) == hash(result)


@given(check_results(), st.text(max_size=400))
def test_converters_run_as_in_the_class(result: CheckResult, message: str) -> None:
    fields = {**_fields(result), "error_message": message}
    assert build(**fields).error_message == CheckResult(**fields).error_message  # type: ignore[arg-type]


@given(check_results())
def test_validators_refuse_what_the_class_refuses(result: CheckResult) -> None:
    naive = datetime(2026, 1, 1)
    for name in ("started_at", "tls_not_after"):
        fields = {**_fields(result), name: naive}
        with pytest.raises(ValueError, match="timezone-aware"):
            CheckResult(**fields)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="timezone-aware"):
            build(**fields)


@given(check_results())
def test_disabled_validators_stay_disabled(result: CheckResult) -> None:
    fields = {**_fields(result), "started_at": datetime(2026, 1, 1)}
    with attrs.validators.disabled():
        assert build(**fields).started_at == fields["started_at"]


@given(check_results())
def test_the_result_stays_frozen(result: CheckResult) -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        build(**_fields(result)).ok = False  # type: ignore[misc]


def test_every_field_must_be_given() -> None:
    with pytest.raises(TypeError):
        _build("x")


@pytest.mark.parametrize(
    "order",
    [ORDER[1:], [*ORDER, "check_id"], [*ORDER[:-1], "no_such_field"]],
    ids=["missing", "twice", "unknown"],
)
def test_the_order_names_each_field_once(order: list[str]) -> None:
    with pytest.raises(TypeError, match="each field"):
        fast_constructor(CheckResult, order)


def test_a_class_without_slots_is_refused() -> None:
    @attrs.define(slots=False)
    class Loose:
        value: int

    with pytest.raises(TypeError, match="slotted"):
        fast_constructor(Loose, ["value"])
