"""Airflow for the integration tests: a throwaway AIRFLOW_HOME (SQLite), never ~/airflow.

The environment is set when this conftest loads, before anything imports Airflow (its
configuration is read once, at import). `airflow db migrate` runs once per session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integrations.airflow_env import airflow_env, require_airflow

# Created by the fixture (and removed after the session), so a run without Airflow tests
# leaves nothing behind.
HOME = Path(tempfile.gettempdir()) / f"assay-airflow-{uuid.uuid4().hex[:12]}"
os.environ.update(airflow_env(HOME))


@pytest.fixture(scope="session")
def airflow_home() -> Iterator[Path]:
    """The session's AIRFLOW_HOME with a migrated database; its dags/ folder is empty."""
    require_airflow()
    (HOME / "dags").mkdir(parents=True, exist_ok=True)
    migrate = subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    yield HOME
    shutil.rmtree(HOME, ignore_errors=True)


@pytest.fixture
def dags_folder(airflow_home: Path) -> Iterator[Path]:
    """The DAG folder, emptied after each test (dag.test() parses every file in it)."""
    folder = airflow_home / "dags"
    yield folder
    for path in folder.glob("*.py"):
        path.unlink()
