"""Enforce a contract on a batch: split good rows from quarantined ones, measure every
batch metric in one aggregate pass, and decide pass, warn or block per rule severity."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from assay.contracts.compile import (
    Compiled,
    compile_contract,
    metric_expression,
    q,
    row_pass_sql,
)
from assay.contracts.model import BatchRule, Contract, Severity
from assay.engines import Engine, Frame, Source
from assay.engines.types import NUMERIC, arrow_to_sql


@dataclass(frozen=True)
class CheckResult:
    """One rule's outcome on one batch."""

    dataset: str
    rule: str
    kind: str  # row | batch | schema
    severity: str
    status: str  # pass | warn | fail
    observed: float | None = None
    expected: str | None = None
    detail: str | None = None

    @property
    def blocks(self) -> bool:
        return self.status == "fail" and self.severity == Severity.ERROR.value


@dataclass
class Enforcement:
    """Good rows, rejected rows (with reasons), rule results and the batch's profile."""

    #: Arrow, or a Frame when the batch was one (checked in its engine).
    good: pa.Table | Frame
    rejected: pa.Table
    reasons: list[str]
    results: list[CheckResult]
    metrics: dict[str, float | None] = field(default_factory=dict)

    @property
    def blocked(self) -> list[CheckResult]:
        return [r for r in self.results if r.blocks]


def enforce(engine: Engine, contracts: Iterable[Contract], table: pa.Table | Frame) -> Enforcement:
    """Apply every contract bound to a dataset to one batch (`table`: Arrow, or a Frame
    that `engine` holds and splits without collecting its good rows)."""
    good, reasons_all, results, metrics = table, [], [], {}
    rejected_parts = []
    for contract in contracts:
        types = {f.name: arrow_to_sql(f.type) for f in good.schema}
        compiled = compile_contract(contract, types)
        results.extend(_schema_drift(contract, compiled, good))
        good, rejected, reasons = _row_pass(engine, compiled, good)
        rejected_parts.append(rejected)
        reasons_all.extend(reasons)
        for rule in compiled.row_rules:
            broken = sum(1 for r in reasons if f"{rule.name}: " in r)
            results.append(
                CheckResult(
                    contract.dataset,
                    rule.name,
                    "row",
                    rule.severity.value,
                    "pass" if not broken else "warn",
                    broken,
                    "0 rows (quarantined)",
                    None if not broken else f"{broken} row(s) quarantined",
                )
            )
        batch_results, batch_metrics = _batch_pass(engine, contract, compiled, good)
        results.extend(batch_results)
        metrics.update(batch_metrics)
    rejected_parts = [p for p in rejected_parts if p.num_rows]
    rejected_all = (
        pa.concat_tables(rejected_parts, promote_options="permissive")
        if rejected_parts
        else table.schema.empty_table()
    )
    return Enforcement(good, rejected_all, reasons_all, results, metrics)


def _schema_drift(
    contract: Contract, compiled: Compiled, table: pa.Table | Frame
) -> list[CheckResult]:
    """Columns the contract requires but the data lacks (fail), and columns the data has
    that the contract does not describe (a warning: the schema moved on)."""
    declared = {c.name for c in contract.columns}
    extra = [n for n in table.column_names if n not in declared and not n.startswith("_")]
    if not declared:
        return _missing_columns(contract, compiled)
    return _missing_columns(contract, compiled) + [
        CheckResult(
            contract.dataset,
            f"column({name})",
            "schema",
            Severity.WARNING.value,
            "warn",
            None,
            "not in the contract",
            f"column {name} is in the data but not in the contract",
        )
        for name in extra
    ]


def _missing_columns(contract: Contract, compiled: Compiled) -> list[CheckResult]:
    return [
        CheckResult(
            contract.dataset,
            f"column({name})",
            "schema",
            Severity.ERROR.value if column.required else Severity.WARNING.value,
            "fail",
            None,
            "present",
            f"column {name} is missing from the data",
        )
        for column in contract.columns
        if (name := column.name) in compiled.missing_columns
    ]


def _row_pass(
    engine: Engine, compiled: Compiled, table: pa.Table | Frame
) -> tuple[pa.Table | Frame, pa.Table, list[str]]:
    if not compiled.row_rules or not table.num_rows:
        return table, table.schema.empty_table(), []
    if isinstance(table, Frame):
        # Split in the engine: only the rejected rows come back, with their reasons.
        flagged = engine.relation(row_pass_sql(compiled.row_rules, "batch"), {"batch": table})
        good, rejected = engine.split(flagged, "__violations")
        reasons = rejected["__violations"].to_pylist()
        return good, rejected.drop_columns(["__violations"]), reasons
    # Only the verdict comes back; rows are split in Arrow, never copied through the engine.
    verdicts = engine.query(
        row_pass_sql(compiled.row_rules, "batch").replace("SELECT *, ", "SELECT ", 1),
        {"batch": table},
    )["__violations"]
    bad = pc.not_equal(verdicts, "")
    if not pc.any(bad).as_py():
        return table, table.schema.empty_table(), []
    return (table.filter(pc.invert(bad)), table.filter(bad), verdicts.filter(bad).to_pylist())


def _batch_pass(
    engine: Engine, contract: Contract, compiled: Compiled, table: pa.Table | Frame
) -> tuple[list[CheckResult], dict[str, float | None]]:
    """All batch rules and the column profile in one aggregate query (SQL rules aside)."""
    exprs: dict[str, str] = {"rows": "count(*)"}
    for i, rule in enumerate(compiled.batch_rules):
        expr = metric_expression(rule) if rule.metric != "sql" else None
        if expr is not None and (rule.column is None or rule.column in table.column_names):
            exprs[f"rule_{i}"] = expr
    exprs.update(profile_expressions(table.schema))
    select = ", ".join(f"{expr} AS {q(key)}" for key, expr in exprs.items())
    row = engine.query(f"SELECT {select} FROM batch", {"batch": table}).to_pylist()[0]
    values = {k: _number(v) for k, v in row.items()}
    results = []
    for i, rule in enumerate(compiled.batch_rules):
        if rule.metric == "sql":
            observed = _sql_rule(engine, rule, table)
        elif f"rule_{i}" in values:
            observed = values[f"rule_{i}"]
        else:
            results.append(
                CheckResult(
                    contract.dataset,
                    rule.name,
                    "batch",
                    rule.severity.value,
                    "fail",
                    None,
                    str(rule.threshold),
                    f"column {rule.column} is missing",
                )
            )
            continue
        results.append(_judge(contract.dataset, rule, observed, values["rows"] or 0))
    metrics = {k: v for k, v in values.items() if not k.startswith("rule_")}
    return results, metrics


def _judge(dataset: str, rule: BatchRule, observed: float | None, rows: float) -> CheckResult:
    if rule.unit == "percent" and observed is not None:
        observed = 100.0 * observed / rows if rows else 0.0
    ok = rule.threshold.passes(observed)
    status = "pass" if ok else ("fail" if rule.severity is not Severity.INFO else "warn")
    if not ok and rule.severity is Severity.WARNING:
        status = "warn"
    unit = "%" if rule.unit == "percent" else (f" {rule.unit}" if rule.unit else "")
    return CheckResult(
        dataset,
        rule.name,
        "batch",
        rule.severity.value,
        status,
        observed,
        f"{rule.threshold}{unit}",
        None if ok else f"{rule.name} = {_fmt(observed)}{unit}, expected {rule.threshold}{unit}",
    )


def _sql_rule(engine: Engine, rule: BatchRule, table: Source) -> float | None:
    query = (rule.query or "").replace("${table}", "batch").replace("{table}", "batch")
    if rule.column:
        query = query.replace("${column}", q(rule.column)).replace("{column}", q(rule.column))
    result = engine.query(query, {"batch": table})
    if not result.num_rows or not result.num_columns:
        return None
    return _number(result.column(0)[0].as_py())


def profile_expressions(schema: pa.Schema) -> dict[str, str]:
    """Per column: nulls, approximate distinct count, and min/max/mean where they apply."""
    exprs = {}
    for f in schema:
        if f.name.startswith("_"):
            continue
        c, sql_type = q(f.name), arrow_to_sql(f.type)
        exprs[f"{f.name}.nulls"] = f"count(*) FILTER (WHERE {c} IS NULL)"
        exprs[f"{f.name}.distinct"] = f"approx_count_distinct({c})"
        if sql_type in NUMERIC or sql_type.startswith("DECIMAL"):
            exprs[f"{f.name}.min"] = f"min({c})"
            exprs[f"{f.name}.max"] = f"max({c})"
            exprs[f"{f.name}.mean"] = f"avg({c})"
        elif sql_type in ("DATE", "TIMESTAMP", "TIMESTAMPTZ"):
            exprs[f"{f.name}.max_epoch"] = f"epoch(max({c}))"
    return exprs


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _fmt(value: float | None) -> str:
    return "null" if value is None else f"{value:g}"


def rows_as_json(table: pa.Table) -> list[str]:
    """Each row as a JSON object (the raw record of a quarantined row)."""

    def default(v: Any) -> Any:
        return v.isoformat() if isinstance(v, datetime | date) else str(v)

    return [json.dumps(row, default=default, ensure_ascii=False) for row in table.to_pylist()]


__all__ = ["CheckResult", "Enforcement", "enforce", "rows_as_json"]
