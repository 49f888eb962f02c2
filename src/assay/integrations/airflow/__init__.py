"""An assay project as Airflow 3 DAGs (`pip install 'assay[airflow]'`).

A DAG file in Airflow's DAG folder:

    from assay.integrations.airflow import assay_dags

    globals().update(assay_dags("/srv/projects/fraud"))

One task per dataset runs `Project.run([dataset], window=<data interval>, command="airflow")`;
edges follow assay's DAG; schedules follow the declarations (one DAG per cron schedule, one
per `on_upstream` dataset scheduled on its inputs' assets, one polling `on_arrival` sources,
and `assay_<project>` holding everything, manual by default); retries and backoff come from
assay.yaml; every task's outlet is its table's asset, `assay://<project>/<layer.name>`.
`model_dag` schedules model training on a training set's asset.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from assay.integrations.airflow.build import (
    DEFAULT_START,
    ProjectDefinitions,
    build_dags,
    retry_args,
    table_asset,
)
from assay.integrations.airflow.layout import DagLayout, plan_dags
from assay.integrations.airflow.task import run_dataset
from assay.integrations.airflow.training import model_dag, training_set_dag

__all__ = [
    "DagLayout",
    "assay_dags",
    "model_dag",
    "plan_dags",
    "retry_args",
    "run_dataset",
    "table_asset",
    "training_set_dag",
]


def assay_dags(
    project: str | Path,
    schedule: str | None = None,
    arrival_poll: timedelta = timedelta(minutes=5),
    start_date: datetime = DEFAULT_START,
) -> dict[str, Any]:
    """The Airflow DAGs of the project at `project`, keyed by DAG id.

    Args:
        project: the project folder (the one holding assay.yaml).
        schedule: the schedule of `assay_<project>`, the DAG of every dataset (cron or
            preset; default: None, run by hand).
        arrival_poll: how often `on_arrival` file sources are polled.
        start_date: where the schedules start (catchup is off: it bounds backfills).

    Raises:
        MissingExtraError: Airflow is not installed (`pip install 'assay[airflow]'`).
        ProjectError: assay.yaml or a declaration is invalid (the DAG file fails to import
            with assay's message, shown among Airflow's import errors).

    Example: ``globals().update(assay_dags("/srv/projects/fraud"))`` in a DAG file.
    """
    return build_dags(ProjectDefinitions.load(project), schedule, arrival_poll, start_date)
