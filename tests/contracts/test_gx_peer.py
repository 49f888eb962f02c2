"""Peer check: the same rules as an ODCS contract (run by assay over a Delta table) and as a
Great Expectations suite (pandas) on the same generated data give the same pass/fail and the
same unexpected counts.

Where the two tools define a measure differently, the test states the mapping instead of
hiding it:

- uniqueness: GX counts every row of a duplicated group (`keep=False`), assay's
  duplicateValues counts the surplus rows (`count(x) - count(DISTINCT x)`);
- percent thresholds: assay divides by all rows, GX's `mostly` by the non-null rows;
- regular expressions: ODCS patterns follow ECMA-262, where `\\d` and `\\w` are ASCII and
  `$` is the end of the text; DuckDB's RE2 agrees, GX's Python `re` does not (`\\d` is any
  Unicode digit, `$` also matches before a final newline, so GX is given `^...\\Z`);
- NaN: pandas cannot tell NaN from null, Arrow and DuckDB can.

The last test checks that freshness does not depend on the machine's time zone.
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from assay.catalog import Catalog
from assay.contracts.check import check_dataset
from assay.contracts.enforce import CheckResult, enforce
from assay.contracts.odcs import load_contract_file
from assay.engines import get_engine
from assay.tables import Warehouse

pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # no usage reports from tests
gx = pytest.importorskip("great_expectations")
gxe = pytest.importorskip("great_expectations.expectations")

DATASET = "silver.orders"
ROWS = 3000
MIN_ROWS, MAX_ROWS = 100, 10_000
MEAN_LOW, MEAN_HIGH = 0.0, 1000.0
STATUSES = ["new", "paid", "refunded", "café"]
COUNTRIES = ["DE", "FR", "JP", "BR"]
CODE = "^[A-Z]{2}-[0-9]{3}$"
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"  # assay's `format: email`


def full_match(pattern: str) -> str:
    """A `^...$` pattern as GX must be given it: Python's `$` also matches before a final
    newline, ECMA-262's (ODCS) and RE2's (assay) only at the end."""
    assert pattern.startswith("^") and pattern.endswith("$")
    return pattern[:-1] + r"\Z"


CONTRACT = f"""
apiVersion: v3.1.0
kind: DataContract
id: orders
version: 1.0.0
status: active
schema:
  - name: orders
    physicalName: {DATASET}
    properties:
      - name: id
        logicalType: integer
        required: true
        unique: true
      - name: amount
        logicalType: number
        logicalTypeOptions: {{minimum: 0, maximum: 1000}}
        quality:
          - metric: nullValues
            mustBeLessOrEqualTo: 5
            unit: percent
      - name: status
        logicalType: string
        quality:
          - metric: invalidValues
            arguments: {{validValues: {STATUSES}}}
            mustBe: 0
      - name: country
        logicalType: string
        quality:
          - metric: invalidValues
            arguments: {{validValues: {COUNTRIES}}}
            mustBeLessOrEqualTo: 10
            unit: percent
      - name: code
        logicalType: string
        logicalTypeOptions: {{pattern: "{CODE}"}}
      - name: name
        logicalType: string
        logicalTypeOptions: {{minLength: 2, maxLength: 6}}
      - name: email
        logicalType: string
        logicalTypeOptions: {{format: email}}
      - name: customer
        logicalType: integer
      - name: day
        logicalType: date
      - name: ts
        logicalType: timestamp
    quality:
      - metric: rowCount
        mustBeBetween: [{MIN_ROWS}, {MAX_ROWS}]
      - metric: duplicateValues
        arguments: {{properties: [customer, day]}}
        mustBe: 0
      - type: sql
        name: mean_amount
        query: SELECT avg(amount) FROM ${{table}}
        mustBeBetween: [{MEAN_LOW}, {MEAN_HIGH}]
slaProperties:
  - property: freshness
    value: 1
    unit: d
    element: orders.ts
"""

SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("amount", pa.float64()),
        ("status", pa.string()),
        ("country", pa.string()),
        ("code", pa.string()),
        ("name", pa.string()),
        ("email", pa.string()),
        ("customer", pa.int64()),
        ("day", pa.date32()),
        ("ts", pa.timestamp("us")),
    ]
)


def generate(rows: int, seed: int = 20260) -> pa.Table:
    """Seeded orders with nulls, duplicates, out-of-range and extreme numbers, unicode,
    values outside the accepted sets and pattern mismatches."""
    rnd = random.Random(seed)
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)

    def sometimes(p: float, bad: list[Any], good: Any) -> Any:
        return rnd.choice(bad) if rnd.random() < p else good

    data: dict[str, list[Any]] = {f.name: [] for f in SCHEMA}
    for i in range(rows):
        data["id"].append(sometimes(0.02, [None, rnd.randrange(max(i, 1))], i))
        data["amount"].append(
            sometimes(
                0.08,
                [None, -0.01, 1000.0001, -1e300, 1e300, math.inf, -math.inf, 0.0, 1000.0, -0.0],
                round(rnd.uniform(0, 1000), 2),
            )
        )
        data["status"].append(
            sometimes(
                0.05, [None, "PAID", "cafe\u0301", "", "refunded ", "新"], rnd.choice(STATUSES)
            )
        )
        data["country"].append(sometimes(0.06, [None, "de", "XX", "ÄÖ"], rnd.choice(COUNTRIES)))
        letters = "".join(rnd.choice("ABCXYZ") for _ in range(2))
        data["code"].append(
            sometimes(
                0.05,
                [
                    None,
                    "ab-123",
                    "AB-1234",
                    "AB123",
                    "ÄB-123",
                    "AB-12\uff13",
                    "AB-123\n",
                    "",
                    " AB-123",
                ],
                f"{letters}-{rnd.randrange(1000):03d}",
            )
        )
        data["name"].append(
            sometimes(
                0.05,
                [None, "A", "", "e\u0301", "ééééééé", "👍🏽", "名前", "abcdefg"],
                rnd.choice(["Ana", "Bo", "Zoë", "Jürgen", "李雷"]),
            )
        )
        data["email"].append(
            sometimes(
                0.05,
                [None, "bad", "a@b", "a b@c.de", "@b.co", "ünï@cödé.de"],
                f"user{i}@example.com",
            )
        )
        data["customer"].append(rnd.randrange(rows // 3))
        data["day"].append((now - timedelta(days=rnd.randrange(30))).date())
        data["ts"].append(now - timedelta(minutes=rnd.randrange(60 * 24 * 20) + 5))
    # Compound key nulls: GX and assay must agree on (NULL, NULL) pairs too.
    for i in range(0, rows, 97):
        data["customer"][i] = None
        data["day"][i] = None
    return pa.table(data, schema=SCHEMA)


def gx_suite() -> Any:
    suite = gx.ExpectationSuite(name="orders")
    for expectation in [
        gxe.ExpectColumnValuesToNotBeNull(column="id"),
        gxe.ExpectColumnValuesToBeUnique(column="id"),
        gxe.ExpectColumnValuesToBeBetween(column="amount", min_value=0, max_value=1000),
        gxe.ExpectColumnValuesToNotBeNull(column="amount", mostly=0.95),
        gxe.ExpectColumnValuesToBeInSet(column="status", value_set=STATUSES),
        gxe.ExpectColumnValuesToBeInSet(column="country", value_set=COUNTRIES, mostly=0.9),
        gxe.ExpectColumnValuesToMatchRegex(column="code", regex=full_match(CODE)),
        gxe.ExpectColumnValueLengthsToBeBetween(column="name", min_value=2, max_value=6),
        gxe.ExpectColumnValuesToMatchRegex(column="email", regex=full_match(EMAIL)),
        gxe.ExpectTableRowCountToBeBetween(min_value=MIN_ROWS, max_value=MAX_ROWS),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["customer", "day"], ignore_row_if="never"),
        gxe.ExpectColumnMeanToBeBetween(column="amount", min_value=MEAN_LOW, max_value=MEAN_HIGH),
        gxe.ExpectColumnMaxToBeBetween(
            column="ts", min_value=datetime.now(UTC).replace(tzinfo=None) - timedelta(days=1)
        ),
    ]:
        suite.add_expectation(expectation)
    return suite


def run_gx(table: pa.Table) -> dict[tuple[str, str], Any]:
    """GX results keyed by (expectation type, column or columns)."""
    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas("pandas")
        .add_dataframe_asset("orders")
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": table.to_pandas()})
    )
    result = batch.validate(gx_suite(), result_format="COMPLETE")
    out = {}
    for r in result.results:
        kwargs = r.expectation_config.kwargs
        key = kwargs.get("column") or ",".join(kwargs.get("column_list") or []) or "table"
        if r.expectation_config.type == "expect_column_values_to_not_be_null" and kwargs.get(
            "mostly"
        ):
            key += "~mostly"
        out[(r.expectation_config.type, key)] = r
    return out


@pytest.fixture(scope="module")
def data() -> pa.Table:
    return generate(ROWS)


@pytest.fixture(scope="module")
def contracts(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("contracts") / "orders.yaml"
    path.write_text(CONTRACT)
    return load_contract_file(path)


def check(table: pa.Table, contracts: Any, root: Path) -> dict[str, CheckResult]:
    """assay's results for `table` written as a Delta table (every rule sees every row)."""
    warehouse = Warehouse(str(root / "wh"))
    write_deltalake(warehouse.uri(DATASET), table)
    engine = get_engine("duckdb", warehouse)
    results = check_dataset(engine, warehouse, Catalog("sqlite://"), "run", DATASET, contracts)
    return {r.rule: r for r in results}


@pytest.fixture(scope="module")
def assay_results(
    data: pa.Table, contracts: Any, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, CheckResult]:
    return check(data, contracts, tmp_path_factory.mktemp("check"))


@pytest.fixture(scope="module")
def gx_results(data: pa.Table) -> dict[tuple[str, str], Any]:
    return run_gx(data)


def failed(result: CheckResult) -> bool:
    return result.status != "pass"


def test_the_data_breaks_every_kind_of_rule(data: pa.Table) -> None:
    """Guard against a generator that silently stops producing defects."""
    rows = data.to_pylist()
    assert sum(r["id"] is None for r in rows) > 0
    assert len({r["id"] for r in rows if r["id"] is not None}) < sum(
        r["id"] is not None for r in rows
    )
    assert any(r["amount"] is not None and r["amount"] > 1000 for r in rows)
    assert any(r["status"] == "cafe\u0301" for r in rows)  # NFD: not the accepted "café"
    assert any(r["code"] == "AB-12\uff13" for r in rows)


def test_row_rules_agree(assay_results: dict[str, CheckResult], gx_results: Any) -> None:
    pairs = {
        # assay row rules (observed = breaking rows) -> the GX expectation with that count
        ("required(id)",): ("expect_column_values_to_not_be_null", "id"),
        ("minimum(amount)", "maximum(amount)"): ("expect_column_values_to_be_between", "amount"),
        ("invalidValues(status)",): ("expect_column_values_to_be_in_set", "status"),
        ("pattern(code)",): ("expect_column_values_to_match_regex", "code"),
        ("minLength(name)", "maxLength(name)"): (
            "expect_column_value_lengths_to_be_between",
            "name",
        ),
        ("format(email)",): ("expect_column_values_to_match_regex", "email"),
    }
    for rules, key in pairs.items():
        ours = sum(assay_results[rule].observed or 0 for rule in rules)
        theirs = gx_results[key]
        assert ours == theirs.result["unexpected_count"], (rules, key)
        assert any(failed(assay_results[rule]) for rule in rules) == (not theirs.success), rules
        assert ours > 0, f"the data should break {rules}"


def test_row_rule_counts_match_enforce(
    data: pa.Table, contracts: Any, assay_results: dict[str, CheckResult], tmp_path: Path
) -> None:
    """The on-demand check and the write-time quarantine count the same breaking rows."""
    enforcement = enforce(get_engine("duckdb", Warehouse(str(tmp_path))), contracts, data)
    row_results = [r for r in enforcement.results if r.kind == "row"]
    assert row_results
    for r in row_results:
        assert r.observed == assay_results[r.rule].observed, r.rule
    assert enforcement.good.num_rows + enforcement.rejected.num_rows == data.num_rows


def test_uniqueness_agrees(
    data: pa.Table, assay_results: dict[str, CheckResult], gx_results: Any
) -> None:
    ours = assay_results["unique(id)"]
    theirs = gx_results[("expect_column_values_to_be_unique", "id")]
    assert failed(ours) == (not theirs.success) is True
    # GX: every row of a duplicated group; assay: the rows beyond the first of each group.
    duplicated_values = len(set(theirs.result["unexpected_list"]))
    assert ours.observed == theirs.result["unexpected_count"] - duplicated_values

    ours = assay_results["duplicateValues"]
    theirs = gx_results[("expect_compound_columns_to_be_unique", "customer,day")]
    assert failed(ours) == (not theirs.success) is True
    keys = list(zip(data["customer"].to_pylist(), data["day"].to_pylist(), strict=True))
    groups = {k: keys.count(k) for k in set(keys)}
    assert theirs.result["unexpected_count"] == sum(n for n in groups.values() if n > 1)
    assert ours.observed == sum(n - 1 for n in groups.values())


def test_percent_thresholds_agree(
    data: pa.Table, assay_results: dict[str, CheckResult], gx_results: Any
) -> None:
    ours = assay_results["nullValues(amount)"]
    theirs = gx_results[("expect_column_values_to_not_be_null", "amount~mostly")]
    assert math.isclose(ours.observed, theirs.result["unexpected_percent"])
    assert failed(ours) == (not theirs.success)

    ours = assay_results["invalidValues(country)"]
    theirs = gx_results[("expect_column_values_to_be_in_set", "country")]
    total, nulls = data.num_rows, data["country"].null_count
    unexpected = theirs.result["unexpected_count"]
    # assay: percent of all rows; GX: percent of the non-null rows.
    assert math.isclose(ours.observed, 100 * unexpected / total)
    assert math.isclose(theirs.result["unexpected_percent"], 100 * unexpected / (total - nulls))
    assert failed(ours) == (not theirs.success)


def test_percent_of_rows_is_not_percent_of_values(tmp_path: Path, contracts: Any) -> None:
    """Known, documented difference of definitions: with half the countries null, 2 invalid
    of 20 rows is 10% for assay (pass, <= 10%) and 2 of 10 values is 20% for GX (fail)."""
    table = generate(20, seed=9)
    countries = [None] * 10 + ["XX"] * 2 + ["DE"] * 8
    table = table.set_column(3, "country", pa.array(countries, pa.string()))
    ours = check(table, contracts, tmp_path)["invalidValues(country)"]
    theirs = run_gx(table)[("expect_column_values_to_be_in_set", "country")]
    assert (ours.observed, ours.status) == (10.0, "pass")
    assert (theirs.result["unexpected_percent"], theirs.success) == (20.0, False)


def test_table_rules_agree(assay_results: dict[str, CheckResult], gx_results: Any) -> None:
    ours = assay_results["rowCount"]
    theirs = gx_results[("expect_table_row_count_to_be_between", "table")]
    assert ours.observed == theirs.result["observed_value"] == ROWS
    assert failed(ours) == (not theirs.success)

    ours = assay_results["mean_amount"]
    theirs = gx_results[("expect_column_mean_to_be_between", "amount")]
    observed = theirs.result["observed_value"]
    observed = math.nan if observed is None else float(observed)  # GX reports NaN as None
    # The data holds +-inf and +-1e300, so the mean is inf or nan in both tools or neither.
    assert (math.isfinite(ours.observed), math.isnan(ours.observed)) == (
        math.isfinite(observed),
        math.isnan(observed),
    )
    if math.isfinite(observed):
        assert math.isclose(ours.observed, observed, rel_tol=1e-9)
    assert failed(ours) == (not theirs.success)

    ours = assay_results["freshness(ts)"]
    theirs = gx_results[("expect_column_max_to_be_between", "ts")]
    assert failed(ours) == (not theirs.success) is False
    newest = theirs.result["observed_value"]
    newest = datetime.fromisoformat(str(newest)) if not isinstance(newest, datetime) else newest
    lag = datetime.now(UTC).replace(tzinfo=None) - newest
    assert abs(ours.observed - lag.total_seconds()) < 60


def test_a_mean_of_finite_values_agrees(tmp_path: Path, contracts: Any) -> None:
    """The SQL mean rule against GX's mean on data without infinities."""
    table = generate(500, seed=3)
    amounts = [a if a is None or math.isfinite(a) else 1.0 for a in table["amount"].to_pylist()]
    table = table.set_column(1, "amount", pa.array(amounts, pa.float64()))
    ours = check(table, contracts, tmp_path)["mean_amount"]
    theirs = run_gx(table)[("expect_column_mean_to_be_between", "amount")]
    assert math.isclose(ours.observed, theirs.result["observed_value"], rel_tol=1e-9)
    assert failed(ours) == (not theirs.success)


def _pattern_counts(
    pattern: str, values: list[str | None], tmp_path: Path, for_gx: Any = lambda p: p
) -> tuple[int, int]:
    """Rows breaking `pattern` as assay counts them, and as GX counts them (given
    `for_gx(pattern)`)."""
    path = tmp_path / "p.yaml"
    path.write_text(
        CONTRACT.split("    properties:")[0]
        + "    properties:\n      - name: code\n        logicalType: string\n"
        + f"        logicalTypeOptions: {{pattern: '{pattern}'}}\n"
    )
    table = pa.table({"code": pa.array(values, pa.string())})
    enforcement = enforce(
        get_engine("duckdb", Warehouse(str(tmp_path))), load_contract_file(path), table
    )
    ours = next(r for r in enforcement.results if r.rule == "pattern(code)").observed
    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas("p")
        .add_dataframe_asset("a")
        .add_batch_definition_whole_dataframe("b")
        .get_batch(batch_parameters={"dataframe": table.to_pandas()})
    )
    suite = gx.ExpectationSuite(name="p")
    suite.add_expectation(gxe.ExpectColumnValuesToMatchRegex(column="code", regex=for_gx(pattern)))
    theirs = batch.validate(suite, result_format="SUMMARY").results[0].result["unexpected_count"]
    return int(ours or 0), int(theirs)


def test_ascii_patterns_agree_on_unicode_data(tmp_path: Path) -> None:
    values = [
        "AB-123",
        "ÄB-123",
        "AB-\u0661\u0662\u0663",
        "AB-12\uff13",
        "ab-123",
        None,
        "AB-123\n",
        "",
    ]
    assert _pattern_counts("^[A-Z]{2}-[0-9]{3}$", values, tmp_path, full_match) == (6, 6)


def test_a_dollar_anchor_lets_a_final_newline_through_gx_only(tmp_path: Path) -> None:
    """Known, documented difference: given `^...$`, GX (Python `re.search`) accepts
    "AB-123\\n" because Python's `$` matches before a final newline; ECMA-262 and RE2 do not.
    The peer suite therefore gives GX `^...\\Z`."""
    values = ["AB-123", "AB-123\n"]
    assert _pattern_counts("^[A-Z]{2}-[0-9]{3}$", values, tmp_path) == (1, 0)


def test_shorthand_classes_are_ascii_in_assay_and_unicode_in_gx(tmp_path: Path) -> None:
    """Known, documented difference: ODCS patterns are ECMA-262, where `\\d` means [0-9] and
    `\\w` [A-Za-z0-9_]; DuckDB's RE2 agrees. GX on pandas uses Python's `re`, where both
    match any Unicode digit or letter, so Arabic-Indic digits and accented letters pass GX."""
    values = ["AB-123", "AB-\u0661\u0662\u0663", "ÄB-123", "AB-12\uff13"]
    ours, theirs = _pattern_counts(r"^\w{2}-\d{3}$", values, tmp_path, full_match)
    assert (ours, theirs) == (3, 0)


def test_nan_is_a_value_for_assay_and_a_null_for_gx(tmp_path: Path, contracts: Any) -> None:
    """Known difference of representations, not of rules: Arrow keeps NaN apart from null,
    pandas does not. assay: a NaN amount is not null and breaks `maximum` (DuckDB orders NaN
    above every number); GX: it is a null, so `not_be_null` counts it and `between` skips it."""
    table = generate(50, seed=5)
    amounts = [math.nan if i < 3 else 5.0 for i in range(table.num_rows)]
    table = table.set_column(1, "amount", pa.array(amounts, pa.float64()))
    enforcement = enforce(get_engine("duckdb", Warehouse(str(tmp_path))), contracts, table)
    by_rule = {r.rule: r for r in enforcement.results}
    assert by_rule["maximum(amount)"].observed == 3
    gx_by_key = run_gx(table)
    assert (
        gx_by_key[("expect_column_values_to_be_between", "amount")].result["unexpected_count"] == 0
    )
    assert (
        gx_by_key[("expect_column_values_to_not_be_null", "amount~mostly")].result[
            "unexpected_count"
        ]
        == 3
    )


FRESHNESS_SCRIPT = """
import json, sys
from datetime import UTC, datetime, timedelta
import pyarrow as pa
from deltalake import write_deltalake
from assay.catalog import Catalog
from assay.contracts.check import check_dataset
from assay.contracts.enforce import enforce
from assay.contracts.odcs import load_contract_file
from assay.engines import get_engine
from assay.tables import Warehouse
from pathlib import Path

root = Path(sys.argv[1])
(root / "c.yaml").write_text('''
apiVersion: v3.1.0
kind: DataContract
id: f
version: 1.0.0
status: active
schema:
  - name: f
    physicalName: silver.f
    properties:
      - name: ts
        logicalType: timestamp
slaProperties:
  - property: freshness
    value: 1
    unit: d
    element: f.ts
''')
contracts = load_contract_file(root / "c.yaml")
two_hours_ago = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=2)
table = pa.table({"ts": pa.array([two_hours_ago], pa.timestamp("us"))})
wh = Warehouse(str(root / "wh"))
write_deltalake(wh.uri("silver.f"), table)
engine = get_engine("duckdb", wh)
checked = check_dataset(engine, wh, Catalog("sqlite://"), "r", "silver.f", contracts)
enforced = enforce(engine, contracts, table)
lag = lambda results: next(r.observed for r in results if r.rule == "freshness(ts)")
print(json.dumps([lag(checked), lag(enforced.results)]))
"""


def test_freshness_does_not_depend_on_the_machine_time_zone(tmp_path: Path) -> None:
    env = {**os.environ, "TZ": "Asia/Tokyo"}
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(FRESHNESS_SCRIPT), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    checked, enforced = json.loads(out.stdout.strip().splitlines()[-1])
    assert abs(checked - 7200) < 120, checked
    assert abs(enforced - 7200) < 120, enforced
