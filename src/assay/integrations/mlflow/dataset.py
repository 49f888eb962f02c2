"""A training set as an MLflow dataset input: what it was built from, exactly.

`Features.training_set` calls `log.log_training_set` when the user's code has imported mlflow
and a run is active. The run then holds one dataset input (context `training`) whose
source is a `TrainingSetRecord`: the source tables with their Delta versions, the feature
references, the contracts bound to those tables with their versions, row count, Arrow
schema and content digest (`assay.integrations.mlflow.digest`), and where the entity rows
are. `assay features rebuild --mlflow-run RUN_ID` reads it back (`rebuild.py`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from assay.integrations.mlflow.digest import DIGEST_METHOD, column_digests, digest_of

if TYPE_CHECKING:
    from assay.runtime import Runtime

#: The `source_type` of assay's dataset inputs in MLflow.
SOURCE_TYPE = "assay_training_set"
#: Where a run's entity rows go among its artifacts (one folder per logged set).
ARTIFACT_ROOT = "assay/training_sets"


@dataclass(frozen=True)
class TrainingSetRecord:
    """Everything needed to rebuild a training set and to check the rebuild.

    Example:
        >>> r = TrainingSetRecord(name="fraud_model", features=["v:f"],
        ...     event_timestamp="ts", full_feature_names=False, outputs=["f"],
        ...     sources={"gold.v": 3}, num_rows=2, digest="sha256:ab")
        >>> TrainingSetRecord.from_dict(json.loads(json.dumps(r.to_dict()))) == r
        True
    """

    name: str
    features: list[str]
    event_timestamp: str
    full_feature_names: bool
    outputs: list[str]
    #: Source table (`layer.name`) -> the Delta version read.
    sources: dict[str, int]
    num_rows: int
    digest: str
    digest_method: str = DIGEST_METHOD
    column_digests: dict[str, str] = field(default_factory=dict)
    #: [{"name", "type", "nullable"}] in column order (Arrow type names).
    schema: list[dict[str, Any]] = field(default_factory=list)
    #: Source table -> the contracts bound to it: [{"id", "version", "status", "path"}].
    contracts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: The entity rows: {"artifact": run artifact path, "num_rows", "digest"}.
    entities: dict[str, Any] = field(default_factory=dict)
    #: `training.<name>` and its version when the set was also saved, else None.
    saved_as: dict[str, Any] | None = None
    project: str = ""
    engine: str = ""
    #: The tables the entity rows (labels) were queried from -> the Delta version read;
    #: not joined again by a rebuild (the entity rows are logged), recorded for lineage.
    label_sources: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the dataset source MLflow stores)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingSetRecord:
        """The record from `to_dict`'s output, keys it does not know ignored."""
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def arrow_schema(schema: pa.Schema) -> list[dict[str, Any]]:
    """The schema as JSON: name, Arrow type and nullability per column.

    Example:
        >>> arrow_schema(pa.schema([("id", pa.int64())]))
        [{'name': 'id', 'type': 'int64', 'nullable': True}]
    """
    return [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema]


def bound_contracts(runtime: Runtime, tables: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """The contracts bound to each table: the document's ODCS id, version and status, its
    file (relative to the project) and the sha256 of the file's text (a contract edited
    without a version bump still shows)."""
    out: dict[str, list[dict[str, Any]]] = {}
    root = Path(runtime.root).resolve()
    for table in tables:
        for contract in runtime.contracts.get(table, ()):
            path = Path(contract.path)
            document = _contract_document(str(path))
            shown = path.resolve()
            out.setdefault(table, []).append(
                {
                    "id": document.get("id"),
                    "version": str(document.get("version", "")),
                    "status": contract.status,
                    "object": contract.object_name,
                    "path": shown.relative_to(root).as_posix()
                    if shown.is_relative_to(root)
                    else str(shown),
                    "sha256": document.get("sha256"),
                }
            )
    return out


def _contract_document(path: str) -> dict[str, Any]:
    """A contract file's top-level id and version (the parsed contract keeps the schema
    object's, not the document's) and the sha256 of its text; {} when it is unreadable."""
    import hashlib

    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
        document = yaml.safe_load(text)
    except (OSError, yaml.YAMLError):
        return {}
    found = document if isinstance(document, dict) else {}
    return {
        "id": found.get("id"),
        "version": found.get("version", ""),
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
    }


def make_record(
    runtime: Runtime,
    spec: Mapping[str, Any],
    entities: pa.Table,
    result: pa.Table,
) -> TrainingSetRecord:
    """The record of a training set built from `spec` (name, features, event_timestamp,
    full_feature_names, outputs, sources, saved_as, label_sources), its entity rows and its
    result."""
    columns = column_digests(result)
    digest = digest_of(columns, result.num_rows)
    entity_digest = digest_of(column_digests(entities), entities.num_rows)
    labels = dict(spec.get("label_sources") or {})
    folder = f"{ARTIFACT_ROOT}/{spec['name']}-{digest.removeprefix('sha256:')[:16]}"
    return TrainingSetRecord(
        name=spec["name"],
        features=list(spec["features"]),
        event_timestamp=spec["event_timestamp"],
        full_feature_names=bool(spec["full_feature_names"]),
        outputs=list(spec["outputs"]),
        sources=dict(spec["sources"]),
        num_rows=result.num_rows,
        digest=digest,
        column_digests=columns,
        schema=arrow_schema(result.schema),
        contracts=bound_contracts(runtime, sorted({*spec["sources"], *labels})),
        entities={
            "artifact": f"{folder}/entities.parquet",
            "num_rows": entities.num_rows,
            "digest": entity_digest,
        },
        saved_as=spec.get("saved_as"),
        project=runtime.config.name,
        engine=runtime.engine.name,
        label_sources=labels,
    )


def source_json(record: TrainingSetRecord) -> str:
    """The record as the JSON text MLflow stores as the dataset's source."""
    return json.dumps(record.to_dict(), sort_keys=True)
