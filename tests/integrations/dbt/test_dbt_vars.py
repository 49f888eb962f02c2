"""`dbt.vars` from assay.yaml reach dbt's compile; a change of vars (or of a model file)
recompiles, an unchanged project reads the cached manifest."""

from __future__ import annotations

from pathlib import Path

import yaml

import assay
from tests.helpers import write_project
from tests.integrations.dbt.conftest import require_dbt

FILES = {
    "pipelines/amounts.sql": """\
        -- name: silver.amounts
        SELECT * FROM (VALUES (1, 5.0), (2, -1.0), (3, 12.5)) AS t(id, amount)
        """,
    "dbt/dbt_project.yml": "name: small\nversion: '1.0'\nconfig-version: 2\n",
    "dbt/models/sources.yml": "version: 2\nsources: [{name: silver, tables: [{name: amounts}]}]\n",
    "dbt/models/above.sql": """\
        {{ config(materialized='table') }}
        select id, amount from {{ source('silver', 'amounts') }}
        where amount > {{ var('min_amount') }}
        """,
}


def _set_min(root: Path, value: float) -> None:
    path = root / "assay.yaml"
    settings = yaml.safe_load(path.read_text())
    settings["dbt"] = {"project_dir": "dbt", "vars": {"min_amount": value}}
    path.write_text(yaml.safe_dump(settings))


def _ids(root: Path) -> list[int]:
    project = assay.Project(root)
    result = project.run()
    assert result.ok, [r.error for r in result.failed]
    return sorted(project.table("dbt.above").column("id").to_pylist())


def test_vars_reach_dbt_and_a_change_recompiles(tmp_path: Path) -> None:
    require_dbt()
    root = write_project(tmp_path / "p", FILES)
    _set_min(root, 0)
    assert _ids(root) == [1, 3]
    manifests = root / ".assay" / "dbt" / "manifests"
    (first,) = manifests.glob("*.json")
    assert _ids(root) == [1, 3]  # unchanged: the cached manifest, no recompile
    assert list(manifests.glob("*.json")) == [first]
    _set_min(root, 10)
    assert _ids(root) == [3]
    (second,) = manifests.glob("*.json")  # the old one is pruned
    assert second != first
