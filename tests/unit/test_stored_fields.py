"""Every field of the model reaches every representation: the Avro schema and the stores'
column declaration (from which the SQL stores' mappings and tables derive)."""

from __future__ import annotations

import attrs
from hypothesis import given

from sitemon_adapters.codec.avro import load_schema
from sitemon_adapters.store.fields import FIELDS, row_reader, row_writer
from sitemon_core.models import CheckResult, PhaseTimings
from tests.strategies import check_results

# Computed by the model from the other fields; carried for readers that only see records.
DERIVED = {"outcome"}


def _model_paths() -> set[str]:
    paths = {field.name for field in attrs.fields(CheckResult)} - {"timings"}
    return paths | {f"timings.{field.name}" for field in attrs.fields(PhaseTimings)}


def test_the_declaration_covers_every_model_field() -> None:
    declared = {field.attribute for field in FIELDS}
    assert declared == _model_paths() | DERIVED
    assert {f.attribute for f in FIELDS if f.derived} == DERIVED
    assert len({f.column for f in FIELDS}) == len(FIELDS)


def test_the_avro_schema_covers_every_model_field() -> None:
    fields = load_schema()["fields"]
    paths = {f["name"] for f in fields if f["name"] != "timings"}
    timings = next(f for f in fields if f["name"] == "timings")["type"]["fields"]
    paths |= {f"timings.{f['name']}" for f in timings}
    assert paths == _model_paths() | DERIVED


@given(check_results())
def test_rows_without_conversions_round_trip(result: CheckResult) -> None:
    assert row_reader({})(row_writer({})(result)) == result
