"""Folder-level `meta.assay` from dbt_project.yml, under a model's own.

dbt merges `meta` key by key: a model whose own `meta: {assay: {...}}` (config block or
properties yml) names no layer replaces its folder's whole `assay` key, and would land in
the default layer. assay reads the `+meta: {assay: {...}}` of the model's folders in
dbt_project.yml (outer folders first) and lays the model's own keys over them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from assay.integrations.dbt.compile import DbtError


def with_folder_meta(manifest: dict[str, Any], project_dir: Path) -> dict[str, Any]:
    """`manifest` with each model's `config.meta.assay` completed from its folders'.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> _ = (d / "dbt_project.yml").write_text(
        ...     "name: p\\nmodels: {p: {staging: {+meta: {assay: {layer: staging}}}}}")
        >>> node = {"resource_type": "model", "fqn": ["p", "staging", "stg_x"],
        ...         "config": {"meta": {"assay": {"owner": "ana"}}}}
        >>> out = with_folder_meta({"nodes": {"model.p.stg_x": node}}, d)
        >>> out["nodes"]["model.p.stg_x"]["config"]["meta"]["assay"]
        {'layer': 'staging', 'owner': 'ana'}
    """
    models = _project_models(project_dir)
    if not models:
        return manifest
    nodes = dict(manifest.get("nodes", {}))
    for uid, node in nodes.items():
        if node.get("resource_type") != "model":
            continue
        inherited = folder_assay_meta(models, node.get("fqn") or [])
        config = dict(node.get("config") or {})
        meta = dict(config.get("meta") or {})
        own = meta.get("assay")
        if not inherited or not isinstance(own, Mapping):
            continue
        meta["assay"] = {**inherited, **own}
        nodes[uid] = {**node, "config": {**config, "meta": meta}}
    return {**manifest, "nodes": nodes}


def folder_assay_meta(models: Mapping[str, Any], fqn: Sequence[str]) -> dict[str, Any]:
    """The `meta.assay` keys the folders along `fqn` set (deeper folders win).

    Example:
        >>> models = {"p": {"+meta": {"assay": {"owner": "a"}},
        ...                 "marts": {"meta": {"assay": {"layer": "marts"}}}}}
        >>> folder_assay_meta(models, ["p", "marts", "m"])
        {'owner': 'a', 'layer': 'marts'}
    """
    merged: dict[str, Any] = {}
    level: Any = models
    for part in ("", *fqn[:-1]):
        level = level.get(part) if part else level
        if not isinstance(level, Mapping):
            break
        for key in ("meta", "+meta"):
            section = (level.get(key) or {}) if isinstance(level.get(key), Mapping) else {}
            if isinstance(section.get("assay"), Mapping):
                merged.update(section["assay"])
    return merged


def _project_models(project_dir: Path) -> Mapping[str, Any]:
    """The `models:` section of dbt_project.yml (dbt has already validated the file)."""
    path = project_dir / "dbt_project.yml"
    try:
        settings = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DbtError(
            f"cannot read dbt_project.yml: {exc}",
            where=str(path),
            hint="fix the file's YAML (dbt compiles it too)",
        ) from None
    models = settings.get("models") if isinstance(settings, Mapping) else None
    return models if isinstance(models, Mapping) else {}
