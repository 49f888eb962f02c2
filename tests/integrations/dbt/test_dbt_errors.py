"""What assay says when a dbt project cannot map onto it: each error names the model or
test and its file, and says what to do. Manifests here are the shape dbt 1.11 writes."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import pytest

import assay
from assay.contracts.model import Severity
from assay.errors import MissingExtraError
from assay.integrations.dbt import DbtError
from assay.integrations.dbt.checks import dbt_test_contracts
from assay.integrations.dbt.compile import require_dbt
from assay.integrations.dbt.models import model_datasets, naming
from tests.helpers import write_project
from tests.integrations.dbt.conftest import require_dbt as require_dbt_installed
from tests.integrations.dbt.small import STAGING, make_project

SOURCE = {
    "source.p.silver.tx": {
        "database": "memory",
        "schema": "silver",
        "identifier": "tx",
        "resource_type": "source",
    }
}


def _model(name: str, sql: str, materialized: str = "table", **config: Any) -> dict[str, Any]:
    return {
        "unique_id": f"model.p.{name}",
        "resource_type": "model",
        "name": name,
        "alias": name,
        "database": "memory",
        "schema": "main",
        "original_file_path": f"models/{name}.sql",
        "compiled_code": sql,
        "depends_on": {"nodes": ["source.p.silver.tx"]},
        "config": {"materialized": materialized, "meta": config.pop("meta", {}), **config},
        "meta": {},
        "tags": [],
        "description": "",
    }


def _datasets(*models: dict[str, Any]) -> list[Any]:
    manifest = {"sources": SOURCE, "nodes": {m["unique_id"]: m for m in models}}
    return model_datasets(manifest, naming(manifest, "dbt"), "dbt")


def test_an_incremental_model_without_time_column_or_key_is_refused() -> None:
    model = _model("daily", 'SELECT * FROM "memory"."silver"."tx"', "incremental")
    with pytest.raises(DbtError) as err:
        _datasets(model)
    assert err.value.where == "dbt/models/daily.sql"
    assert "time_column" in (err.value.hint or "")


def test_an_incremental_model_with_only_a_unique_key_merges() -> None:
    model = _model("latest", 'SELECT * FROM "memory"."silver"."tx"', "incremental", unique_key="id")
    (spec,) = _datasets(model)
    assert (spec.name, spec.kind.value, spec.keys, spec.inputs) == (
        "dbt.latest",
        "merge",
        ("id",),
        ("silver.tx",),
    )


def test_a_hard_coded_table_is_refused_naming_it() -> None:
    model = _model("odd", 'SELECT * FROM "memory"."raw"."elsewhere"')
    with pytest.raises(DbtError) as err:
        _datasets(model)
    assert '"memory"."raw"."elsewhere"' in err.value.message
    assert "source(" in (err.value.hint or "")


def test_a_bad_grain_names_the_model_file() -> None:
    meta = {"assay": {"time_column": "t", "grain": "fortnight"}}
    model = _model("g", 'SELECT * FROM "memory"."silver"."tx"', "incremental", meta=meta)
    with pytest.raises(DbtError) as err:
        _datasets(model)
    assert err.value.where == "dbt/models/g.sql"
    assert "fortnight" in err.value.message


def test_seeds_and_snapshots_are_refused() -> None:
    model = _model("s", 'SELECT * FROM "memory"."main"."countries"')
    model["depends_on"]["nodes"] = ["seed.p.countries"]
    with pytest.raises(DbtError, match="not seeds or snapshots"):
        _datasets(model)


def test_a_warn_test_and_an_error_threshold_become_rules() -> None:
    model = _model("m", 'SELECT * FROM "memory"."silver"."tx"')
    test = {
        "unique_id": "test.p.few_nulls",
        "resource_type": "test",
        "name": "few_nulls",
        "original_file_path": "tests/few_nulls.sql",
        "compiled_code": 'SELECT * FROM "memory"."main"."m" WHERE a IS NULL',
        "depends_on": {"nodes": ["model.p.m"]},
        "config": {"severity": "warn", "warn_if": "> 10"},
    }
    manifest = {"sources": SOURCE, "nodes": {"model.p.m": model, "test.p.few_nulls": test}}
    names = naming(manifest, "dbt")
    contracts, after = dbt_test_contracts(
        manifest, names, model_datasets(manifest, names, "d"), "d"
    )
    (rule,) = contracts["dbt.m"][0].batch_rules
    assert (rule.name, rule.severity, str(rule.threshold)) == (
        "dbt:few_nulls",
        Severity.WARNING,
        "<= 10",
    )
    assert after == {}
    assert rule.query is not None and "dbt.m" in rule.query.text  # named for lineage


def test_a_missing_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_dbt(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("dbt"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dbt)
    with pytest.raises(MissingExtraError) as err:
        require_dbt()
    assert err.value.hint == "pip install 'assay[dbt]'"


def test_a_dbt_project_that_does_not_compile_names_the_folder(tmp_path: Path) -> None:
    require_dbt_installed()
    root = write_project(
        tmp_path / "p",
        {
            "dbt/dbt_project.yml": "name: broken\nversion: '1.0'\nconfig-version: 2\n",
            "dbt/models/bad.sql": "select {{ ref('nowhere') }}",
        },
        {"dbt": {"project_dir": "dbt"}},
    )
    with pytest.raises(DbtError) as err:
        assay.Project(root)
    assert "nowhere" in err.value.message
    assert err.value.where == str(root / "dbt")
    assert "dbt compile" in (err.value.hint or "")


def test_no_dbt_project_yml_says_where_to_point(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", {}, {"dbt": {"project_dir": "analytics"}})
    with pytest.raises(DbtError) as err:
        assay.Project(root)
    assert "dbt_project.yml" in err.value.message
    assert "project_dir" in (err.value.hint or "")


def test_a_syntax_error_names_line_column_and_the_compiled_sql(tmp_path: Path) -> None:
    broken = {
        "dbt/models/staging/stg_broken.sql": """\
            select
                chargeback_id,
                amount * from {{ source('silver', 'chargebacks') }}
            """,
    }
    with pytest.raises(DbtError) as err:
        make_project(tmp_path / "p", {**STAGING, **broken})
    message, hint = str(err.value), err.value.hint or ""
    assert err.value.where == "dbt/models/staging/stg_broken.sql"
    assert "at line 3, column" in message
    assert '`amount * from "memory"."silver"."chargebacks"`' in message
    assert "missing for Mul)" in message  # sqlglot's class, without its module path
    assert hint.startswith("fix the model; the compiled SQL is in ")
    compiled = Path(hint.removeprefix("fix the model; the compiled SQL is in ").split(" (")[0])
    assert compiled.is_file() and "amount * from" in compiled.read_text()
