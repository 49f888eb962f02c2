"""The fraud example's training set logged to an MLflow run (real MLflow, SQLite backend
in the project) and rebuilt bit for bit from the run id after new data arrived.

Checked independently: the run's input is read with `MlflowClient`, the versions with
`deltalake.DeltaTable(...).version()`, the schema with pyarrow, the contract versions from
the contract files (YAML), and the rebuild is compared with `pyarrow.Table.equals`.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from deltalake import DeltaTable
from typer.testing import CliRunner

import assay
from assay.cli.main import app
from tests.integrations.mlflow.training_helpers import (
    logged_inputs,
    logged_source,
    require_mlflow,
    tracking,
)

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "fraud"
sys.path.insert(0, str(EXAMPLE))

import generate  # noqa: E402

N = 20_000
SOURCES = ("gold.card_daily", "gold.merchant_daily", "silver.transactions")
#: Labelled transactions from day 15 on, and the last two days' rows again 12 days later
#: (rows scored ahead of the data): their features change when new days arrive.
LABELS = """
    WITH labels AS (
        SELECT t.card_id, t.merchant_id, t.amount, t.event_time AS event_timestamp,
               c.chargeback_id IS NOT NULL AS is_fraud
        FROM silver.transactions t LEFT JOIN silver.chargebacks c USING (transaction_id)
        WHERE t.event_time >= (SELECT min(event_time) + INTERVAL 14 DAY FROM silver.transactions)
    )
    SELECT * FROM labels
    UNION ALL
    SELECT card_id, merchant_id, amount, event_timestamp + INTERVAL 12 DAY, is_fraud
    FROM labels WHERE event_timestamp >= (SELECT max(event_timestamp) - INTERVAL 2 DAY FROM labels)
    """


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The example built through day 60, a training set logged in a run; then 15 more days
    of data delivered and run (every source gets new versions)."""
    mlflow = require_mlflow()
    root = tmp_path_factory.mktemp("fraud")
    shutil.copy(EXAMPLE / "assay.yaml", root)
    for folder in ("pipelines", "contracts", "features"):
        shutil.copytree(EXAMPLE / folder, root / folder)
    generate.generate(root, through_day=60, n_transactions=N)
    project = assay.Project(root)
    assert project.run().ok
    versions = {t: DeltaTable(project.runtime.warehouse.uri(t)).version() for t in SOURCES}
    labels = project.sql(LABELS)
    with tracking(project) as experiment_id, mlflow.start_run() as run:
        train = project.features.training_set(labels, "fraud_model")
        uri = mlflow.get_tracking_uri()
    generate.generate(root, through_day=75, n_transactions=N)
    assert assay.Project(root).run().ok
    return {
        "root": root,
        "train": train,
        "labels": labels,
        "versions": versions,
        "run_id": run.info.run_id,
        "uri": uri,
        "experiment_id": experiment_id,
    }


def test_the_run_records_versions_schema_rows_and_contracts(logged: dict[str, Any]) -> None:
    root, train = logged["root"], logged["train"]
    assert logged["uri"] == f"sqlite:///{root.resolve()}/.assay/mlflow.db"
    (item,) = logged_inputs(logged["uri"], logged["run_id"])
    assert item.dataset.source_type == "assay_training_set"
    assert item.dataset.name == "fraud_model"
    assert {t.key: t.value for t in item.tags}["mlflow.data.context"] == "training"
    source = logged_source(item)
    assert source["sources"] == logged["versions"]
    assert train.num_rows == logged["labels"].num_rows == source["num_rows"] > 1000
    assert [(f["name"], f["type"]) for f in source["schema"]] == [
        (f.name, str(f.type)) for f in train.schema
    ]
    assert item.dataset.digest == source["digest"].removeprefix("sha256:")[:32]
    service = assay.Project(root).features.services["fraud_model"]
    assert source["features"] == list(service.features)
    text = (root / "contracts" / "transactions.yaml").read_text()
    contract = yaml.safe_load(text)
    assert source["contracts"]["silver.transactions"] == [
        {
            "id": contract["id"],
            "version": contract["version"],
            "status": contract["status"],
            "object": next(
                o["name"] for o in contract["schema"] if o["physicalName"] == "silver.transactions"
            ),
            "path": "contracts/transactions.yaml",
            "sha256": hashlib.sha256(text.encode()).hexdigest(),
        }
    ]
    assert "gold.card_daily" not in source["contracts"]  # no contract bound there


def test_cli_rebuilds_from_the_run_bit_for_bit_after_new_data(
    logged: dict[str, Any], tmp_path: Path
) -> None:
    root = logged["root"]
    project = assay.Project(root)
    now = {t: DeltaTable(project.runtime.warehouse.uri(t)).version() for t in SOURCES}
    assert all(now[t] > logged["versions"][t] for t in SOURCES)
    # Today's set differs: the rebuild must read the recorded versions, not the latest.
    assert not project.features.training_set(logged["labels"], "fraud_model").equals(
        logged["train"]
    )
    out = tmp_path / "train.parquet"
    result = CliRunner().invoke(
        app,
        [
            "features",
            "rebuild",
            "--mlflow-run",
            logged["run_id"],
            "--out",
            str(out),
            "--project",
            str(root),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "digest matches" in result.output
    rebuilt = pq.read_table(out)
    assert rebuilt.schema.equals(logged["train"].schema)
    assert rebuilt.equals(logged["train"])


def test_python_api_rebuilds_and_names_the_run(logged: dict[str, Any]) -> None:
    project = assay.Project(logged["root"])
    rebuilt = project.features.rebuild_from_mlflow(logged["run_id"])
    assert rebuilt.table.equals(logged["train"])
    assert rebuilt.record.sources == logged["versions"]
    assert rebuilt.run_id == logged["run_id"]
    assert isinstance(rebuilt.table, pa.Table)
