"""A dbt project (staging -> intermediate -> marts, real dbt-core and dbt-duckdb) inside the
fraud example: its models build as assay datasets, its tests land in the check results,
its incremental mart builds only new days, lineage runs from silver to marts. Oracles:
pandas on the same silver tables, and dbt's own manifest for the tests it declares."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import assay
from assay.catalog_views.describe import describe
from assay.cli.main import app
from assay.lineage import Node, build_lineage
from assay.pipelines.quarantine import quarantine_name
from tests.helpers import catalog_rows
from tests.integrations.dbt.conftest import FIRST_DAYS, generate_through, make_fraud_with_dbt

MART = "marts.mart_card_daily"


def _cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "250", "NO_COLOR": "1"})


#: The marts contract (contracts/marts.yaml) quarantines card-days above this amount.
MAX_DAILY_AMOUNT = 300
MARTS_CONTRACT = f"""\
apiVersion: v3.1.0
kind: DataContract
id: marts
name: Marts
version: 1.0.0
status: active
schema:
  - name: mart_card_daily
    physicalName: {MART}
    properties:
      - name: amount_sum
        logicalType: number
        logicalTypeOptions: {{maximum: {MAX_DAILY_AMOUNT}}}
"""


@pytest.fixture(scope="module")
def fraud(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_fraud_with_dbt(tmp_path_factory.mktemp("fraud_dbt"))
    (root / "contracts" / "marts.yaml").write_text(MARTS_CONTRACT)
    return root


def _oracle(project: assay.Project) -> pd.DataFrame:
    """mart_card_daily computed with pandas from silver.transactions and silver.customers."""
    tx = project.table("silver.transactions").to_pandas()
    customers = project.table("silver.customers").to_pandas()[["customer_id", "country"]]
    customers["country"] = customers["country"].str.upper()
    joined = tx.merge(customers, on="customer_id", how="left")
    joined["day"] = joined["event_time"].dt.tz_localize(None).dt.floor("D")
    grouped = joined.groupby(["card_id", "day"]).agg(
        txn_count=("transaction_id", "size"),
        amount_sum=("amount", "sum"),
        countries=("country", "nunique"),
    )
    return grouped.reset_index()


def _keyed(frame: pd.DataFrame) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    return {
        (int(r.card_id), pd.Timestamp(r.day).tz_localize(None)): (
            int(r.txn_count),
            round(float(r.amount_sum), 6),
            int(r.countries),
        )
        for r in frame.itertuples()
    }


def _assert_mart_matches_pandas(project: assay.Project) -> None:
    expected = _oracle(project)
    kept = expected[expected["amount_sum"] <= MAX_DAILY_AMOUNT]
    over = expected[expected["amount_sum"] > MAX_DAILY_AMOUNT]
    assert len(over) > 0, "the contract must quarantine some card-days"
    assert _keyed(project.table(MART).to_pandas()) == _keyed(kept)
    quarantined = project.table(quarantine_name(MART)).num_rows
    assert quarantined == len(over)


def test_models_build_as_datasets_and_match_pandas(fraud: Path) -> None:
    project = assay.Project(fraud)
    spec = project.datasets[MART]
    assert (spec.kind.value, spec.time_column, spec.keys) == (
        "incremental",
        "day",
        ("card_id", "day"),
    )
    assert spec.inputs == ("intermediate.int_transactions_enriched",)
    result = project.run()
    assert result.ok, [r.error for r in result.failed]
    assert result.result("staging.stg_transactions").intervals == FIRST_DAYS
    mart = result.result(MART)
    assert mart.rows_in == mart.rows_written + mart.rows_quarantined
    assert mart.rows_quarantined > 0
    _assert_mart_matches_pandas(project)
    # The ephemeral model is inlined, not built; views and tables are tables.
    assert "intermediate.int_customer_countries" not in project.datasets
    staged = project.table("staging.stg_transactions").num_rows
    assert staged == project.table("silver.transactions").num_rows


def test_every_dbt_test_of_the_manifest_ran_and_passed(fraud: Path) -> None:
    project = assay.Project(fraud)
    (written,) = (fraud / ".assay" / "dbt" / "target").glob("*/manifest.json")  # by dbt
    manifest = json.loads(written.read_text())
    tests = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "test"}
    kinds = {n.get("test_metadata", {}).get("name", "singular") for n in tests.values()}
    assert kinds == {
        "unique",
        "not_null",
        "accepted_values",
        "relationships",
        "positive",
        "singular",
    }
    checks = [
        r for r in catalog_rows(project, "assay_check_results") if r["rule"].startswith("dbt:")
    ]
    by_rule = {r["rule"]: r for r in checks}
    assert set(by_rule) == {f"dbt:{name}" for name in tests}
    assert {r["status"] for r in checks} == {"pass"}
    singular = by_rule["dbt:assert_mart_matches_staging"]
    assert singular["dataset"] == MART  # built after stg_transactions, which it also reads
    not_null = by_rule["dbt:not_null_stg_transactions_transaction_id"]
    assert not_null["dataset"] == "staging.stg_transactions"
    # The enforced dbt contract of mart_chargeback_reasons: its constraints ran and held.
    constraints = {
        r["rule"]: r["status"]
        for r in catalog_rows(
            project, "assay_check_results", dataset="marts.mart_chargeback_reasons"
        )
        if not r["rule"].startswith("dbt:")
    }
    assert constraints["check(chargebacks > 0)"] == "pass"
    assert constraints["required(reason_code)"] == "pass"
    assert constraints["primaryKey(reason_code)"] == "pass"
    listed = _cli("dbt", "tests", "--project", str(fraud))
    assert listed.exit_code == 0, listed.output
    assert "assert_mart_matches_staging" in listed.output and "not run yet" not in listed.output
    models = _cli("dbt", "models", "--project", str(fraud))
    assert models.exit_code == 0, models.output
    assert (
        f"{MART} " in models.output and "intermediate.int_customer_countries" not in models.output
    )


def test_catalog_and_lineage_carry_the_manifest(fraud: Path) -> None:
    project = assay.Project(fraud)
    spec = project.datasets[MART]
    assert spec.owner == "risk-analytics"
    assert spec.zorder_by == ("card_id",)  # meta.assay's storage layout, for assay optimize
    assert spec.description == "Per card and day, transactions and amount."
    assert dict(spec.tags) == {"finance": "true"}
    # Column descriptions from the manifest reach the catalog's description of the table.
    if not project.warehouse.exists(MART):  # run on its own (-k), the table is built here
        assert project.run().ok
    columns = {c.name: c.comment for c in describe(project.runtime, MART).columns}
    assert columns["card_id"] == "The card."
    assert columns["txn_count"] is None  # described nowhere
    graph = build_lineage(project.runtime)
    upstream = {str(e.source) for e in graph.upstream(Node("dataset", MART, "amount_sum"))}
    assert {
        "silver.transactions.amount",
        "staging.stg_transactions.amount",
        "intermediate.int_transactions_enriched.amount",
    } <= upstream
    countries = {str(e.source) for e in graph.upstream(Node("dataset", MART, "countries"))}
    assert "silver.customers.country" in countries


def test_new_days_build_only_new_intervals_and_a_rerun_commits_nothing(fraud: Path) -> None:
    generate_through(fraud, FIRST_DAYS + 5)
    project = assay.Project(fraud)
    second = project.run()
    assert second.ok, [r.error for r in second.failed]
    for name in ("staging.stg_transactions", "intermediate.int_transactions_enriched", MART):
        assert second.result(name).intervals == 5, name
    _assert_mart_matches_pandas(project)
    assert assay.Project(fraud).run().commits == 0


_FAILING_STAGING = """\
version: 2
models:
  - name: stg_transactions
    columns:
      - name: customer_id
        data_tests:
          - relationships: {arguments: {to: ref('stg_customers'), field: customer_id}}
  - name: stg_customers
    columns:
      - name: country
        data_tests:
          - accepted_values: {arguments: {values: [XX]}, config: {severity: warn}}
"""


def test_a_failing_dbt_test_blocks_its_model_and_downstream(tmp_path: Path) -> None:
    root = make_fraud_with_dbt(tmp_path / "fraud")
    (root / "dbt" / "models" / "staging" / "staging.yml").write_text(_FAILING_STAGING)
    project = assay.Project(root)
    result = project.run()
    assert not result.ok
    tx = project.table("silver.transactions").to_pandas()
    known = set(project.table("silver.customers").to_pandas()["customer_id"])
    # The first batch (the engine's batch of days) is checked, blocked, and nothing after it.
    days = tx["event_time"].dt.tz_localize(None).dt.floor("D")
    first_batch = days < days.min() + pd.Timedelta(days=project.engine.default_batch_intervals)
    orphan = tx["customer_id"].notna() & ~tx["customer_id"].isin(known)
    orphans = int((orphan & first_batch).sum())
    assert orphans > 0  # customers the silver contract quarantined
    failed = result.result("staging.stg_transactions")
    assert (failed.status, failed.cause, failed.commits) == ("failed", "contract", 0)
    assert "dbt:relationships_stg_transactions_customer_id" in (failed.error or "")
    assert f"= {orphans} failing rows" in (failed.error or "")
    assert "fix the data or the dbt test; `assay dbt tests` lists them" in (failed.error or "")
    assert not project.warehouse.exists("staging.stg_transactions")
    for name in ("intermediate.int_transactions_enriched", MART):
        assert result.result(name).status == "skipped"
    # The warning test warns and its model is built.
    warned = [
        r
        for r in catalog_rows(project, "assay_check_results", dataset="staging.stg_customers")
        if r["rule"].startswith("dbt:accepted_values_stg_customers_country")
    ]
    assert [r["status"] for r in warned] == ["warn"]
    listed = _cli("dbt", "tests", "--project", str(root))
    assert listed.exit_code == 1  # an error test failed last
    assert warned[0]["observed"] > 0
    assert project.warehouse.exists("staging.stg_customers")
