"""Airflow's modules, imported on first use; a missing install names the extra to add."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from assay.errors import MissingExtraError


def airflow_module(name: str) -> ModuleType:
    """Import `name` (an `airflow...` module), or say `pip install 'assay[airflow]'`.

    Example: ``airflow_module("airflow.sdk").DAG``
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if (exc.name or "").split(".")[0] != "airflow":
            raise
        raise MissingExtraError("apache-airflow", "airflow") from exc


def airflow_exceptions() -> tuple[Any, Any]:
    """Airflow's (AirflowFailException, AirflowSkipException)."""
    exceptions = airflow_module("airflow.sdk.exceptions")
    return exceptions.AirflowFailException, exceptions.AirflowSkipException
