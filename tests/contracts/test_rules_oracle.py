"""Every rule type against a brute-force Python oracle over generated data: nulls, empty
batches, unicode, extreme values and all-bad batches included."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assay.contracts.enforce import enforce
from assay.contracts.odcs import load_contract_file
from assay.engines import get_engine
from assay.tables import Warehouse

CONTRACT = """
apiVersion: v3.1.0
kind: DataContract
id: t
version: 1.0.0
status: active
schema:
  - name: t
    physicalName: silver.t
    properties:
      - name: id
        logicalType: integer
        required: true
      - name: amount
        logicalType: number
        logicalTypeOptions: {minimum: -100, maximum: 1000}
        quality:
          - metric: nullValues
            mustBeLessOrEqualTo: 25
            unit: percent
      - name: code
        logicalType: string
        logicalTypeOptions: {minLength: 1, maxLength: 3, pattern: "^[A-Zé]+$"}
        quality:
          - metric: invalidValues
            arguments: {validValues: ["A", "B", "é"]}
            mustBe: 0
      - name: email
        logicalType: string
        logicalTypeOptions: {format: email}
    quality:
      - metric: rowCount
        mustBeGreaterOrEqualTo: 1
      - metric: duplicateValues
        arguments: {properties: [id]}
        mustBe: 0
        severity: warning
"""

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def row_oracle(row: dict[str, Any]) -> set[str]:
    """The rules a row breaks, computed in plain Python."""
    broken = set()
    if row["id"] is None:
        broken.add("required(id)")
    a = row["amount"]
    if a is not None and a < -100:
        broken.add("minimum(amount)")
    if a is not None and a > 1000:
        broken.add("maximum(amount)")
    c = row["code"]
    if c is not None:
        if len(c) < 1:
            broken.add("minLength(code)")
        if len(c) > 3:
            broken.add("maxLength(code)")
        if not re.fullmatch(r"[A-Zé]+", c):
            broken.add("pattern(code)")
        if c not in ("A", "B", "é"):
            broken.add("invalidValues(code)")
    e = row["email"]
    if e is not None and not EMAIL.match(e):
        broken.add("format(email)")
    return broken


@pytest.fixture(scope="module")
def contract(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("c") / "t.yaml"
    path.write_text(CONTRACT)
    return load_contract_file(Path(path))


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return get_engine("duckdb", Warehouse(str(tmp_path_factory.mktemp("wh"))))


rows_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.one_of(st.none(), st.integers(-5, 5)),
            "amount": st.one_of(
                st.none(),
                st.floats(-1e12, 1e12, allow_nan=False),
                st.sampled_from([-100.0, 1000.0, -100.0001, 1000.0001]),
            ),
            "code": st.one_of(
                st.none(), st.sampled_from(["A", "B", "é", "", "AB", "ABCD", "a", "Ω"])
            ),
            "email": st.one_of(
                st.none(),
                st.sampled_from(["a@b.co", "ünï@cödé.de", "bad", "x@y", "a b@c.d", "@b.c"]),
            ),
        }
    ),
    max_size=40,
)

SCHEMA = pa.schema(
    [("id", pa.int64()), ("amount", pa.float64()), ("code", pa.string()), ("email", pa.string())]
)


@pytest.fixture(scope="module")
def spark_engine(spark_jars: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return get_engine("spark", Warehouse(str(tmp_path_factory.mktemp("wh"))))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=rows_strategy)
def test_rules_match_the_oracle(rows: list[dict[str, Any]], contract: Any, engine: Any) -> None:
    check_oracle(rows, enforce(engine, contract, pa.Table.from_pylist(rows, schema=SCHEMA)))


# On Spark the batch is a Frame, as a transform's result is there: the compiled rules run
# translated, the batch is split on Spark, and only rejected rows come back.
@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=rows_strategy)
def test_on_spark_rules_match_the_oracle(
    rows: list[dict[str, Any]], contract: Any, spark_engine: Any
) -> None:
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    frame = spark_engine.relation("SELECT * FROM t", {"t": table})
    try:
        result = enforce(spark_engine, contract, frame)
        result.good = result.good.to_arrow()
        check_oracle(rows, result)
    finally:
        frame.release()


def check_oracle(rows: list[dict[str, Any]], result: Any) -> None:

    expected_bad = [i for i, r in enumerate(rows) if row_oracle(r)]
    assert result.good.num_rows + result.rejected.num_rows == len(rows)  # nothing lost
    assert result.rejected.num_rows == len(expected_bad)
    assert result.rejected.to_pylist() == [rows[i] for i in expected_bad]
    for reason, i in zip(result.reasons, expected_bad, strict=True):
        named = {part.split(":")[0].strip() for part in reason.split("; ")}
        assert named == row_oracle(rows[i])

    good = [r for r in rows if not row_oracle(r)]
    by_rule = {r.rule: r for r in result.results}
    nulls = sum(1 for r in good if r["amount"] is None)
    pct = 100.0 * nulls / len(good) if good else 0.0
    assert math.isclose(by_rule["nullValues(amount)"].observed, pct)
    assert (by_rule["nullValues(amount)"].status == "pass") == (pct <= 25)
    ids = [r["id"] for r in good]
    duplicates = len(ids) - len(set(ids))
    assert by_rule["duplicateValues"].observed == duplicates
    assert by_rule["duplicateValues"].status == ("pass" if duplicates == 0 else "warn")
    assert by_rule["rowCount"].observed == len(good)
    assert (by_rule["rowCount"].status == "fail") == (len(good) < 1)
    assert (result.blocked != []) == (len(good) < 1 or pct > 25)


def test_an_all_bad_batch_is_all_quarantined_and_blocks_on_row_count(
    contract: Any, engine: Any
) -> None:
    rows = [{"id": None, "amount": 5e6, "code": "zz", "email": "nope"}] * 7
    result = enforce(engine, contract, pa.Table.from_pylist(rows, schema=SCHEMA))
    assert result.good.num_rows == 0
    assert result.rejected.num_rows == 7
    assert [r.rule for r in result.blocked] == ["rowCount"]


def test_an_empty_batch(contract: Any, engine: Any) -> None:
    result = enforce(engine, contract, SCHEMA.empty_table())
    assert result.rejected.num_rows == 0
    assert {r.rule for r in result.blocked} == {"rowCount"}


def test_text_columns_are_checked_against_the_logical_type(engine: Any, tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        CONTRACT.replace("logicalType: integer\n        required: true", "logicalType: integer")
    )
    contracts = load_contract_file(path)
    table = pa.table(
        {
            "id": ["1", "x", None, "2.5"],
            "amount": [1.0, 2.0, 3.0, 4.0],
            "code": ["A"] * 4,
            "email": [None] * 4,
        }
    )
    result = enforce(engine, contracts, table)
    assert result.good["id"].to_pylist() == ["1", None]
    assert [r.split(":")[0] for r in result.reasons] == ["type(id)", "type(id)"]


def test_multiple_of(engine: Any, tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(CONTRACT.replace("{minimum: -100, maximum: 1000}", "{multipleOf: 2.5}"))
    table = pa.Table.from_pylist(
        [{"id": 1, "amount": a, "code": "A", "email": None} for a in (5.0, 7.0, -2.5, None)],
        schema=SCHEMA,
    )
    result = enforce(engine, load_contract_file(path), table)
    assert result.rejected["amount"].to_pylist() == [7.0]
    assert result.reasons == ["multipleOf(amount): amount is not a multiple of 2.5"]
