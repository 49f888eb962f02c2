"""use_tracking: the project's MLflow backend from assay.yaml (a SQLite file in the project
by default), its experiment and artifact folder, read back with MLflow's own client."""

from __future__ import annotations

from pathlib import Path

import pytest

import assay
from assay.integrations.mlflow import TrackingError, use_tracking
from tests.conftest import MakeProject
from tests.integrations.mlflow.training_helpers import require_mlflow, tracking


def test_default_backend_is_a_sqlite_file_in_the_project(make_project: MakeProject) -> None:
    mlflow = require_mlflow()
    root = make_project(name="shop")
    project = assay.Project(root)
    with tracking(project) as experiment_id:
        assert mlflow.get_tracking_uri() == f"sqlite:///{root.resolve()}/.assay/mlflow.db"
        assert (root / ".assay" / "mlflow.db").is_file()
        experiment = mlflow.MlflowClient().get_experiment(experiment_id)
        assert experiment.name == project.runtime.config.name
        artifacts = root.resolve() / ".assay" / "mlartifacts"
        assert experiment.artifact_location == artifacts.as_uri()
        assert use_tracking(project.runtime) == experiment_id  # found, not created again
        with mlflow.start_run() as run:
            mlflow.log_text("hello", "note.txt")
        assert run.info.experiment_id == experiment_id
        assert len(list(artifacts.rglob("note.txt"))) == 1


def test_configured_uri_experiment_and_artifacts(make_project: MakeProject) -> None:
    mlflow = require_mlflow()
    settings = {
        "tracking_uri": "sqlite:///state/ml.db",
        "experiment": "fraud-experiments",
        "artifact_location": "arts",
    }
    root = make_project(config={"mlflow": settings})
    with tracking(assay.Project(root)) as experiment_id:
        assert (root / "state" / "ml.db").is_file()
        experiment = mlflow.MlflowClient().get_experiment(experiment_id)
        assert experiment.name == "fraud-experiments"
        assert experiment.artifact_location == (root.resolve() / "arts").as_uri()


def test_a_deleted_experiment_is_a_clear_error(make_project: MakeProject) -> None:
    mlflow = require_mlflow()
    project = assay.Project(make_project())
    with tracking(project) as experiment_id:
        mlflow.MlflowClient().delete_experiment(experiment_id)
        with pytest.raises(TrackingError, match="is deleted") as caught:
            use_tracking(project.runtime)
        assert caught.value.where == "assay.yaml mlflow"
        assert "mlflow::" not in str(caught.value)


def _closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_tracking_server_fails_fast(make_project: MakeProject) -> None:
    """MLflow alone retries a refused connection for minutes; assay says so in seconds,
    with what to do, before MLflow is asked anything (run and rebuild alike)."""
    import time

    require_mlflow()
    uri = f"http://127.0.0.1:{_closed_port()}"
    project = assay.Project(make_project(config={"mlflow": {"tracking_uri": uri}}))
    began = time.monotonic()
    with pytest.raises(TrackingError) as caught:
        use_tracking(project.runtime)
    assert time.monotonic() - began < 10
    message = str(caught.value)
    assert uri in message and "cannot be reached" in message and "mlflow::" not in message
    assert "start the tracking server or change mlflow.tracking_uri in assay.yaml" in message
    began = time.monotonic()
    with pytest.raises(TrackingError, match="cannot be reached"):
        project.features.rebuild_from_mlflow("0" * 32)
    assert time.monotonic() - began < 10


def test_a_relative_bare_folder_is_a_file_store_under_the_root(tmp_path: Path) -> None:
    from assay.integrations.mlflow import resolve_tracking_uri

    assert resolve_tracking_uri("mlruns", tmp_path) == str(tmp_path.resolve() / "mlruns")
    assert resolve_tracking_uri("sqlite:////abs/m.db", tmp_path) == "sqlite:////abs/m.db"
