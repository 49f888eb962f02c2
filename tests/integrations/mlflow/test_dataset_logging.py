"""Training sets and MLflow: nothing logged (and mlflow never imported) without an active
run; several sets in one run, each rebuilt by name; the content digest's rule."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import assay
from assay.cli.main import app
from assay.errors import UsageError
from assay.integrations.mlflow.digest import column_digests, table_digest
from tests.conftest import MakeProject
from tests.helpers import EVENTS_INGEST, event, jsonl
from tests.integrations.mlflow.training_helpers import logged_inputs, require_mlflow, tracking

GOLD = """
-- name: gold.user_daily
SELECT user_id, date_trunc('day', event_time) + INTERVAL 1 DAY AS event_time,
       count(*) AS events, sum(amount) AS amount
FROM {{ ref('bronze.events') }} GROUP BY ALL
"""
FEATURES = """
from assay import Entity, FeatureView

user = Entity("user", join_keys=["user_id"])
user_daily = FeatureView(name="user_daily", entities=[user], source="gold.user_daily",
                         timestamp="event_time", ttl="2d", features=["events", "amount"])
"""
REFS = ["user_daily:events", "user_daily:amount"]


@pytest.fixture
def root(make_project: MakeProject) -> Path:
    data = jsonl(
        event(d * 10 + k, k % 2, float(d + k), f"2026-01-{d:02d} 1{k}:00:00")
        for d in range(1, 5)
        for k in range(3)
    )
    root = make_project(
        {
            "pipelines/ingest.py": EVENTS_INGEST,
            "pipelines/gold.sql": GOLD,
            "features/users.py": FEATURES,
            "data/events/a.jsonl": data,
        }
    )
    assert assay.Project(root).run().ok
    return root


def labels(day: int) -> pa.Table:
    return pa.table(
        {
            "user_id": [0, 1, 0],
            "event_timestamp": pa.array(
                [f"2026-01-0{day} 09:00", f"2026-01-0{day} 00:00", f"2026-01-0{day + 1} 00:00"]
            ).cast(pa.timestamp("us")),
            "label": [1, 0, 1],
        }
    )


def test_without_mlflow_imported_nothing_is_imported_or_logged(root: Path) -> None:
    code = f"""
import sys, assay, pyarrow as pa
from tests.integrations.mlflow.test_dataset_logging import labels, REFS
t = assay.Project({str(root)!r}).features.training_set(labels(3), REFS)
print(t.num_rows, "mlflow" in sys.modules)
"""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert done.stdout.split() == ["3", "False"]
    assert not (root / ".assay" / "mlflow.db").exists()
    assert not (root / ".assay" / "mlartifacts").exists()


def test_without_an_active_run_nothing_is_logged(root: Path) -> None:
    mlflow = require_mlflow()
    project = assay.Project(root)
    with tracking(project) as experiment_id:
        assert mlflow.active_run() is None
        project.features.training_set(labels(3), REFS)
        assert mlflow.search_runs([experiment_id], output_format="list") == []
    assert not (root / ".assay" / "mlartifacts").exists()


def test_two_sets_in_one_run_are_rebuilt_by_name(root: Path) -> None:
    mlflow = require_mlflow()
    project = assay.Project(root)
    with tracking(project), mlflow.start_run() as run:
        train = project.features.training_set(labels(2), REFS, save_as="train")
        valid = project.features.training_set(labels(3), REFS, save_as="valid")
        uri = mlflow.get_tracking_uri()
    inputs = logged_inputs(uri, run.info.run_id)
    sources = {i.dataset.name: json.loads(i.dataset.source) for i in inputs}
    assert set(sources) == {"train", "valid"}
    wh = project.runtime.warehouse
    assert sources["valid"]["saved_as"] == {
        "table": "training.valid",
        "version": wh.version("training.valid"),
    }
    features = assay.Project(root).features
    with pytest.raises(UsageError, match="logged 2 training sets"):
        features.rebuild_from_mlflow(run.info.run_id)
    assert features.rebuild_from_mlflow(run.info.run_id, name="train").table.equals(train)
    assert features.rebuild_from_mlflow(run.info.run_id, name="valid").table.equals(valid)


def test_the_digest_ignores_chunks_null_slots_and_metadata_not_values() -> None:
    values = pa.array([1, 2, 3], pa.int64())
    # The same column, a different int64 under the null slot.
    under_null = [pa.py_buffer(bytes([0b101])), pa.py_buffer(pa.array([1, 99, 3]).buffers()[1])]
    garbage = pa.Array.from_buffers(pa.int64(), 3, under_null, null_count=1)
    masked = pa.array([1, None, 3], pa.int64())
    assert garbage.equals(masked)
    assert table_digest(pa.table({"a": garbage})) == table_digest(pa.table({"a": masked}))
    chunked = pa.table({"a": pa.chunked_array([values[:1], values[1:]])})
    assert table_digest(chunked) == table_digest(pa.table({"a": values}))
    noted = pa.table({"a": values}).replace_schema_metadata({"pandas": "{}"})
    assert table_digest(noted) == table_digest(pa.table({"a": values}))
    assert table_digest(pa.table({"a": [1, 2, 4]})) != table_digest(pa.table({"a": values}))
    assert table_digest(pa.table({"a": values.cast(pa.int32())})) != table_digest(
        pa.table({"a": values})
    )
    assert list(column_digests(pa.table({"b": [1], "a": [2]}))) == ["b", "a"]


def test_a_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from assay.integrations.mlflow import MlflowMissingError, require_mlflow

    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` raises ImportError
    with pytest.raises(MlflowMissingError) as caught:
        require_mlflow()
    assert caught.value.hint == "pip install 'assay[mlflow]'"


def test_cli_rebuild_names_one_source_and_rebuilds_saved_sets(root: Path, tmp_path: Path) -> None:
    project = assay.Project(root)
    saved = project.features.training_set(labels(2), REFS, save_as="train")
    runner = CliRunner()
    out = tmp_path / "t.parquet"
    neither = runner.invoke(app, ["features", "rebuild", "--out", str(out), "-p", str(root)])
    assert neither.exit_code == 2 and "--mlflow-run RUN_ID or --training-set NAME" in (
        neither.output
    )
    done = runner.invoke(
        app, ["features", "rebuild", "-t", "train", "--out", str(out), "-p", str(root)]
    )
    assert done.exit_code == 0, done.output
    assert pq.read_table(out).equals(saved)


def test_a_mismatch_names_columns_rows_and_float_only_differences() -> None:
    from assay.integrations.mlflow.dataset import TrainingSetRecord, arrow_schema
    from assay.integrations.mlflow.rebuild import RebuildMismatchError, verify

    logged = pa.table({"id": [1, 2], "x": [0.1 + 0.2, 1.0], "n": [1, 2]})
    record = TrainingSetRecord(
        name="s",
        features=[],
        event_timestamp="ts",
        full_feature_names=False,
        outputs=["x", "n"],
        sources={"gold.t": 4},
        num_rows=2,
        digest=table_digest(logged),
        column_digests=column_digests(logged),
        schema=arrow_schema(logged.schema),
    )
    assert verify(record, logged, "r") == table_digest(logged)
    last_bit = logged.set_column(1, "x", pa.array([0.3, 1.0]))  # 0.1 + 0.2 != 0.3
    with pytest.raises(RebuildMismatchError, match=r"values differ in 'x' \(floating-point"):
        verify(record, last_bit, "r")
    counted = logged.set_column(2, "n", pa.array([1, 3]))
    with pytest.raises(RebuildMismatchError) as caught:
        verify(record, counted, "r")
    assert caught.value.message.endswith("values differ in 'n'")
    assert "gold.t@4" in str(caught.value.hint)
    with pytest.raises(RebuildMismatchError, match="1 rows, logged 2"):
        verify(record, logged.slice(0, 1), "r")
