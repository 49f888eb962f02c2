"""A model trained by `assay run` (palmerpenguins) knows its data: its MLflow run carries
the training set as an input, and that run id alone rebuilds the set, whose rows are the
penguins' own measurements as pandas reads them from the package."""

from __future__ import annotations

from pathlib import Path

import palmerpenguins
import pandas as pd
from deltalake import DeltaTable
from typer.testing import CliRunner

import assay
from assay.cli.main import app
from tests.helpers import write_project
from tests.integrations.mlflow.training_helpers import (
    logged_inputs,
    logged_source,
    require_mlflow,
    require_sklearn,
    tracking,
)

SOURCE = """
import assay

@assay.source("bronze.penguins")
def penguins(ctx):
    import pandas as pd
    import palmerpenguins
    frame = palmerpenguins.load_penguins()
    frame.insert(0, "penguin_id", range(1, len(frame) + 1))
    frame["measured_at"] = pd.to_datetime(frame["year"].astype(str) + "-06-01")
    return frame


@assay.source("bronze.sexing")
def sexing(ctx):
    # The labels live in a table of their own, as chargebacks do beside transactions.
    import palmerpenguins
    frame = palmerpenguins.load_penguins()
    frame.insert(0, "penguin_id", range(1, len(frame) + 1))
    return frame[["penguin_id", "sex"]]
"""
FEATURES = """
from assay import Entity, FeatureView

penguin = Entity("penguin", join_keys=["penguin_id"])
measures = FeatureView(
    name="measures", entities=[penguin], source="bronze.penguins", timestamp="measured_at",
    features=["bill_length_mm", "flipper_length_mm", "body_mass_g"],
)
"""
MODELS = '''
import assay

@assay.model(
    "penguin_sex",
    labels="""SELECT p.penguin_id, p.measured_at AS event_timestamp, s.sex = 'male' AS is_male
              FROM bronze.penguins p JOIN bronze.sexing s USING (penguin_id)
              WHERE s.sex IS NOT NULL""",
    features=["measures:bill_length_mm", "measures:flipper_length_mm", "measures:body_mass_g"],
    label="is_male", metric="roc_auc", holdout="1d",
)
def penguin_sex(X, y):
    from sklearn.linear_model import LogisticRegression
    return LogisticRegression(max_iter=1000).fit(X, y)
'''
MEASURES = ["bill_length_mm", "flipper_length_mm", "body_mass_g"]


def test_the_model_run_rebuilds_its_training_set(tmp_path: Path) -> None:
    mlflow = require_mlflow()
    require_sklearn()
    root = write_project(
        tmp_path / "penguins",
        {
            "pipelines/penguins.py": SOURCE,
            "features/penguins.py": FEATURES,
            "models/penguins.py": MODELS,
        },
    )
    project = assay.Project(root)
    with tracking(project) as experiment_id:
        result = project.run()
        assert result.ok, [r.error for r in result.failed]
        uri = mlflow.get_tracking_uri()
        (run,) = mlflow.MlflowClient(uri).search_runs(
            [experiment_id], "tags.`assay.model` = 'penguin_sex'"
        )
    run_id = run.info.run_id
    (item,) = logged_inputs(uri, run_id)
    source = logged_source(item)
    version = DeltaTable(project.runtime.warehouse.uri("bronze.penguins")).version()
    assert source["sources"] == {"bronze.penguins": version}
    # What the labels SQL read is part of what the model learned from.
    labelled = DeltaTable(project.runtime.warehouse.uri("bronze.sexing")).version()
    assert source["label_sources"] == {"bronze.penguins": version, "bronze.sexing": labelled}
    shown = CliRunner().invoke(
        app,
        [
            "features",
            "rebuild",
            "--mlflow-run",
            run_id,
            "--out",
            str(tmp_path / "t.parquet"),
            "-p",
            str(root),
        ],
        env={"COLUMNS": "200", "NO_COLOR": "1"},
    )
    assert shown.exit_code == 0, shown.output
    rows = [line.replace("│", " ").split() for line in shown.output.splitlines()]
    assert any(r[:3] == ["labels", "bronze.sexing", str(labelled)] for r in rows if len(r) > 2)
    assert any(r[:3] == ["features", "bronze.penguins", str(version)] for r in rows if len(r) > 2)
    rebuilt = assay.Project(root).features.rebuild_from_mlflow(run_id).table
    frame = palmerpenguins.load_penguins()
    frame.insert(0, "penguin_id", range(1, len(frame) + 1))
    expected = frame.dropna(subset=["sex"]).set_index("penguin_id")[MEASURES]
    got = rebuilt.to_pandas().set_index("penguin_id")
    assert len(got) == source["num_rows"] == len(expected) == 333
    pd.testing.assert_frame_equal(
        got.loc[expected.index, MEASURES].astype(float),
        expected.astype(float),
        check_dtype=False,
    )
    assert (got["is_male"] == (frame.set_index("penguin_id").loc[got.index, "sex"] == "male")).all()
