"""MLflow's console chatter is off while assay drives it (a model's training, a rebuild
from its run), its settings are back afterwards, and a user's own choice is kept."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

import assay
from tests.helpers import write_project
from tests.integrations.mlflow.test_rebuild_model import FEATURES, MODELS, SOURCE
from tests.integrations.mlflow.training_helpers import require_mlflow, require_sklearn, tracking

NOISE = (
    "Creating initial MLflow database tables",
    "Successfully registered model",
    "Created version",
    "Downloading artifacts",
)


def test_training_and_rebuild_print_nothing_of_mlflow(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    mlflow = require_mlflow()
    require_sklearn()
    monkeypatch.delenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", raising=False)
    monkeypatch.delenv("MLFLOW_LOGGING_LEVEL", raising=False)
    root = write_project(
        tmp_path / "penguins",
        {
            "pipelines/penguins.py": SOURCE,
            "features/penguins.py": FEATURES,
            "models/penguins.py": MODELS,
        },
    )
    project = assay.Project(root)
    logger = logging.getLogger("mlflow")
    assert logger.level == logging.INFO  # MLflow's default, set when it is imported
    capfd.readouterr()
    with tracking(project):
        result = project.run()
        assert result.ok, [r.error for r in result.failed]
        (row,) = project.table("models.penguin_sex").to_pylist()
        rebuilt = assay.Project(root).features.rebuild_from_mlflow(row["mlflow_run_id"])
    assert rebuilt.table.num_rows == 333
    printed = capfd.readouterr()
    for line in NOISE:
        assert line not in printed.err + printed.out
    # Put back: the user's own MLflow calls print as MLflow would.
    assert logger.level == logging.INFO
    assert "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR" not in os.environ
    from mlflow.utils.logging_utils import MLFLOW_LOGGING_STREAM

    assert MLFLOW_LOGGING_STREAM.enabled
    assert mlflow.get_tracking_uri()  # still usable


def test_a_users_own_settings_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    require_mlflow()
    from assay.integrations.mlflow.quiet import quiet_mlflow

    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "true")
    logger = logging.getLogger("mlflow")
    monkeypatch.setattr(logger, "level", logging.DEBUG)
    with quiet_mlflow():
        assert os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] == "true"
        assert logger.level == logging.DEBUG
    assert os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] == "true"
    assert logger.level == logging.DEBUG
