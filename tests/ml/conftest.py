"""Models need MLflow (the `mlflow` extra, installed in CI) and scikit-learn; the process's
MLflow tracking URI is put back after each test (a model run points it at its project)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest


def require_mlflow() -> Any:
    """mlflow, or a skip; a failure in CI, which installs the `mlflow` extra."""
    try:
        import mlflow
        import sklearn  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("mlflow or scikit-learn is not installed: CI installs 'assay[mlflow]'")
        pytest.skip("mlflow is not installed: pip install 'assay[mlflow]'")
    return mlflow


@pytest.fixture
def mlflow_module() -> Iterator[Any]:
    mlflow = require_mlflow()
    before = mlflow.get_tracking_uri()
    yield mlflow
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(before)
    mlflow.tracking.fluent._active_experiment_id = None
