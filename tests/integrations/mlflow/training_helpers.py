"""Helpers shared by the MLflow training-set tests: the extra (required in CI) and a
project-scoped tracking backend that leaves MLflow's process settings as they were."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import assay


def require_mlflow() -> Any:
    """mlflow, or a skip; a failure in CI, which installs the `mlflow` extra."""
    try:
        import mlflow
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("mlflow is not installed: CI installs 'assay[mlflow]'")
        pytest.skip("mlflow is not installed: pip install 'assay[mlflow]'")
    return mlflow


def require_sklearn() -> None:
    """scikit-learn (models train with it), or a skip; a failure in CI, which installs it."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("scikit-learn is not installed: CI installs it with 'assay[mlflow]'")
        pytest.skip("scikit-learn is not installed")


@contextmanager
def tracking(project: assay.Project) -> Iterator[str]:
    """MLflow pointed at the project's backend (`use_tracking`) for the block; yields the
    experiment id and restores the process's tracking URI and experiment afterwards."""
    mlflow = require_mlflow()
    from assay.integrations.mlflow import use_tracking

    before = mlflow.get_tracking_uri()
    try:
        yield use_tracking(project.runtime)
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.set_tracking_uri(before)
        mlflow.tracking.fluent._active_experiment_id = None


def logged_inputs(tracking_uri: str, run_id: str) -> list[Any]:
    """The run's dataset inputs, read with MLflow's own client."""
    mlflow = require_mlflow()
    return list(mlflow.MlflowClient(tracking_uri).get_run(run_id).inputs.dataset_inputs)


def logged_source(item: Any) -> dict[str, Any]:
    """A dataset input's source, as MLflow stored it (JSON)."""
    return dict(json.loads(item.dataset.source))
