"""A dbt model's own meta.assay without `layer` keeps its folder's layer (dbt replaces the
folder's meta.assay by the model's: dbt's own manifest shows it)."""

from __future__ import annotations

import json

from tests.integrations.dbt.small import STAGING, make_project


def test_a_models_own_meta_without_layer_keeps_its_folders_layer(tmp_path):
    owned = {
        "dbt/models/staging/stg_owned.sql": """\
            {{ config(meta={'assay': {'owner': 'ana'}}) }}
            select chargeback_id, amount from {{ source('silver', 'chargebacks') }}
            """,
    }
    project = make_project(tmp_path / "p", {**STAGING, **owned})
    # dbt itself replaced the folder's meta.assay by the model's (the trap).
    [manifest_path] = (tmp_path / "p" / ".assay" / "dbt" / "manifests").glob("*.json")
    manifest = json.loads(manifest_path.read_text())
    node = manifest["nodes"]["model.small.stg_owned"]
    assert node["config"]["meta"]["assay"] == {"owner": "ana"}
    spec = project.dag.specs["staging.stg_owned"]
    assert spec.owner == "ana"
    assert "dbt.stg_owned" not in project.dag.specs
    assert "staging.stg_chargebacks" in project.dag.specs
