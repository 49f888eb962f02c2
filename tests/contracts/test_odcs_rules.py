"""Rules as the ODCS text defines them, each checked against pandas or the text itself:
nulls in value lists, exclusive `mustBeBetween`, several operators, SQL placeholders and
other datasets, load-time refusals that name file and rule, row warnings that keep rows,
draft contracts, binding by name, and `assay contract infer` on every Delta type."""

from __future__ import annotations

import textwrap
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
import yaml

import assay
from assay.catalog import Catalog
from assay.contracts import ContractError, load_contract_file, load_contracts
from assay.contracts.binding import bind_file
from assay.contracts.enforce import enforce
from assay.contracts.infer import MIN_SAMPLE, infer_contract
from assay.engines import get_engine
from assay.tables import Warehouse
from tests.conftest import MakeProject
from tests.contracts.odcs_support import Lake, failing
from tests.helpers import EVENTS_INGEST, event, jsonl

HEAD = """
apiVersion: v3.1.0
kind: DataContract
id: t
version: 1.0.0
status: {status}
schema:
  - name: t
    properties:
"""


def contract(tmp_path: Path, properties: str, extra: str = "", status: str = "active") -> Path:
    path = tmp_path / "contracts" / "t.yaml"
    path.parent.mkdir(exist_ok=True)
    body = textwrap.indent(textwrap.dedent(properties).strip(), " " * 6)
    quality = textwrap.indent(textwrap.dedent(extra).strip(), " " * 4)
    path.write_text(HEAD.format(status=status) + body + "\n" + quality + "\n")
    return path


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    warehouse = Warehouse(str(tmp_path / "wh"))
    return Lake(warehouse, get_engine("duckdb", warehouse), Catalog("sqlite://"))


def run(lake: Lake, path: Path, table: pa.Table, datasets: tuple[str, ...] = ()) -> Any:
    contracts = bind_file(load_contract_file(path), ["silver.t", *datasets])
    lake.put("silver.t", table)
    return lake.check("silver.t", contracts), enforce(lake.engine, contracts, table)


VALUES = ["a", "", None, "n/a", "x", "N/A", None, "b"]


@pytest.mark.parametrize(
    ("arguments", "oracle"),
    [
        ({"validValues": ["a", None]}, lambda s: s.notna() & ~s.isin(["a"])),
        ({"validValues": ["a", "b"]}, lambda s: s.notna() & ~s.isin(["a", "b"])),
        ({"invalidValues": ["", None, "n/a"]}, lambda s: s.isna() | s.isin(["", "n/a"])),
        ({"invalidValues": ["x"]}, lambda s: s.isin(["x"])),
    ],
)
def test_nulls_in_value_lists_are_values(
    lake: Lake, tmp_path: Path, arguments: Any, oracle: Any
) -> None:
    rule = {"metric": "invalidValues", "arguments": arguments, "mustBeLessThan": 1}
    path = contract(
        tmp_path, f"- name: v\n  quality: [{yaml.safe_dump(rule, default_flow_style=True).strip()}]"
    )
    expected = int(oracle(pd.Series(VALUES, dtype=object)).sum())
    assert expected > 0
    checked, _ = run(lake, path, pa.table({"v": VALUES}))
    assert checked["invalidValues(v)"].observed == expected
    # The same rule with mustBe: 0 is row-level: the breaking rows are quarantined.
    path.write_text(path.read_text().replace("mustBeLessThan", "mustBe").replace(": 1", ": 0"))
    _, enforced = run(lake, path, pa.table({"v": VALUES}))
    assert enforced.rejected.num_rows == expected
    assert enforced.good.num_rows + enforced.rejected.num_rows == len(VALUES)


def test_missing_values_with_and_without_null(lake: Lake, tmp_path: Path) -> None:
    for missing, oracle in (([None, "", "N/A", "n/a"], 5), (["", "N/A"], 2)):
        rule = {
            "metric": "missingValues",
            "arguments": {"missingValues": missing},
            "mustBeLessThan": 100,
        }
        path = contract(
            tmp_path,
            f"- name: v\n  quality: [{yaml.safe_dump(rule, default_flow_style=True).strip()}]",
        )
        series = pd.Series(VALUES, dtype=object)
        listed = [m for m in missing if m is not None]
        assert int((series.isin(listed) | (series.isna() & (None in missing))).sum()) == oracle
        checked, _ = run(lake, path, pa.table({"v": VALUES}))
        assert checked["missingValues(v)"].observed == oracle


def test_between_is_exclusive(lake: Lake, tmp_path: Path) -> None:
    """data-quality.md: "mustBeBetween is the equivalent to mustBeGreaterThan and
    mustBeLessThan" (bounds excluded); mustNotBeBetween is its complement."""
    extra = """
    quality:
      - {name: between, metric: rowCount, mustBeBetween: [3, 5]}
      - {name: not between, metric: rowCount, mustNotBeBetween: [3, 5]}
    """
    path = contract(tmp_path, "- name: v", extra)
    for rows, verdicts in ((3, ("fail", "pass")), (4, ("pass", "fail")), (5, ("fail", "pass"))):
        checked, _ = run(lake, path, pa.table({"v": ["a"] * rows}))
        assert tuple(checked[r].status for r in ("between", "not between")) == verdicts


def test_sql_rules_placeholders_and_other_datasets(lake: Lake, tmp_path: Path) -> None:
    extra = """
    quality:
      - {name: std, type: sql, query: "SELECT count(*) FROM {object} WHERE v > 2", mustBe: 1}
      - {name: legacy, type: sql, query: "SELECT max(v) FROM ${table}", mustBe: 3}
      - name: ref
        type: sql
        query: "SELECT count(*) FROM t JOIN ref USING (v)"
        mustBe: 2
      - name: layered
        type: sql
        query: "SELECT count(*) FROM silver.t AS a WHERE a.v NOT IN (SELECT v FROM gold.ref)"
        mustBe: 1
    """
    props = """
    - name: v
      quality:
        - name: prop
          type: sql
          query: "SELECT count(*) FROM {object} WHERE {property} IS NULL"
          mustBe: 0
        - {name: prop_legacy, type: sql, query: "SELECT min(${column}) FROM ${table}", mustBe: 1}
    """
    path = contract(tmp_path, props, extra)
    lake.put("gold.ref", pa.table({"v": [1, 2, 9]}))
    checked, _ = run(lake, path, pa.table({"v": [1, 2, 3]}), ("gold.ref",))
    assert {k: r.status for k, r in checked.items()} == dict.fromkeys(
        ("std", "legacy", "ref", "layered", "prop", "prop_legacy"), "pass"
    )


def test_a_sql_syntax_error_fails_at_load_naming_file_and_rule(tmp_path: Path) -> None:
    query = "SELECT count(* FROM {object}"
    extra = f'quality:\n  - {{name: broken, type: sql, query: "{query}", mustBe: 0}}\n'
    path = contract(tmp_path, "- name: v", extra)
    with pytest.raises(ContractError) as err:
        load_contract_file(path)
    assert "t.yaml" in str(err.value) and "'broken'" in str(err.value)
    path.write_text(path.read_text().replace("count(* FROM", "count(*) FROM nowhere, "))
    with pytest.raises(ContractError, match=r"reads a table: 'nowhere' is not a dataset"):
        bind_file(load_contract_file(path), ["silver.t"])


@pytest.mark.parametrize(
    ("pattern", "words"),
    [("^(?!x).*$", "lookahead"), (r"(a)\1", "backreference"), ("[a-", "not a valid")],
)
def test_patterns_the_engine_cannot_run_are_refused_at_load(
    tmp_path: Path, pattern: str, words: str
) -> None:
    path = contract(
        tmp_path,
        f"- name: code\n  logicalType: string\n  logicalTypeOptions: {{pattern: '{pattern}'}}",
    )
    with pytest.raises(ContractError, match=words) as err:
        load_contract_file(path)
    assert "pattern(code)" in str(err.value) and "t.yaml" in str(err.value)


def test_a_schema_level_null_rule_is_refused_and_percent_messages_show_values(
    lake: Lake, tmp_path: Path
) -> None:
    extra = "quality:\n  - {metric: nullValues, mustBeLessThan: 5, unit: percent}\n"
    with pytest.raises(ContractError, match="property-level metric") as err:
        load_contract_file(contract(tmp_path, "- name: v", extra))
    assert "nullValues" in str(err.value) and "t.yaml" in str(err.value)
    rule = "  quality: [{metric: nullValues, mustBeLessThan: 5, unit: percent}]"
    checked, _ = run(
        lake, contract(tmp_path, "- name: v\n" + rule), pa.table({"v": ["a", None, None, "b"]})
    )
    assert checked["nullValues(v)"].detail == "nullValues(v) = 50%, expected < 5%"


def test_row_warnings_keep_rows_and_draft_contracts_warn(make_project: MakeProject) -> None:
    silver = "-- name: silver.clean\nSELECT * FROM {{ ref('bronze.events') }}\n"
    rows = jsonl(event(i, 1, a, "2026-01-01 10:00:00") for i, a in enumerate([5, -1, 7, -2]))
    text = """
apiVersion: v3.1.0
kind: DataContract
id: e
version: 1.0.0
status: STATUS
schema:
  - name: clean
    properties:
      - name: amount
        logicalType: number
        logicalTypeOptions: {minimum: 0}
      - name: event_id
        quality:
          - metric: invalidValues
            arguments: {validValues: [0, 1, 3]}
            mustBe: 0
            severity: warning
"""
    files = {
        "pipelines/ingest.py": EVENTS_INGEST,
        "pipelines/silver.sql": silver,
        "data/events/a.jsonl": rows,
    }
    root = make_project({**files, "contracts/e.yaml": text.replace("STATUS", "active")})
    project = assay.Project(root)
    assert project.contracts["silver.clean"][0].dataset == "silver.clean"  # bound by name
    result = project.run()
    silver_result = result.result("silver.clean")
    # minimum (error) quarantines -1 and -2; the warning flags event 2 and keeps it.
    assert (silver_result.rows_in, silver_result.rows_written, silver_result.rows_quarantined) == (
        4,
        2,
        2,
    )
    assert sorted(project.table("silver.clean")["event_id"].to_pylist()) == [0, 2]
    flagged = {r.rule: r for r in project.check(["silver.clean"])}["invalidValues(event_id)"]
    assert (flagged.status, flagged.observed) == ("warn", 1)
    (root / "contracts" / "e.yaml").write_text(text.replace("STATUS", "draft"))
    draft = assay.Project(root)
    again = draft.run(full_refresh=True).result("silver.clean")
    assert (again.rows_written, again.rows_quarantined) == (4, 0)  # a draft only warns
    checks = {r.rule: r for r in draft.check(["silver.clean"])}
    assert (checks["minimum(amount)"].status, checks["minimum(amount)"].observed) == ("warn", 2)
    assert (
        checks["invalidValues(event_id)"].status,
        checks["invalidValues(event_id)"].observed,
    ) == ("warn", 1)


def test_binding_names_the_candidates(tmp_path: Path) -> None:
    path = contract(tmp_path, "- name: v")
    with pytest.raises(ContractError, match=r"matches several datasets: bronze\.t, silver\.t"):
        load_contracts(path.parent, ["bronze.t", "silver.t"])
    with pytest.raises(ContractError) as err:
        load_contracts(path.parent, ["bronze.u", "gold.x"])
    assert "'t' is not a dataset" in str(err.value) and "bronze.u, gold.x" in str(err.value)
    assert [c.dataset for c in load_contracts(path.parent, ["silver.t", "gold.x"])["silver.t"]] == [
        "silver.t"
    ]


def test_property_physical_name_binds_the_column(lake: Lake, tmp_path: Path) -> None:
    path = contract(
        tmp_path,
        "- name: amount\n  physicalName: amt_eur\n  logicalType: number\n"
        "  logicalTypeOptions: {minimum: 0}",
    )
    checked, enforced = run(lake, path, pa.table({"amt_eur": [1.0, -1.0]}))
    assert checked["minimum(amt_eur)"].observed == 1
    assert enforced.rejected["amt_eur"].to_pylist() == [-1.0]


def test_one_failing_rule_does_not_abort_check(make_project: MakeProject) -> None:
    silver = "-- name: silver.events\nSELECT * FROM {{ ref('bronze.events') }}\n"
    text = """
apiVersion: v3.1.0
kind: DataContract
id: e
version: 1.0.0
status: active
schema:
  - name: events
    physicalName: silver.events
    properties: [{name: amount, logicalType: number, logicalTypeOptions: {maximum: 100}}]
    quality:
      - {name: bad query, type: sql, query: "SELECT sum(no_such_column) FROM {object}", mustBe: 0}
      - {metric: rowCount, mustBeGreaterThan: 0}
  - name: events_in
    physicalName: bronze.events
    quality: [{metric: rowCount, mustBeGreaterThan: 0}]
"""
    rows = jsonl(event(i, 1, 5.0, "2026-01-01 10:00:00") for i in range(3))
    root = make_project(
        {
            "pipelines/ingest.py": EVENTS_INGEST,
            "pipelines/silver.sql": silver,
            "data/events/a.jsonl": rows,
        }
    )
    assert assay.Project(root).run().ok
    (root / "contracts").mkdir()
    (root / "contracts" / "e.yaml").write_text(text)
    results = {(r.dataset, r.rule): r for r in assay.Project(root).check()}
    broken = results[("silver.events", "bad query")]
    assert broken.status == "fail" and "no_such_column" in (broken.detail or "")
    assert results[("silver.events", "rowCount")].status == "pass"
    assert results[("silver.events", "maximum(amount)")].status == "pass"
    assert results[("bronze.events", "rowCount")].status == "pass"


def every_delta_type(rows: int) -> pa.Table:
    n = range(rows)
    return pa.table(
        {
            "s": [f"k{i % 3}" for i in n],
            "l": pa.array(list(n), pa.int64()),
            "i": pa.array(list(n), pa.int32()),
            "sh": pa.array([i % 100 for i in n], pa.int16()),
            "b": pa.array([i % 100 for i in n], pa.int8()),
            "f": pa.array([i / 2 for i in n], pa.float32()),
            "d": pa.array([i / 4 for i in n], pa.float64()),
            "dec": pa.array([Decimal(i) / 100 for i in n], pa.decimal128(10, 2)),
            "flag": [i % 2 == 0 for i in n],
            "bin": [bytes([i % 256]) for i in n],
            "day": [date(2024, 1, 1)] * rows,
            "ts": pa.array([datetime(2024, 1, 1, 12)] * rows, pa.timestamp("us", tz="UTC")),
            "ntz": pa.array([datetime(2024, 1, 1, 12)] * rows, pa.timestamp("us")),
            "arr": [[i, i + 1] for i in n],
            "m": pa.array([[("a", i)] for i in n], pa.map_(pa.string(), pa.int64())),
            "st": [{"x": i, "y": "z"} for i in n],
        }
    )


@pytest.mark.parametrize("rows", [10, MIN_SAMPLE])
def test_infer_handles_every_delta_type_and_small_samples(
    lake: Lake, tmp_path: Path, rows: int
) -> None:
    table = every_delta_type(rows)
    lake.put("silver.t", table)
    document = infer_contract(lake.engine, "silver.t", lake.warehouse.schema("silver.t"))
    path = tmp_path / "contracts" / "inferred.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    contracts = bind_file(load_contract_file(path), ["silver.t"])
    assert document["status"] == "draft" and not contracts[0].enforcing
    props = {p["name"]: p for p in document["schema"][0]["properties"]}
    assert props["dec"]["logicalType"] == "number" and props["arr"]["logicalType"] == "array"
    assert props["st"]["logicalType"] == "object" and props["ts"]["logicalType"] == "timestamp"
    claims = {name for name, p in props.items() if "unique" in p or "logicalTypeOptions" in p}
    if rows < MIN_SAMPLE:
        assert claims == set() and "only 10 rows" in document["description"]["purpose"]
    else:
        frame = table.select(["l", "dec"]).to_pandas()
        assert props["l"]["unique"] and "1000 rows" in props["l"]["description"]
        assert props["dec"]["logicalTypeOptions"] == {
            "minimum": 0,
            "maximum": float(frame["dec"].max()),
        }
        assert props["s"]["quality"][0]["arguments"]["validValues"] == ["k0", "k1", "k2"]
    result = enforce(lake.engine, contracts, table)
    assert result.rejected.num_rows == 0 and result.blocked == []
    assert failing(lake.check("silver.t", contracts)) == {}
