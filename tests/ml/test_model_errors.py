"""A model that cannot be trained fails its dataset with a clear error naming the model
(and, for a failing train function, the file and line), and the rest of the run goes on;
bad declarations are refused when the project loads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import assay
from assay.errors import DefinitionError
from tests.helpers import write_project
from tests.ml.conftest import require_mlflow
from tests.ml.test_model_penguins import FEATURES, SOURCE

FEATURE_REFS = '["measures:bill_length_mm", "measures:flipper_length_mm"]'
SEXED = "FROM bronze.penguins WHERE sex IS NOT NULL"

MODELS = f'''
import assay

def fit(X, y):
    from sklearn.linear_model import LogisticRegression
    return LogisticRegression().fit(X, y)

@assay.model("broken", labels="SELECT penguin_id, measured_at AS event_timestamp, "
             "sex = 'male' AS y {SEXED}", features={FEATURE_REFS}, label="y", holdout="1d")
def broken(X, y):
    scale = 0
    return 1 / scale

@assay.model("empty", labels="SELECT penguin_id, measured_at AS event_timestamp, "
             "sex = 'male' AS y {SEXED} AND year > 2100", features={FEATURE_REFS}, label="y")
def empty(X, y):
    return fit(X, y)

@assay.model("one_class", labels="SELECT penguin_id, measured_at AS event_timestamp, "
             "TRUE AS y {SEXED}", features={FEATURE_REFS}, label="y", holdout="1d")
def one_class(X, y):
    return fit(X, y)

@assay.model("all_holdout", labels="SELECT penguin_id, measured_at AS event_timestamp, "
             "sex = 'male' AS y {SEXED}", features={FEATURE_REFS}, label="y", holdout="5000d")
def all_holdout(X, y):
    return fit(X, y)

@assay.model("no_label", labels="SELECT penguin_id, measured_at AS event_timestamp "
             "{SEXED}", features={FEATURE_REFS}, label="y")
def no_label(X, y):
    return fit(X, y)

@assay.model("narrow", labels="SELECT penguin_id, measured_at AS event_timestamp, "
             "sex = 'male' AS y {SEXED}", features={FEATURE_REFS}, label="y", holdout="1d")
def narrow(X, y):
    from sklearn.linear_model import LogisticRegression
    return LogisticRegression().fit(X[["bill_length_mm"]], y)

@assay.model("late_class", labels="SELECT penguin_id, measured_at AS event_timestamp, "
             "year = 2007 AS y {SEXED}", features={FEATURE_REFS}, label="y", holdout="1d")
def late_class(X, y):
    return fit(X, y)

@assay.model("fine", labels="SELECT penguin_id, measured_at AS event_timestamp, "
             "sex = 'male' AS y {SEXED}", features={FEATURE_REFS}, label="y", holdout="1d")
def fine(X, y):
    return fit(X, y)
'''


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    mlflow = require_mlflow()
    before = mlflow.get_tracking_uri()
    root = write_project(
        tmp_path_factory.mktemp("errors"),
        {
            "pipelines/penguins.py": SOURCE,
            "features/penguins.py": FEATURES,
            "models/penguins.py": MODELS,
        },
    )
    result = assay.Project(root).run()
    yield {"root": root, "result": result}
    mlflow.set_tracking_uri(before)


def _error(outcome: dict[str, Any], model: str) -> str:
    found = outcome["result"].result(f"models.{model}")
    assert found.status == "failed"
    return str(found.error)


def test_a_failing_train_function_names_the_model_and_the_line(outcome: dict[str, Any]) -> None:
    error = _error(outcome, "broken")
    path = Path(outcome["root"]).resolve() / "models" / "penguins.py"
    source = path.read_text().splitlines()
    line = next(i for i, text in enumerate(source, 1) if "return 1 / scale" in text)
    assert "model broken" in error and f"{path}:{line}" in error
    assert "ZeroDivisionError" in error


def test_an_estimator_failing_on_the_evaluation_slice_is_an_assay_error(
    outcome: dict[str, Any],
) -> None:
    """Fitted on one column, predicting on all: sklearn's ValueError becomes an AssayError
    naming the model, its file:line and what the estimator is given (no traceback)."""
    found = outcome["result"].result("models.narrow")
    assert found.status == "failed"
    error = str(found.error)
    path = Path(outcome["root"]).resolve() / "models" / "penguins.py"
    source = path.read_text().splitlines()
    line = next(i for i, text in enumerate(source, 1) if '@assay.model("narrow"' in text)
    assert f"model narrow ({path}:{line})" in error  # the model's declaration
    assert "feature names" in error and "ValueError" in error
    assert "Traceback" not in error
    assert "predict on the X it was given" in error


def test_one_class_hints_name_the_part_to_fix(outcome: dict[str, Any]) -> None:
    """The labels query itself has one class: check the SQL, not the holdout; only the
    evaluation slice has one class: lengthen the holdout."""
    labels_only = _error(outcome, "one_class")
    assert "labels query returns a single class (True)" in labels_only
    assert "check the labels SQL" in labels_only and "holdout" not in labels_only
    late = _error(outcome, "late_class")
    assert "evaluation slice holds a single class (False)" in late
    assert "lengthen holdout=" in late and "holdout=1d" in late


def test_holdout_is_logged_as_declared(outcome: dict[str, Any]) -> None:
    """MLflow's params hold "1d", read back with MLflow's own client."""
    mlflow = require_mlflow()
    from assay.integrations.mlflow.tracking import resolve_tracking_uri

    root = outcome["root"]
    run_id = assay.Project(root).runtime.reader.table("models.fine").to_pylist()[0]["mlflow_run_id"]
    client = mlflow.MlflowClient(
        tracking_uri=resolve_tracking_uri("sqlite:///.assay/mlflow.db", root)
    )
    assert client.get_run(run_id).data.params["assay.holdout"] == "1d"


def test_bad_training_data_says_what_is_wrong(outcome: dict[str, Any]) -> None:
    assert "returned no rows" in _error(outcome, "empty")
    assert "single class (True)" in _error(outcome, "one_class")
    assert "no rows to train on" in _error(outcome, "all_holdout")
    assert "returns no column 'y'" in _error(outcome, "no_label")


def test_the_other_models_still_train(outcome: dict[str, Any]) -> None:
    result = outcome["result"]
    assert result.result("models.fine").status == "success"
    assert result.result("bronze.penguins").status == "success"
    assert {r.dataset for r in result.failed} == {
        f"models.{m}"
        for m in ("broken", "empty", "one_class", "all_holdout", "no_label", "narrow", "late_class")
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"metric": "auc"}, "unknown metric 'auc'"),
        ({"holdout": "soon"}, "invalid holdout 'soon'"),
        ({"holdout": "0"}, "holdout must be a positive span"),
        ({"labels": "SELECT 1 AS y"}, "reads no project table"),
    ],
)
def test_bad_declarations_are_refused(options: dict[str, str], message: str) -> None:
    arguments = {
        "labels": "SELECT * FROM gold.users",
        "features": ["u:age"],
        "label": "y",
        "inputs": ["gold.u"],
        **options,
    }
    with pytest.raises(DefinitionError, match=message) as raised:
        assay.model("m", **arguments)  # type: ignore[arg-type]
    assert "model m (" in str(raised.value) and __file__ in str(raised.value)


def test_unknown_feature_service_is_refused_when_the_project_loads(tmp_path: Path) -> None:
    root = write_project(
        tmp_path,
        {
            "pipelines/penguins.py": SOURCE,
            "features/penguins.py": FEATURES,
            "models/m.py": 'import assay\n@assay.model("m", labels="SELECT * FROM '
            'bronze.penguins", features="nope", label="y")\ndef m(X, y):\n    return None\n',
        },
    )
    with pytest.raises(DefinitionError, match="unknown feature service 'nope'"):
        assay.Project(root)
