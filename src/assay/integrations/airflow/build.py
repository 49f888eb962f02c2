"""Airflow DAG objects from a project's layout: tasks, edges, schedules, retries, assets.

Built when the DAG processor parses the DAG file, so this reads only assay.yaml and the
declarations: no catalog, no warehouse, no engine (a Spark session must not start at parse).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from assay.config import ProjectConfig, load_config
from assay.integrations.airflow.imports import airflow_module
from assay.integrations.airflow.layout import ARRIVAL, CRON, MANUAL, UPSTREAM, DagLayout, plan_dags
from assay.integrations.airflow.task import run_dataset
from assay.pipelines.dag import Dag
from assay.pipelines.spec import DatasetSpec

#: Where schedules start when the DAG file does not say (catchup is off, so this only
#: bounds what `airflow backfill` may fill).
DEFAULT_START = datetime(2020, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ProjectDefinitions:
    """What a DAG file needs of a project: its folder, settings and declarations."""

    root: Path
    config: ProjectConfig
    dag: Dag
    others: tuple[Any, ...]  # entities, feature views, feature services

    @classmethod
    def load(cls, path: str | Path) -> ProjectDefinitions:
        from assay.project import load_definitions

        root = Path(path).resolve()
        config = load_config(root)
        definitions = load_definitions(root, config)
        specs = [d for d in definitions if isinstance(d, DatasetSpec)]
        others = tuple(d for d in definitions if not isinstance(d, DatasetSpec))
        return cls(root, config, Dag(specs), others)

    @property
    def name(self) -> str:
        """The project's name as it goes into DAG ids and asset URIs."""
        return re.sub(r"[^\w.-]+", "_", self.config.name)


def table_asset(project: str, table: str) -> Any:
    """The Airflow asset of an assay table: `assay://<project>/<layer.name>`.

    Every task that commits to the table emits an event on it, so any DAG scheduled on it
    runs after new data lands.

    Example: ``DAG("report", schedule=table_asset("fraud", "gold.card_daily"))``
    """
    uri = f"assay://{project}/{table}"
    return airflow_module("airflow.sdk").Asset(name=uri, uri=uri, group="assay")


def build_dags(
    project: ProjectDefinitions,
    schedule: str | None,
    arrival_poll: timedelta,
    start_date: datetime,
) -> dict[str, Any]:
    """Every DAG of `project`, keyed by DAG id (see `layout.plan_dags` for the grouping)."""
    layouts = plan_dags(project.name, project.dag, schedule)
    return {layout.dag_id: _build(project, layout, arrival_poll, start_date) for layout in layouts}


def _build(
    project: ProjectDefinitions, layout: DagLayout, arrival_poll: timedelta, start: datetime
) -> Any:
    sdk = airflow_module("airflow.sdk")
    dag = sdk.DAG(
        dag_id=layout.dag_id,
        schedule=_schedule(project, layout, arrival_poll),
        start_date=start,
        catchup=False,
        # One assay run at a time holds the project lock: more would only queue on it.
        max_active_runs=1,
        max_active_tasks=1,
        default_args=retry_args(project.config),
        tags=["assay", project.name, layout.trigger],
        doc_md=_doc(project, layout),
    )
    tasks = {name: _task(project, layout, name, dag) for name in layout.datasets}
    for upstream, downstream in layout.edges:
        tasks[upstream] >> tasks[downstream]
    return dag


def retry_args(config: ProjectConfig) -> dict[str, Any]:
    """Airflow's retry settings from assay.yaml's `retries` (the same attempts and backoff).

    Example:
        >>> from assay.config import ProjectConfig
        >>> args = retry_args(ProjectConfig(name="shop"))
        >>> args["retries"], args["retry_delay"].total_seconds(), args["max_retry_delay"]
        (2, 0.5, datetime.timedelta(seconds=10))
    """
    retries = config.retries
    return {
        "retries": retries.attempts - 1,
        "retry_delay": timedelta(seconds=retries.backoff_initial),
        "retry_exponential_backoff": 2.0,  # doubling, as assay's own retries
        "max_retry_delay": timedelta(seconds=retries.backoff_max),
    }


def _schedule(project: ProjectDefinitions, layout: DagLayout, arrival_poll: timedelta) -> Any:
    sdk = airflow_module("airflow.sdk")
    if layout.trigger in (MANUAL, CRON):
        if layout.cron is None:
            return None
        # Data intervals [previous tick, tick): Airflow 3's default cron timetable has none.
        return sdk.CronDataIntervalTimetable(layout.cron, timezone="UTC")
    if layout.trigger == UPSTREAM:
        assets = [table_asset(project.name, name) for name in layout.inputs]
        return assets[0] if len(assets) == 1 else sdk.AssetAny(*assets)
    if layout.trigger == ARRIVAL:
        return arrival_poll
    raise ValueError(f"unknown trigger {layout.trigger!r}")


def _task(project: ProjectDefinitions, layout: DagLayout, name: str, dag: Any) -> Any:
    python = airflow_module("airflow.providers.standard.operators.python")
    spec = project.dag[name]
    return python.PythonOperator(
        task_id=name,
        dag=dag,
        python_callable=run_dataset,
        op_kwargs={"project": str(project.root), "dataset": name, "windowed": layout.windowed},
        outlets=[table_asset(project.name, name)],
        # An upstream with nothing new is skipped, not failed: its consumers still run.
        trigger_rule="none_failed",
        owner=spec.owner or "assay",
        doc_md=spec.description,
    )


def _doc(project: ProjectDefinitions, layout: DagLayout) -> str:
    why = {
        MANUAL: "every dataset of the project, as `assay run`",
        CRON: f"the datasets scheduled `{layout.cron}` and their unscheduled downstream",
        UPSTREAM: f"runs when {', '.join(layout.inputs)} commit new data",
        ARRIVAL: "file sources polled for new or changed files",
    }[layout.trigger]
    return f"assay project `{project.name}` ({project.root}): {why}."
