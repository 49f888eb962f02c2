"""Models trained by `assay run` on palmerpenguins, checked against scikit-learn run
directly on the same split (the same metric value), and against MLflow's own client.

Two models in one project: a classifier of the penguin's sex (roc_auc) and a regression
of its body mass (rmse). Each penguin is measured once, in June of its study year; the
holdout is the last day of label time, so 2009's penguins are the evaluation slice and
2007-2008's the training rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import assay
from tests.helpers import write_project
from tests.ml.conftest import require_mlflow

MEASURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]

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
"""

FEATURES = """
from assay import Entity, FeatureView

penguin = Entity("penguin", join_keys=["penguin_id"])
measures = FeatureView(
    name="measures", entities=[penguin], source="bronze.penguins", timestamp="measured_at",
    features=["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"],
)
"""

MODELS = '''
import assay

@assay.model(
    "penguin_sex",
    labels="""SELECT penguin_id, measured_at AS event_timestamp, sex = 'male' AS is_male
              FROM bronze.penguins WHERE sex IS NOT NULL""",
    features=["measures:bill_length_mm", "measures:bill_depth_mm",
              "measures:flipper_length_mm", "measures:body_mass_g"],
    label="is_male", metric="roc_auc", holdout="1d",
)
def penguin_sex(X, y):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)


@assay.model(
    "penguin_mass",
    labels="""SELECT penguin_id, measured_at AS event_timestamp, body_mass_g AS mass
              FROM bronze.penguins WHERE body_mass_g IS NOT NULL""",
    features=["measures:bill_length_mm", "measures:bill_depth_mm",
              "measures:flipper_length_mm"],
    label="mass", metric="rmse", holdout="1d",
)
def penguin_mass(X, y):
    from sklearn.linear_model import LinearRegression
    return LinearRegression().fit(X, y)
'''


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The project built and its two models trained once for the module's tests."""
    mlflow = require_mlflow()
    before = mlflow.get_tracking_uri()
    root = write_project(
        tmp_path_factory.mktemp("penguins"),
        {
            "pipelines/penguins.py": SOURCE,
            "features/penguins.py": FEATURES,
            "models/penguins.py": MODELS,
        },
    )
    project = assay.Project(root)
    result = project.run()
    assert result.ok, [r.error for r in result.failed]
    yield {"root": root, "project": project, "result": result, "mlflow": mlflow}
    mlflow.set_tracking_uri(before)


def _split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    return frame[frame["year"] < 2009], frame[frame["year"] == 2009]


def test_classifier_matches_sklearn_on_the_same_split(trained: dict[str, Any]) -> None:
    import palmerpenguins
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame = palmerpenguins.load_penguins().dropna(subset=["sex"])
    train, held = _split(frame)
    direct = make_pipeline(StandardScaler(), LogisticRegression())
    direct.fit(train[MEASURES], train["sex"] == "male")
    expected = roc_auc_score(held["sex"] == "male", direct.predict_proba(held[MEASURES])[:, 1])

    (row,) = trained["project"].table("models.penguin_sex").to_pylist()
    assert row["metric"] == "roc_auc"
    assert row["value"] == pytest.approx(expected, rel=1e-9)
    assert (row["train_rows"], row["eval_rows"]) == (len(train), len(held)) == (216, 117)
    assert row["version"] == 1 and row["is_champion"] and row["champion_version"] is None
    # No leakage: the holdout starts after every training row's label time.
    assert row["holdout_start"] == pd.Timestamp("2009-05-31").to_pydatetime()
    assert train["year"].max() < 2009 <= held["year"].min()


def test_regression_matches_sklearn_on_the_same_split(trained: dict[str, Any]) -> None:
    import palmerpenguins
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import mean_squared_error

    frame = palmerpenguins.load_penguins().dropna(subset=["body_mass_g"])
    train, held = _split(frame)
    inputs = MEASURES[:3]
    direct = LinearRegression().fit(train[inputs], train["body_mass_g"])
    expected = mean_squared_error(held["body_mass_g"], direct.predict(held[inputs])) ** 0.5

    (row,) = trained["project"].table("models.penguin_mass").to_pylist()
    assert row["metric"] == "rmse"
    assert row["value"] == pytest.approx(expected, rel=1e-9)
    assert (row["train_rows"], row["eval_rows"]) == (len(train), len(held))


def test_mlflow_holds_the_run_the_version_and_the_champion(trained: dict[str, Any]) -> None:
    mlflow, root = trained["mlflow"], trained["root"]
    client = mlflow.MlflowClient(f"sqlite:///{Path(root).resolve()}/.assay/mlflow.db")
    (row,) = trained["project"].table("models.penguin_sex").to_pylist()
    run = client.get_run(row["mlflow_run_id"])
    assert run.data.metrics["roc_auc"] == pytest.approx(row["value"], rel=1e-12)
    assert run.data.metrics["train_rows"] == 216
    assert run.data.params["assay.label"] == "is_male"
    assert run.data.params["estimator.class"] == "Pipeline"
    assert run.data.tags["assay.run_id"] == trained["result"].run_id
    assert run.data.tags["assay.dataset"] == "models.penguin_sex"
    champion = client.get_model_version_by_alias("penguin_sex", "champion")
    assert int(champion.version) == 1 and champion.run_id == row["mlflow_run_id"]
    # The registered model predicts as the model did, from the signature's columns.
    loaded = mlflow.pyfunc.load_model("models:/penguin_sex@champion")
    assert [c.name for c in loaded.metadata.get_input_schema().inputs] == MEASURES


def test_a_run_with_nothing_new_does_not_retrain(trained: dict[str, Any]) -> None:
    project = trained["project"]
    before = project.warehouse.version("models.penguin_sex")
    again = assay.Project(trained["root"]).run()
    assert again.ok
    assert again.result("models.penguin_sex").status == "up_to_date"
    assert project.warehouse.version("models.penguin_sex") == before
    client = trained["mlflow"].MlflowClient(
        f"sqlite:///{Path(trained['root']).resolve()}/.assay/mlflow.db"
    )
    assert len(client.search_model_versions("name='penguin_sex'")) == 1


def test_cli_lists_and_shows_the_models(trained: dict[str, Any]) -> None:
    from typer.testing import CliRunner

    from assay.cli.main import app

    runner, root = CliRunner(), str(trained["root"])
    env = {"COLUMNS": "250", "NO_COLOR": "1"}
    listed = runner.invoke(app, ["models", "list", "-p", root], env=env)
    assert listed.exit_code == 0, listed.output
    (row,) = trained["project"].table("models.penguin_sex").to_pylist()
    line = next(x for x in listed.output.splitlines() if "models.penguin_sex" in x)
    assert "roc_auc (higher is better)" in line and f"v1 ({row['value']:.4f})" in line
    assert "rmse (lower is better)" in listed.output
    shown = runner.invoke(app, ["models", "show", "penguin_sex", "-p", root], env=env)
    assert shown.exit_code == 0, shown.output
    assert "216 / 117" in shown.output and "first version" in shown.output
    unknown = runner.invoke(app, ["models", "show", "nope", "-p", root], env=env)
    assert unknown.exit_code != 0 and "no model 'nope'" in unknown.output


def test_the_training_run_records_its_data_and_rebuilds_it(trained: dict[str, Any]) -> None:
    """The model's MLflow run holds its training set as a dataset input (source tables at
    their Delta versions) and the set is rebuilt from the run id: the model knows exactly
    which data it learned from."""
    from deltalake import DeltaTable

    mlflow, root, project = trained["mlflow"], trained["root"], trained["project"]
    client = mlflow.MlflowClient(f"sqlite:///{Path(root).resolve()}/.assay/mlflow.db")
    (row,) = project.table("models.penguin_sex").to_pylist()
    (item,) = client.get_run(row["mlflow_run_id"]).inputs.dataset_inputs
    assert item.dataset.source_type == "assay_training_set"
    rebuilt = project.features.rebuild_from_mlflow(row["mlflow_run_id"])
    assert rebuilt.table.num_rows == row["train_rows"] + row["eval_rows"]
    version = DeltaTable(project.runtime.warehouse.uri("bronze.penguins")).version()
    assert rebuilt.record.sources == {"bronze.penguins": version}
