"""Training sets and model training as Airflow DAGs, chained by assets.

`training_set_dag` rebuilds `training.<name>` (point in time, source versions recorded) when
a feature view's source table commits; `model_dag` trains a model whenever that training set
is rebuilt. The ML lifecycle hangs its registry on the training function.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from assay.errors import UsageError
from assay.features.spec import FeatureService, FeatureView
from assay.integrations.airflow.build import (
    DEFAULT_START,
    ProjectDefinitions,
    retry_args,
    table_asset,
)
from assay.integrations.airflow.imports import airflow_module

#: What `model_dag` calls: the training set and its table version (for lineage).
Trainer = Callable[[pa.Table, int], Any]


def training_set_dag(
    project: str | Path,
    name: str,
    labels_sql: str,
    features: Sequence[str] | str,
    event_timestamp: str = "event_timestamp",
    start_date: datetime = DEFAULT_START,
) -> Any:
    """A DAG that rebuilds `training.<name>` when a source of its feature views commits.

    Args:
        project: the project folder.
        name: the training set; its table is `training.<name>`.
        labels_sql: the label rows (keys, `event_timestamp`, labels), as SQL over tables.
        features: a feature service name, or `view:feature` references.

    Example:
        ``training_set_dag("/srv/fraud", "fraud_model", "SELECT ...", "fraud_model")``
    """
    defs = ProjectDefinitions.load(project)
    sources = feature_sources(defs, features)
    sdk = airflow_module("airflow.sdk")
    python = airflow_module("airflow.providers.standard.operators.python")
    assets = [table_asset(defs.name, table) for table in sources]
    dag = sdk.DAG(
        dag_id=f"assay_{defs.name}__training.{name}",
        schedule=assets[0] if len(assets) == 1 else sdk.AssetAny(*assets),
        start_date=start_date,
        catchup=False,
        max_active_runs=1,
        default_args=retry_args(defs.config),
        tags=["assay", defs.name, "training"],
    )
    python.PythonOperator(
        task_id=f"training.{name}",
        dag=dag,
        python_callable=build_training_set,
        op_kwargs={
            "project": str(defs.root),
            "name": name,
            "labels_sql": labels_sql,
            "features": features if isinstance(features, str) else list(features),
            "event_timestamp": event_timestamp,
        },
        outlets=[table_asset(defs.name, f"training.{name}")],
    )
    return dag


def model_dag(
    project: str | Path,
    training_set: str,
    train: Trainer,
    dag_id: str | None = None,
    start_date: datetime = DEFAULT_START,
) -> Any:
    """A DAG that runs `train(table, version)` each time `training.<training_set>` is rebuilt.

    Example:
        ``model_dag("/srv/fraud", "fraud_model", fit_and_register)`` in a DAG file, where
        `fit_and_register(table, version)` fits a model and records the version it read.
    """
    defs = ProjectDefinitions.load(project)
    sdk = airflow_module("airflow.sdk")
    python = airflow_module("airflow.providers.standard.operators.python")
    dag = sdk.DAG(
        dag_id=dag_id or f"assay_{defs.name}__model.{training_set}",
        schedule=table_asset(defs.name, f"training.{training_set}"),
        start_date=start_date,
        catchup=False,
        max_active_runs=1,
        default_args=retry_args(defs.config),
        tags=["assay", defs.name, "model"],
    )
    python.PythonOperator(
        task_id="train",
        dag=dag,
        # The trainer is bound here, not in op_kwargs (which Airflow renders and serializes).
        python_callable=functools.partial(train_on, train=train),
        op_kwargs={"project": str(defs.root), "training_set": training_set},
    )
    return dag


def feature_sources(defs: ProjectDefinitions, features: Sequence[str] | str) -> list[str]:
    """The tables the feature views behind `features` read, sorted."""
    views = {d.name: d for d in defs.others if isinstance(d, FeatureView)}
    services = {d.name: d for d in defs.others if isinstance(d, FeatureService)}
    if isinstance(features, str):
        if features not in services:
            raise UsageError(
                f"unknown feature service {features!r}",
                hint=f"services: {', '.join(sorted(services)) or 'none'}",
            )
        features = list(services[features].features)
    tables = set()
    for ref in features:
        view = ref.split(":", 1)[0]
        if view not in views:
            raise UsageError(
                f"unknown feature view {view!r} in {ref!r}",
                hint=f"views: {', '.join(sorted(views)) or 'none'}",
            )
        tables.add(views[view].source)
    return sorted(tables)


def build_training_set(
    project: str,
    name: str,
    labels_sql: str,
    features: Sequence[str] | str,
    event_timestamp: str = "event_timestamp",
) -> dict[str, Any]:
    """The training-set task: labels from SQL, features point in time, saved as a table."""
    from assay.project import Project

    opened = Project(project)
    labels = opened.sql(labels_sql)
    table = opened.features.training_set(
        labels, features, event_timestamp=event_timestamp, save_as=name
    )
    return {"rows": table.num_rows, "version": opened.warehouse.version(f"training.{name}")}


def train_on(project: str, training_set: str, train: Trainer) -> Any:
    """The model task: the training set's newest version, handed to `train`."""
    from assay.project import Project

    opened = Project(project)
    table_name = f"training.{training_set}"
    version = opened.warehouse.version(table_name)
    if version is None:
        raise UsageError(
            "the training set is not built", where=table_name, hint="run its training-set DAG"
        )
    return train(opened.table(table_name, version=version), version)
