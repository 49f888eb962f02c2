"""The champion rule in both directions, on palmerpenguins: a dummy first version is
champion; a real model beats it and takes the alias; a dummy again is registered and
stays challenger. The champion is re-scored on the new holdout from the registry: with
the same data, its score equals the one it had when it was trained."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import assay
from tests.helpers import write_project
from tests.ml.conftest import require_mlflow
from tests.ml.test_model_penguins import FEATURES, SOURCE

HEADER = '''
import assay

@assay.model(
    "sex",
    labels="""SELECT penguin_id, measured_at AS event_timestamp, sex = 'male' AS is_male
              FROM bronze.penguins WHERE sex IS NOT NULL""",
    features=["measures:bill_depth_mm", "measures:body_mass_g"],
    label="is_male", metric="roc_auc", holdout="1d",
)
def sex(X, y):
'''
DUMMY = "    from sklearn.dummy import DummyClassifier\n    return DummyClassifier().fit(X, y)\n"
REAL = (
    "    from sklearn.linear_model import LogisticRegression\n"
    "    from sklearn.pipeline import make_pipeline\n"
    "    from sklearn.preprocessing import StandardScaler\n"
    "    return make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)\n"
)


def _train(root: Path, body: str) -> dict[str, Any]:
    (root / "models" / "sex.py").write_text(HEADER + body)
    result = assay.Project(root).run()
    assert result.ok, [r.error for r in result.failed]
    rows = assay.Project(root).table("models.sex").to_pylist()
    return max(rows, key=lambda r: r["version"])


def _shown(root: Path) -> dict[str, list[str]]:
    """`assay models show sex`: each version's `became champion` and `now` cells."""
    from typer.testing import CliRunner

    from assay.cli.main import app

    shown = CliRunner().invoke(
        app, ["models", "show", "sex", "-p", str(root)], env={"COLUMNS": "300", "NO_COLOR": "1"}
    )
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    header = next(line for line in lines if "became champion" in line)
    assert "Champion now: v" in shown.output and "(MLflow alias `champion`)" in shown.output
    cells = {}
    for line in lines:
        parts = [p.strip() for p in line.split("│")]
        if len(parts) > 6 and parts[2].startswith("v") and parts[2][1:].isdigit():
            cells[parts[2]] = [parts[5], parts[6]]
    assert cells, header
    return cells


def test_the_alias_moves_only_to_a_better_version(tmp_path: Path) -> None:
    mlflow = require_mlflow()
    before = mlflow.get_tracking_uri()
    root = write_project(
        tmp_path, {"pipelines/penguins.py": SOURCE, "features/penguins.py": FEATURES}
    )
    (root / "models").mkdir()
    client = mlflow.MlflowClient(f"sqlite:///{root.resolve()}/.assay/mlflow.db")

    def champion() -> int:
        return int(client.get_model_version_by_alias("sex", "champion").version)

    try:
        (root / "models" / "sex.py").write_text(HEADER + DUMMY)
        assert assay.Project(root).run().ok
        (v1,) = assay.Project(root).table("models.sex").to_pylist()
        assert v1["value"] == pytest.approx(0.5) and v1["is_champion"] and champion() == 1

        v2 = _train(root, REAL)
        assert v2["version"] == 2 and v2["value"] > 0.6
        assert v2["champion_version"] == 1 and v2["champion_value"] == pytest.approx(0.5)
        assert v2["is_champion"] and champion() == 2
        assert v2["decision"].startswith("v2 beats champion v1")

        v3 = _train(root, DUMMY)
        assert v3["version"] == 3 and not v3["is_champion"] and champion() == 2
        # The same data, the same holdout: the champion scores what it scored when trained.
        assert v3["champion_version"] == 2
        assert v3["champion_value"] == pytest.approx(v2["value"], rel=1e-12)
        assert v3["decision"].startswith("champion v2 kept")
        tags = client.get_model_version("sex", "3").tags
        assert tags["assay.decision"] == v3["decision"]
        assert _shown(root) == {"v1": ["yes", ""], "v2": ["yes", "champion"], "v3": ["no", ""]}
        # `now` is the registry's alias, not the table's last winner: move it by hand.
        client.set_registered_model_alias("sex", "champion", "1")
        assert _shown(root)["v1"] == ["yes", "champion"] and _shown(root)["v2"] == ["yes", ""]
    finally:
        mlflow.set_tracking_uri(before)


CUSTOM = '''
    import numpy as np

    class ByMass:
        """Heavier penguins are likelier male: a model written without scikit-learn."""

        classes_ = [False, True]

        def fit(self, X, y):
            self.mean = float(X["body_mass_g"].mean())
            return self

        def predict_proba(self, X):
            odds = (X["body_mass_g"].to_numpy(dtype=float) - self.mean) / 500.0
            male = 1.0 / (1.0 + np.exp(-odds))
            return np.column_stack([1.0 - male, male])

        def predict(self, X):
            return self.predict_proba(X)[:, 1] > 0.5

    return ByMass().fit(X, y)
'''


def test_an_estimator_without_sklearn_is_a_pyfunc_champion(tmp_path: Path) -> None:
    """Saved with the pyfunc flavour, served by `mlflow.pyfunc`, and re-scored as the
    champion when the next version is trained (the same value on the same data)."""
    import palmerpenguins
    from sklearn.metrics import roc_auc_score

    mlflow = require_mlflow()
    before = mlflow.get_tracking_uri()
    root = write_project(
        tmp_path, {"pipelines/penguins.py": SOURCE, "features/penguins.py": FEATURES}
    )
    (root / "models").mkdir()
    uri = f"sqlite:///{root.resolve()}/.assay/mlflow.db"
    try:
        v1 = _train(root, CUSTOM)
        frame = palmerpenguins.load_penguins().dropna(subset=["sex"])
        held = frame[frame["year"] == 2009]
        # A monotone function of the mass: the AUC of the mass itself.
        assert v1["value"] == pytest.approx(
            roc_auc_score(held["sex"] == "male", held["body_mass_g"]), rel=1e-9
        )
        mlflow.set_tracking_uri(uri)
        info = mlflow.models.get_model_info("models:/sex/1")
        assert "python_function" in info.flavors and "sklearn" not in info.flavors
        served = mlflow.pyfunc.load_model("models:/sex@champion")
        predicted = served.predict(held[["bill_depth_mm", "body_mass_g"]].astype(float))
        trained_on = frame[frame["year"] < 2009]["body_mass_g"].mean()
        assert list(predicted) == list(held["body_mass_g"] > trained_on)
        v2 = _train(root, REAL)
        assert v2["champion_version"] == 1
        assert v2["champion_value"] == pytest.approx(v1["value"], rel=1e-12)
    finally:
        mlflow.set_tracking_uri(before)
