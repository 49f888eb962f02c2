"""Log a training set to the active MLflow run (called by `Features.training_set` only
when the user's code imported mlflow)."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from assay.integrations.mlflow.dataset import TrainingSetRecord, make_record
from assay.integrations.mlflow.tracking import require_mlflow

if TYPE_CHECKING:
    from assay.runtime import Runtime


def log_training_set(
    runtime: Runtime,
    spec: Mapping[str, Any],
    entities: pa.Table,
    result: pa.Table,
) -> TrainingSetRecord | None:
    """Log a training set to the active MLflow run, if there is one.

    The entity rows are logged as a Parquet artifact of the run in every case (also when
    the set is saved as `training.<name>`): the run alone then rebuilds the set, even after
    the saved table is overwritten or vacuumed, and assay writes no table the user did not
    ask for (a table would need a name, an owner and a retention of its own).

    Args:
        runtime: the project's runtime.
        spec: name, features, event_timestamp, full_feature_names, outputs, sources
            (table -> version read) and saved_as (None or {"table", "version"}).
        entities: the entity rows as the join read them.
        result: the training set.

    Returns:
        The record logged, or None when no run is active.

    Example: ``with mlflow.start_run(): project.features.training_set(labels, "fraud_model")``
    """
    mlflow = require_mlflow()
    run = mlflow.active_run()
    if run is None:
        return None
    # Imports mlflow's dataset classes: only after require_mlflow said it is there.
    from assay.integrations.mlflow.mlflow_dataset import TrainingSetDataset

    record = make_record(runtime, spec, entities, result)
    with tempfile.TemporaryDirectory(prefix="assay-entities-") as tmp:
        local = Path(tmp) / "entities.parquet"
        pq.write_table(entities, local)
        mlflow.log_artifact(str(local), artifact_path=record.entities["artifact"].rsplit("/", 1)[0])
    mlflow.log_input(TrainingSetDataset(record), context="training")
    return record
