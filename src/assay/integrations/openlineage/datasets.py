"""The datasets of assay's events: tables read (at the Delta versions read) and written (with
their schema, the version and files the run's commits wrote, and its contract results).

A table's namespace is the warehouse location (`file:///.../warehouse` or the object store
URI) and its name `layer.name`; a file source's input is its path pattern in the project
folder's namespace (`file:///.../project`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
from openlineage.client.event_v2 import InputDataset, OutputDataset
from openlineage.client.facet_v2 import (
    dataset_version_dataset,
    output_statistics_output_dataset,
    ownership_dataset,
    schema_dataset,
)

from assay.integrations.openlineage.columns import column_lineage_facet
from assay.integrations.openlineage.facets import PRODUCER, location_namespace
from assay.integrations.openlineage.quality import quality_facets
from assay.pipelines.runner import DatasetResult
from assay.pipelines.spec import DatasetSpec
from assay.runtime import Runtime
from assay.tables import CommitInfo, Warehouse


def input_datasets(rt: Runtime, spec: DatasetSpec, versions: dict[str, int]) -> list[InputDataset]:
    """The tables `spec` reads, at `versions`, and a file source's files."""
    namespace = location_namespace(rt.warehouse.root)
    found = [
        InputDataset(
            namespace=namespace,
            name=name,
            facets={
                "version": _version_facet(version),
                "schema": schema_facet(rt.warehouse.schema(name)),
            },
        )
        for name, version in versions.items()
    ]
    path = getattr(spec.producer, "path", None)
    if spec.producer.is_source and isinstance(path, str):
        found.append(InputDataset(namespace=location_namespace(rt.root), name=path))
    return found


def output_dataset(
    rt: Runtime,
    spec: DatasetSpec,
    run_id: str,
    result: DatasetResult | None,
    commits: Sequence[CommitInfo] = (),
) -> OutputDataset:
    """The table `spec` writes: identity only at START; at the end its schema, owner,
    contract results and, with the run's `commits`, the version and what they wrote."""
    namespace = location_namespace(rt.warehouse.root)
    if result is None:
        return OutputDataset(namespace=namespace, name=spec.name)
    facets: dict[str, Any] = quality_facets(rt.catalog, run_id, spec.name)
    if spec.owner:
        facets["ownership"] = ownership_dataset.OwnershipDatasetFacet(
            owners=[ownership_dataset.Owner(name=spec.owner)], producer=PRODUCER
        )
    output_facets: dict[str, Any] = {}
    if rt.warehouse.exists(spec.name):
        facets["schema"] = schema_facet(rt.warehouse.schema(spec.name))
        lineage = column_lineage_facet(rt, spec.name)
        if lineage is not None:
            facets["columnLineage"] = lineage
    if commits:
        versions = [c.version for c in commits]
        facets["version"] = _version_facet(max(versions))
        output_facets["outputStatistics"] = _statistics(rt.warehouse, spec.name, versions, result)
    return OutputDataset(
        namespace=namespace, name=spec.name, facets=facets, outputFacets=output_facets
    )


def run_commits(warehouse: Warehouse, name: str, run_id: str, commits: int) -> list[CommitInfo]:
    """The commits `run_id` made: its `commits` are the newest (runs hold the lock)."""
    return [c for c in warehouse.history(name, commits) if c.meta.run_id == run_id]


def _statistics(
    warehouse: Warehouse, name: str, versions: Iterable[int], result: DatasetResult
) -> output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet:
    """Rows the run wrote, and the files (and their bytes) its commits added."""
    files = bytes_ = 0
    for version in versions:
        sizes = _added_sizes(warehouse, name, version)
        files += len(sizes)
        bytes_ += sum(sizes)
    return output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
        rowCount=result.rows_written, size=bytes_, fileCount=files, producer=PRODUCER
    )


def _added_sizes(warehouse: Warehouse, name: str, version: int) -> list[int]:
    """The sizes of the files commit `version` added: its `add` actions in the Delta log
    (a local table's commit file is read as it is; an object store's snapshot is compared
    with the one before)."""
    commit = Path(warehouse.uri(name)) / "_delta_log" / f"{version:020d}.json"
    if "://" not in warehouse.root and commit.is_file():
        actions = (json.loads(line) for line in commit.read_text().splitlines() if line)
        return [int(a["add"]["size"]) for a in actions if "add" in a]
    now = warehouse.file_actions(name, version)
    before = (
        set(warehouse.file_actions(name, version - 1)["path"].to_pylist()) if version else set()
    )
    return [
        int(size)
        for path, size in zip(now["path"].to_pylist(), now["size_bytes"].to_pylist(), strict=True)
        if path not in before
    ]


def schema_facet(schema: pa.Schema) -> schema_dataset.SchemaDatasetFacet:
    """The columns and their Arrow types (struct fields nested).

    Example:
        >>> facet = schema_facet(pa.schema({"id": pa.int64(), "at": pa.timestamp("us")}))
        >>> [(f.name, f.type) for f in facet.fields]
        [('id', 'int64'), ('at', 'timestamp[us]')]
    """
    return schema_dataset.SchemaDatasetFacet(fields=[_field(f) for f in schema], producer=PRODUCER)


def _field(field: pa.Field) -> schema_dataset.SchemaDatasetFacetFields:
    children = list(field.type) if pa.types.is_struct(field.type) else []
    return schema_dataset.SchemaDatasetFacetFields(
        name=field.name,
        type=str(field.type) if not children else "struct",
        fields=[_field(child) for child in children],
    )


def _version_facet(version: int) -> dataset_version_dataset.DatasetVersionDatasetFacet:
    return dataset_version_dataset.DatasetVersionDatasetFacet(
        datasetVersion=str(version), producer=PRODUCER
    )
