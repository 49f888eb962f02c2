"""The fraud demo's lineage from a raw JSON field to a model's training set and back,
built and with a saved training set as the demo makes it (examples/fraud/demo.py).

The expected nodes were read off the project's files: pipelines/*.sql and bronze.py,
gold_merchant_daily.py (Python: lineage by table only), features/cards.py and
contracts/transactions.yaml.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import assay
from assay.cli.lineage import lineage as lineage_command
from assay.lineage import Edge, LineageGraph, Node, build_lineage

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fraud"
sys.path.insert(0, str(EXAMPLE))

import generate  # noqa: E402

RAW = Node("file", "data/transactions/*.jsonl", "amount")
TRAINING = Node("training_set", "training.fraud_model", "amount_mean_7d")
D, X = "DIRECT", "INDIRECT"


@pytest.fixture(scope="module")
def fraud(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo project run over 50 days of a small seeded data set (device_id, which
    silver reads, appears on day 45), with the training set the demo saves (labels from
    July on, as in demo.py's features phase)."""
    root = tmp_path_factory.mktemp("fraud")
    shutil.copy(EXAMPLE / "assay.yaml", root)
    for folder in ("pipelines", "contracts", "features"):
        shutil.copytree(EXAMPLE / folder, root / folder)
    generate.generate(root, through_day=50, n_transactions=4_000)
    project = assay.Project(root)
    result = project.run()
    assert result.ok, [(r.dataset, r.error) for r in result.failed]
    labels = project.sql("""
        SELECT t.card_id, t.merchant_id, t.amount, t.event_time AS event_timestamp,
               c.chargeback_id IS NOT NULL AS is_fraud
        FROM silver.transactions t LEFT JOIN silver.chargebacks c USING (transaction_id)
        WHERE t.event_time >= TIMESTAMP '2026-07-01'""")
    project.features.training_set(labels, "fraud_model", save_as="fraud_model")
    return root


@pytest.fixture(scope="module")
def graph(fraud: Path) -> LineageGraph:
    return build_lineage(assay.Project(fraud).runtime)


def _dataset(name: str, column: str | None = None) -> Node:
    return Node("dataset", name, column)


def test_upstream_of_the_training_column_reaches_the_raw_amount(graph: LineageGraph) -> None:
    feature = Node("feature", "card_daily", "amount_mean_7d")
    gold = _dataset("gold.card_daily", "amount_mean_7d")
    chain = [
        Edge(feature, TRAINING, D, "IDENTITY"),
        Edge(gold, feature, D, "IDENTITY"),
        # sum(amount) per day in the CTE, summed over 7 days: an aggregation.
        Edge(_dataset("silver.transactions", "amount"), gold, D, "AGGREGATION"),
        Edge(
            _dataset("bronze.transactions", "amount"),
            _dataset("silver.transactions", "amount"),
            D,
            "IDENTITY",
        ),
        Edge(RAW, _dataset("bronze.transactions", "amount"), D, "IDENTITY", "cast to DOUBLE"),
    ]
    upstream = graph.upstream(TRAINING)
    for edge in chain:
        assert edge in upstream, edge
    # The 7-day window is by card and day (day: date_trunc of event_time); the CTE groups
    # by card and day, and the interval filter reads event_time.
    kinds = {(str(e.source), e.subtype) for e in upstream if e.target == gold}
    assert kinds == {
        ("silver.transactions.amount", "AGGREGATION"),
        ("silver.transactions.card_id", "GROUP_BY"),
        ("silver.transactions.event_time", "GROUP_BY"),
        ("silver.transactions.event_time", "FILTER"),
        ("silver.transactions.card_id", "WINDOW"),
        ("silver.transactions.event_time", "WINDOW"),
    }
    # One hop is the feature only.
    assert graph.upstream(TRAINING, depth=1) == [chain[0]]


def test_downstream_of_the_raw_amount_lists_what_it_reaches(graph: LineageGraph) -> None:
    reached = {(e.target.kind, str(e.target)) for e in graph.downstream(RAW)}
    contract = "contracts/transactions.yaml"
    expected = {
        ("dataset", "bronze.transactions.amount"),
        ("contract", f"{contract}#raw_transactions:amount"),
        ("dataset", "silver.transactions.amount"),
        ("contract", f"{contract}#transactions:amount"),
        ("contract", f"{contract}#transactions:mean amount"),  # SELECT avg(amount) ...
        ("dataset", "gold.card_daily.amount_sum_1d"),
        ("dataset", "gold.card_daily.amount_max_1d"),
        ("dataset", "gold.card_daily.amount_mean_7d"),
        ("feature", "card_daily:amount_sum_1d"),
        ("feature", "card_daily:amount_max_1d"),
        ("feature", "card_daily:amount_mean_7d"),
        ("feature", "card_activity:amount_sum_1d"),  # Aggregation("amount", "sum", "1d")
        # gold.merchant_daily is Python; it declares lineage= (amount_sum from amount), so
        # its other columns (counts, chargebacks) are not reached.
        ("dataset", "gold.merchant_daily.amount_sum"),
        ("feature", "merchant_daily:amount_sum"),
        ("feature_service", "fraud_model:amount_mean_7d"),
        ("feature_service", "fraud_model:amount_max_1d"),
        ("feature_service", "fraud_model:amount_sum_1d"),
        ("training_set", "training.fraud_model.amount_mean_7d"),
        ("training_set", "training.fraud_model.amount_max_1d"),
        ("training_set", "training.fraud_model.amount_sum_1d"),
    }
    assert reached == expected
    # Not reached: chargebacks join transactions on transaction_id, not on amount; the
    # 7-day count counts rows.
    assert ("dataset", "gold.card_daily.txn_count_7d") not in reached


def test_nothing_is_unresolved(graph: LineageGraph) -> None:
    # The one Python transform declares its columns' lineage.
    assert graph.unresolved == []


def _cli(fraud: Path, *args: str) -> str:
    app = typer.Typer()
    app.command()(lineage_command)
    result = CliRunner().invoke(app, [*args, "--project", str(fraud)])
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_json_parses_and_holds_the_path(fraud: Path) -> None:
    out = _cli(fraud, "training.fraud_model.amount_mean_7d", "--upstream", "--format", "json")
    document = json.loads(out)
    assert document["node"] == {
        "kind": "training_set",
        "name": "training.fraud_model",
        "column": "amount_mean_7d",
    }
    sources = {(e["source"]["name"], e["source"]["column"]) for e in document["edges"]}
    assert ("data/transactions/*.jsonl", "amount") in sources


def test_cli_dot_and_mermaid_hold_the_edges(fraud: Path) -> None:
    dot = _cli(
        fraud, "bronze.transactions.amount", "--downstream", "--depth", "1", "--format", "dot"
    )
    assert '[label="silver.transactions.amount"]' in dot
    assert 'label="DIRECT/IDENTITY"' in dot
    mermaid = _cli(fraud, "card_daily:amount_mean_7d", "--format", "mermaid", "--depth", "1")
    assert mermaid.startswith("flowchart LR")
    assert '["gold.card_daily.amount_mean_7d"]' in mermaid
    assert '["training.fraud_model.amount_mean_7d"]' in mermaid
    assert "-->|IDENTITY|" in mermaid


def test_cli_table_and_a_name_not_found(fraud: Path) -> None:
    table = _cli(fraud, "data/transactions/*.jsonl:amount", "--downstream", "--depth", "1")
    assert "bronze.transactions.amount" in table
    app = typer.Typer()
    app.command()(lineage_command)
    result = CliRunner().invoke(app, ["silver.transactions.amout", "--project", str(fraud)])
    assert result.exit_code == 2
    assert "nothing in the lineage is named 'silver.transactions.amout'" in result.output
    assert "silver.transactions.amount" in result.output  # the suggestion


def test_live_stream_amount_reaches_the_window_features(graph: LineageGraph) -> None:
    # pipelines/live.py: a folder stream of incoming/*.jsonl with two hopping windows by
    # card_id, each summing amount and served as a feature view named after its table.
    live = Node("folder", "incoming/*.jsonl", "amount")
    reached = {str(e.target) for e in graph.downstream(live)}
    assert reached == {
        "bronze.live_transactions.amount",
        "silver.card_activity_10m.amount_sum",
        "silver.card_activity_1h.amount_sum",
        "card_activity_10m:amount_sum",
        "card_activity_1h:amount_sum",
    }
