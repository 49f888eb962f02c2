"""A real Airflow 3 deployment on loopback (scheduler, DAG processor and API server, the
LocalExecutor, SQLite) runs an assay DAG on its cron schedule, twice, with no one triggering it."""

from __future__ import annotations

import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import assay
from tests.helpers import catalog_rows, write_project
from tests.integrations.airflow_env import (
    READINGS,
    SILVER_READINGS,
    airflow_env,
    dag_file,
    free_port,
    require_airflow,
)

TICKS = """
import assay
from datetime import datetime, timezone

@assay.source("bronze.ticks", schedule="* * * * *")
def ticks(ctx):
    # A new row each run, so every scheduled run commits.
    return [{"run_id": ctx.run_id, "at": datetime.now(timezone.utc).replace(tzinfo=None)}]
"""
TICKS_SILVER = """
-- name: silver.ticks
SELECT count(*) AS runs FROM {{ ref('bronze.ticks') }}
"""
DAG_ID = "assay_tick__x_x_x_x_x"
DAILY = "assay_win__daily"


@pytest.fixture(scope="module")
def airflow_deployment(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, dict[str, str]]]:
    """Scheduler, DAG processor and API server in their own process groups, killed after."""
    require_airflow()
    home = tmp_path_factory.mktemp("airflow")
    (home / "dags").mkdir()
    port = free_port()
    env = {
        **os.environ,
        **airflow_env(home),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        # Every process must sign and check task tokens with the same key.
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
    }
    airflow = str(Path(sys.executable).parent / "airflow")
    migrate = subprocess.run(
        [airflow, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    processes = []
    for command in ("api-server", "dag-processor", "scheduler"):
        log = (home / f"{command}.log").open("w")
        processes.append(
            subprocess.Popen(
                [airflow, command],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: its workers die with it
            )
        )
    try:
        yield home, env
    finally:
        for process in processes:
            with _quietly():
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with _quietly():
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


class _quietly:
    """Ignore a process group that is already gone."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, value: object, tb: object) -> bool:
        return isinstance(value, ProcessLookupError)


def scheduled_runs(home: Path, dag_id: str = DAG_ID, kind: str = "scheduled") -> list[tuple]:
    """(run_id, state, data_interval_start, data_interval_end) of a DAG's runs of one
    type, from Airflow's database."""
    with sqlite3.connect(home / "airflow.db") as db:
        return db.execute(
            "SELECT run_id, state, data_interval_start, data_interval_end FROM dag_run "
            "WHERE dag_id = ? AND run_type = ? ORDER BY data_interval_start",
            (dag_id, kind),
        ).fetchall()


def wait_for(home: Path, dag_id: str, kind: str, count: int) -> list[tuple]:
    """The DAG's runs of `kind` once `count` succeeded (fails fast when one fails)."""
    deadline = time.monotonic() + 420
    while time.monotonic() < deadline:
        runs = scheduled_runs(home, dag_id, kind)
        if sum(run[1] == "success" for run in runs) >= count:
            return runs
        assert not any(run[1] == "failed" for run in runs), _logs(home)
        time.sleep(3)
    raise AssertionError(f"{dag_id}: fewer than {count} {kind} runs succeeded\n{_logs(home)}")


@pytest.mark.slow
def test_the_scheduler_runs_an_assay_dag_on_its_schedule_twice(
    airflow_deployment: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    home, _ = airflow_deployment
    root = write_project(
        tmp_path / "tick", {"pipelines/ticks.py": TICKS, "pipelines/silver.sql": TICKS_SILVER}
    )
    dag_file(home / "dags", "tick", root)

    runs = wait_for(home, DAG_ID, "scheduled", 2)

    assert sum(run[1] == "success" for run in runs) >= 2
    project = assay.Project(root)
    runs = [r for r in catalog_rows(project, "assay_runs") if r["command"] == "airflow"]
    assert sum(r["status"] == "success" for r in runs) >= 2 * 2  # bronze and silver, twice
    ticks = project.table("bronze.ticks").to_pylist()
    assert len(ticks) == 1  # a full source: each run replaced the table
    assert project.table("silver.ticks").to_pylist() == [{"runs": 1}]
    assert project.warehouse.version("bronze.ticks") >= 1


@pytest.mark.slow
def test_an_airflow_backfill_fills_exactly_its_intervals(
    airflow_deployment: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    home, env = airflow_deployment
    root = write_project(
        tmp_path / "win", {"pipelines/source.py": READINGS, "pipelines/silver.sql": SILVER_READINGS}
    )
    dag_file(home / "dags", "win", root)
    wait_for(home, DAILY, "scheduled", 1)  # parsed and serialized: its latest day ran

    dates = ["--from-date", "2026-01-02", "--to-date", "2026-01-03"]
    airflow = str(Path(sys.executable).parent / "airflow")
    backfill = _airflow_cli([airflow, "backfill", "create", "--dag-id", DAILY, *dates], env)
    assert backfill.returncode == 0, backfill.stderr[-3000:]
    runs = wait_for(home, DAILY, "backfill", 2)

    windows = [(run[2][:10], run[3][:10]) for run in runs]
    assert windows == [("2026-01-02", "2026-01-03"), ("2026-01-03", "2026-01-04")]
    project = assay.Project(root)
    january = [
        i
        for i in project.intervals("silver.readings")
        if i.start.year == 2026 and i.start.month == 1
    ]
    assert [(str(i.start.date()), str(i.end.date())) for i in january] == windows
    days = sorted({r["taken_at"].day for r in project.table("silver.readings").to_pylist()})
    assert days == [2, 3]


def _airflow_cli(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run an Airflow CLI command, again when Airflow's SQLite database was locked.

    The scheduler, DAG processor and API server write the same SQLite file; under load a
    CLI insert can time out on its lock (Airflow recommends PostgreSQL for that reason).
    The failed command's transaction is rolled back, so running it again is what a user
    would do; any other failure is returned at once.
    """
    for attempt in range(4):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        if done.returncode == 0 or "database is locked" not in done.stderr:
            return done
        time.sleep(2 * (attempt + 1))
    return done


def _logs(home: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in home.glob("*.log"))
