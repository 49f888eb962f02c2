"""The MLflow classes for a training set input (imports mlflow: only load with the extra).

MLflow stores a dataset input as name, digest (at most 36 characters: the first 32 hex
digits of assay's sha256), source type, source (here the whole `TrainingSetRecord` as
JSON), schema and profile. The record is read back from the run with `MlflowClient` alone;
this source's `load()` is not needed for a rebuild.
"""

from __future__ import annotations

import json
from typing import Any

from mlflow.data.dataset import Dataset
from mlflow.data.dataset_source import DatasetSource

from assay.integrations.mlflow.dataset import SOURCE_TYPE, TrainingSetRecord, source_json


class TrainingSetSource(DatasetSource):
    """An assay training set: its record, from which `assay features rebuild` builds it."""

    def __init__(self, record: TrainingSetRecord):
        self.record = record

    @staticmethod
    def _get_source_type() -> str:
        return SOURCE_TYPE

    def load(self) -> Any:
        """Not loadable without the project: rebuild with `assay features rebuild
        --mlflow-run RUN_ID` or `project.features.rebuild_from_mlflow(run_id)`."""
        raise NotImplementedError(
            "an assay training set is rebuilt from its project: "
            "`assay features rebuild --mlflow-run RUN_ID`"
        )

    @staticmethod
    def _can_resolve(raw_source: Any) -> bool:
        return False

    @classmethod
    def _resolve(cls, raw_source: Any) -> TrainingSetSource:
        raise NotImplementedError("assay training set sources are not resolved from strings")

    def to_dict(self) -> dict[str, Any]:
        return self.record.to_dict()

    def to_json(self) -> str:
        return source_json(self.record)

    @classmethod
    def from_dict(cls, source_dict: dict[Any, Any]) -> TrainingSetSource:
        return cls(TrainingSetRecord.from_dict(source_dict))


class TrainingSetDataset(Dataset):
    """A training set as an MLflow dataset (metadata only: the data stays in the lakehouse).

    Example: ``mlflow.log_input(TrainingSetDataset(record), context="training")``
    """

    def __init__(self, record: TrainingSetRecord):
        self.record = record
        super().__init__(
            source=TrainingSetSource(record),
            name=record.name,
            digest=record.digest.removeprefix("sha256:")[:32],
        )

    def _compute_digest(self) -> str:
        return self.record.digest.removeprefix("sha256:")[:32]

    @property
    def profile(self) -> dict[str, Any]:
        """Row and column counts."""
        return {"num_rows": self.record.num_rows, "num_columns": len(self.record.schema)}

    @property
    def schema(self) -> dict[str, Any]:
        """The Arrow schema as JSON (name, type, nullable per column)."""
        return {"arrow": self.record.schema}

    def to_dict(self) -> dict[str, str]:
        config: dict[str, str] = super().to_dict()
        config["schema"] = json.dumps(self.schema)
        config["profile"] = json.dumps(self.profile)
        return config
