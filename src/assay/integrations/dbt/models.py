"""dbt models as assay datasets: each model (table, view or incremental) becomes a
`DatasetSpec` named `<layer>.<model>` whose producer runs dbt's compiled SQL on assay's
engine, reading assay's tables. Ephemeral models are no datasets: dbt's compile inlines
them as CTEs into the models that use them. Views are materialized as tables (assay keeps
every dataset as a Delta table with history).

Settings an assay dataset has and a dbt model lacks come from the model's
`meta: {assay: {...}}` (or `config(meta=...)`, `+meta` in dbt_project.yml): layer,
time_column, grain, start, lookback, batch_size, partition_by, zorder_by, owner. A model's
own keys are laid over its folders' (`folders.with_folder_meta`), which dbt itself would
drop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay.errors import DefinitionError
from assay.integrations.dbt.compile import DbtError
from assay.integrations.dbt.relations import (
    Relation,
    parse_compiled,
    relation_key,
    rename_relations,
)
from assay.pipelines.declare import _common
from assay.pipelines.spec import DatasetSpec, Kind
from assay.pipelines.transforms import SqlTransform

#: Keys of `meta: {assay: {...}}` passed on to the dataset as they are.
_META_KEYS = (
    "time_column",
    "grain",
    "start",
    "lookback",
    "batch_size",
    "partition_by",
    "zorder_by",
)
_MATERIALIZED = {"table": Kind.FULL, "view": Kind.FULL}


@dataclass(frozen=True)
class Names:
    """How dbt's nodes are named in assay: model and source ids to datasets, and the
    relations compiled SQL reads to datasets."""

    datasets: Mapping[str, str]
    relations: Mapping[Relation, str]


def assay_meta(node: Mapping[str, Any]) -> dict[str, Any]:
    """The node's `meta: {assay: {...}}` (config meta first, then the node's own).

    Example:
        >>> assay_meta({"config": {"meta": {"assay": {"layer": "marts"}}}, "meta": {}})
        {'layer': 'marts'}
    """
    merged: dict[str, Any] = {}
    for meta in (node.get("meta") or {}, (node.get("config") or {}).get("meta") or {}):
        section = meta.get("assay") or {}
        if not isinstance(section, Mapping):
            raise DbtError(
                f"meta.assay is a {type(section).__name__}, not a mapping",
                where=node.get("original_file_path", node.get("unique_id", "?")),
                hint="write meta: {assay: {layer: marts, time_column: day, grain: day}}",
            )
        merged.update(section)
    return merged


def naming(manifest: Mapping[str, Any], default_layer: str) -> Names:
    """Dataset names of every model and source; a source's schema is its assay layer."""
    datasets: dict[str, str] = {}
    relations: dict[Relation, str] = {}
    for uid, source in manifest.get("sources", {}).items():
        name = f"{source['schema']}.{source['identifier']}"
        datasets[uid] = name
        relations[relation_key(source["database"], source["schema"], source["identifier"])] = name
    for uid, node in manifest.get("nodes", {}).items():
        if node["resource_type"] != "model" or _materialized(node) == "ephemeral":
            continue
        layer = assay_meta(node).get("layer") or default_layer
        name = f"{layer}.{node['name']}"
        datasets[uid] = name
        identifier = node.get("alias") or node["name"]
        relations[relation_key(node["database"], node["schema"], identifier)] = name
    return Names(datasets, relations)


def _materialized(node: Mapping[str, Any]) -> str:
    return str((node.get("config") or {}).get("materialized") or "view")


def model_datasets(
    manifest: Mapping[str, Any], names: Names, project_dir: str
) -> list[DatasetSpec]:
    """A DatasetSpec for every model dbt materializes (not ephemeral ones)."""
    specs = []
    for uid, node in manifest.get("nodes", {}).items():
        if uid in names.datasets and node["resource_type"] == "model":
            specs.append(model_dataset(node, names, project_dir))
    return specs


def model_dataset(node: Mapping[str, Any], names: Names, project_dir: str) -> DatasetSpec:
    """One model's dataset: its compiled SQL on assay's names, its kind and settings."""
    where = f"{project_dir}/{node['original_file_path']}"
    refused = [d for d in node["depends_on"]["nodes"] if d.split(".")[0] in ("seed", "snapshot")]
    if refused:
        raise DbtError(
            f"model {node['name']} reads {', '.join(refused)}: assay runs dbt models and "
            "tests, not seeds or snapshots",
            where=where,
            hint="load the seed's file as an assay source (assay.files) and read it "
            "with {{ source('<layer>', '<name>') }}",
        )
    tree = parse_compiled(node.get("compiled_code") or "", where, _compiled_path(node))
    tree, inputs = rename_relations(tree, names.relations, where)
    meta = assay_meta(node)
    options = {key: meta[key] for key in _META_KEYS if key in meta}
    kind, keys = _kind(node, meta, where)
    owner = meta.get("owner") or (node.get("meta") or {}).get("owner")
    try:
        return DatasetSpec(
            name=names.datasets[node["unique_id"]],
            kind=kind,
            producer=SqlTransform(tree.sql(dialect="duckdb", pretty=True)),
            inputs=tuple(inputs),
            origin=where,
            description=node.get("description") or None,
            column_descriptions={
                name: column["description"]
                for name, column in (node.get("columns") or {}).items()
                if column.get("description")
            },
            **_common(
                keys=keys or None,
                owner=owner,
                tags=list(node.get("tags") or ()) or None,
                **options,
            ),
        )
    except DefinitionError as exc:
        raise DbtError(
            exc.message,
            where=where,
            hint=exc.hint or "set it under the model's meta: {assay: {...}}",
        ) from None


def _compiled_path(node: Mapping[str, Any]) -> str | None:
    """Where dbt wrote the model's compiled SQL, written again if that folder is gone (a
    cached manifest outlives dbt's target folder), so an error can point at it."""
    path = node.get("compiled_path")
    if not path or not Path(path).is_absolute():
        return path or None
    if not Path(path).is_file():
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(node.get("compiled_code") or "")
        except OSError:
            return None
    return str(path)


def _kind(node: Mapping[str, Any], meta: Mapping[str, Any], where: str) -> tuple[Kind, list[str]]:
    """The dataset kind of a model, and its keys (dbt's unique_key)."""
    materialized = _materialized(node)
    unique_key = (node.get("config") or {}).get("unique_key") or []
    keys = [unique_key] if isinstance(unique_key, str) else list(unique_key)
    if materialized in _MATERIALIZED:
        return _MATERIALIZED[materialized], keys
    if materialized != "incremental":
        raise DbtError(
            f"model {node['name']} is materialized as {materialized!r}",
            where=where,
            hint="assay runs table, view, incremental and ephemeral models",
        )
    if meta.get("time_column"):
        return Kind.INCREMENTAL, keys
    if keys:
        return Kind.MERGE, keys  # no time column: upserted by dbt's unique_key each run
    raise DbtError(
        f"incremental model {node['name']} has neither a time column nor a unique_key",
        where=where,
        hint="add meta: {assay: {time_column: <column>, grain: day}} (assay then builds "
        "it interval by interval), or a unique_key to merge on",
    )
