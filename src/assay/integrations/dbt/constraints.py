"""dbt model contracts as assay contracts. A model with `contract: {enforced: true}`
declares its columns (name, data_type) and constraints; dbt-duckdb would refuse a build
that breaks them. assay runs the model itself, so it enforces them as an assay contract on
the model's dataset: a required column missing from the data fails the batch, and rows
breaking `not_null` or `check` constraints are quarantined with the constraint as the
reason (rows in = rows written + rows quarantined); `unique` and `primary_key` are batch
rules that block. Columns are matched by name; their data types are documentation here
(the compiled SQL decides them, as dbt-duckdb's own build does).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from assay.contracts.model import Column, Contract, RowRule, Severity
from assay.integrations.dbt.compile import DbtError
from assay.integrations.dbt.models import Names


def model_contracts(
    manifest: Mapping[str, Any], names: Names, project_dir: str
) -> dict[str, list[Contract]]:
    """An assay contract for every model whose dbt contract is enforced, by dataset."""
    found: dict[str, list[Contract]] = {}
    for uid, node in manifest.get("nodes", {}).items():
        enforced = ((node.get("config") or {}).get("contract") or {}).get("enforced")
        if node["resource_type"] == "model" and enforced and uid in names.datasets:
            dataset = names.datasets[uid]
            found.setdefault(dataset, []).append(model_contract(node, dataset, project_dir))
    return found


def model_contract(node: Mapping[str, Any], dataset: str, project_dir: str) -> Contract:
    """One model's enforced dbt contract as an assay contract."""
    where = f"{project_dir}/{node['original_file_path']} (contract)"
    columns: list[Column] = []
    rows: list[RowRule] = []
    primary: list[str] = []
    for position, spec in enumerate((node.get("columns") or {}).values()):
        kinds = {c.get("type") for c in spec.get("constraints") or ()}
        if "primary_key" in kinds:
            primary.append(spec["name"])
        columns.append(
            Column(
                name=spec["name"],
                prop=spec["name"],
                physical_type=spec.get("data_type"),
                required=bool(kinds & {"not_null", "primary_key"}),
                unique="unique" in kinds,
                primary_key="primary_key" in kinds,
                key_position=position if "primary_key" in kinds else -1,
            )
        )
        rows += [
            _check(c, spec["name"], where)
            for c in spec.get("constraints") or ()
            if c.get("type") == "check"
        ]
    for constraint in node.get("constraints") or ():  # model-level constraints
        if constraint.get("type") == "primary_key":
            primary += [c for c in constraint.get("columns") or () if c not in primary]
        elif constraint.get("type") == "check":
            rows.append(_check(constraint, None, where))
    return Contract(
        dataset=dataset,
        path=where,
        columns=tuple(columns),
        row_rules=tuple(rows),
        batch_rules=(),
        object_name=f"dbt contract of {node['name']}",
        primary_key=tuple(primary),
    )


def _check(constraint: Mapping[str, Any], column: str | None, where: str) -> RowRule:
    """A `check` constraint as a row rule: a row breaks it when the expression is false."""
    text = str(constraint.get("expression") or "")
    try:
        condition = sqlglot.parse_one(text, read="duckdb")
    except ParseError:
        raise DbtError(
            f"check constraint {text!r} does not parse",
            where=where,
            hint="write the expression in DuckDB's SQL",
        ) from None
    name = constraint.get("name") or f"check({text})"
    # NULL is not false: like a database, a check whose expression is NULL passes.
    violation = exp.not_(exp.func("coalesce", exp.paren(condition), exp.true()))
    return RowRule(str(name), column, violation, f"breaks {text}", Severity.ERROR)
