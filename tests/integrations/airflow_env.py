"""Environment and helpers shared by the Airflow tests."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest


def require_airflow() -> None:
    """Skip when Airflow is not installed; fail in CI, which installs the `airflow` extra."""
    try:
        import airflow  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("apache-airflow is not installed: CI installs 'assay[airflow]'")
        pytest.skip("apache-airflow is not installed: pip install 'assay[airflow]'")


def airflow_env(home: Path) -> dict[str, str]:
    """Settings that keep Airflow in `home`: its SQLite DB, no example DAGs, no ~/airflow."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dag_file(folder: Path, name: str, project: Path, extra: str = "") -> Path:
    """A DAG file in `folder` that loads `project`'s DAGs (and runs `extra` code after)."""
    path = folder / f"{name}.py"
    path.write_text(
        "from assay.integrations.airflow import assay_dags\n\n"
        f"globals().update(assay_dags({str(project)!r}))\n{extra}"
    )
    return path


def load_dags(path: Path) -> dict[str, object]:
    """The DAGs a file defines, parsed the way the DAG processor does; fails on import errors."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(path))
    assert bag.import_errors == {}, bag.import_errors
    return dict(bag.dags)


# Six days of readings, four a day; the daily DAG runs bronze then the incremental silver.
READINGS = """
import assay
from datetime import datetime, timedelta

@assay.source("bronze.readings", schedule="@daily")
def readings(ctx):
    start = datetime(2026, 1, 1)
    return [
        {"sensor": i % 3, "value": float(i), "taken_at": start + timedelta(hours=6 * i)}
        for i in range(24)
    ]
"""
SILVER_READINGS = """
-- name: silver.readings
-- kind: incremental
-- time_column: taken_at
-- grain: day
SELECT sensor, value, taken_at FROM {{ ref('bronze.readings') }}
WHERE taken_at >= {{ start }} AND taken_at < {{ end }}
"""
