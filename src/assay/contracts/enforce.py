"""Enforce a contract on a batch: quarantine rows breaking error rules, flag (and keep)
rows breaking warning rules, measure every batch metric in one aggregate pass, and decide
pass, warn or block per rule severity. Rows in = good rows + rejected rows, always."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from assay.contracts.compile import (
    Compiled,
    compile_contract,
    flag_expression,
    metric_expression,
    row_pass_sql,
)
from assay.contracts.measure import measure, profile_expressions, run_own_query
from assay.contracts.model import BatchRule, Contract, RowRule
from assay.contracts.results import (
    CheckResult,
    failed_to_run,
    judge,
    not_run,
    row_result,
    schema_drift,
)
from assay.contracts.sql import kind
from assay.engines import Engine, Frame


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
        compiled = compile_contract(contract, good.schema)
        results.extend(schema_drift(contract, compiled, good.column_names))
        results.extend(not_run(contract, contract.dataset))
        good, rejected, reasons = _row_pass(engine, compiled.quarantining, good)
        rejected_parts.append(rejected)
        reasons_all.extend(reasons)
        for rule in compiled.quarantining:
            broken = sum(1 for r in reasons if _names(r, rule))
            results.append(row_result(contract.dataset, rule, broken, quarantined=True))
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


def _names(reasons: str, rule: RowRule) -> bool:
    return any(part.split(": ", 1)[0] == rule.name for part in reasons.split("; "))


def _row_pass(
    engine: Engine, rules: tuple[RowRule, ...], table: pa.Table | Frame
) -> tuple[pa.Table | Frame, pa.Table, list[str]]:
    if not rules or not table.num_rows:
        return table, table.schema.empty_table(), []
    if isinstance(table, Frame):
        # Split in the engine: only the rejected rows come back, with their reasons.
        flagged = engine.relation(row_pass_sql(rules, "batch"), {"batch": table})
        good, rejected = engine.split(flagged, "__violations")
        reasons = rejected["__violations"].to_pylist()
        return good, rejected.drop_columns(["__violations"]), reasons
    # Only the verdict comes back; rows are split in Arrow, never copied through the engine.
    verdicts = engine.query(row_pass_sql(rules, "batch", with_rows=False), {"batch": table})
    column = verdicts["__violations"]
    bad = pc.not_equal(column, "")
    if not pc.any(bad).as_py():
        return table, table.schema.empty_table(), []
    return table.filter(pc.invert(bad)), table.filter(bad), column.filter(bad).to_pylist()


def _batch_pass(
    engine: Engine, contract: Contract, compiled: Compiled, table: pa.Table | Frame
) -> tuple[list[CheckResult], dict[str, float | None]]:
    """All batch rules, warning row rules and the column profile in one aggregate query
    (SQL rules and foreign keys run their own)."""
    kinds = {f.name: kind(f.type) for f in table.schema}
    exprs: dict[str, exp.Expr] = {"rows": exp.Count(this=exp.Star())}
    for i, row_rule in enumerate(compiled.flagging):
        exprs[f"flag_{i}"] = flag_expression(row_rule)
    for i, rule in enumerate(compiled.batch_rules):
        expr = metric_expression(rule, kinds)
        if expr is not None and all(c in kinds for c in _columns(rule)):
            exprs[f"rule_{i}"] = expr
    exprs.update(profile_expressions(table.schema))
    values = measure(engine, exprs, table)
    rows = values.get("rows")
    rows = rows if isinstance(rows, float) else float(table.num_rows)
    results = [
        _flag_result(contract.dataset, row_rule, values.get(f"flag_{i}"))
        for i, row_rule in enumerate(compiled.flagging)
    ]
    for i, rule in enumerate(compiled.batch_rules):
        missing = [c for c in _columns(rule) if c not in kinds]
        if missing:
            results.append(
                failed_to_run(contract.dataset, rule, KeyError(f"column {missing[0]} is missing"))
            )
            continue
        observed = values.get(f"rule_{i}")
        if f"rule_{i}" not in values:
            try:
                observed = run_own_query(engine, rule, table)
            except Exception as exc:
                observed = exc
        if isinstance(observed, Exception):
            results.append(failed_to_run(contract.dataset, rule, observed))
        else:
            results.append(judge(contract.dataset, rule, observed, rows))
    metrics = {
        k: v
        for k, v in values.items()
        if not k.startswith(("rule_", "flag_")) and not isinstance(v, Exception)
    }
    return results, metrics


def _columns(rule: BatchRule) -> tuple[str, ...]:
    """The batch's columns a rule reads."""
    if rule.foreign_key is not None:
        return rule.foreign_key.columns
    return tuple(rule.columns) or ((rule.column,) if rule.column else ())


def _flag_result(dataset: str, rule: RowRule, value: Any) -> CheckResult:
    if isinstance(value, Exception):
        return failed_to_run(dataset, rule, value)
    return row_result(dataset, rule, value or 0, quarantined=False)


def rows_as_json(table: pa.Table) -> list[str]:
    """Each row as a JSON object (the raw record of a quarantined row), alike on every
    engine: a whole-number decimal (DuckDB's sum of integers, a HUGEINT) is the integer
    Spark's BIGINT sum is; other decimals keep their digits as text.

    Example:
        >>> from decimal import Decimal
        >>> rows_as_json(pa.table({"n": pa.array([Decimal(7)], pa.decimal128(38, 0)),
        ...                        "p": pa.array([Decimal("2.70")], pa.decimal128(10, 2))}))
        ['{"n": 7, "p": "2.70"}']
    """

    def default(v: Any) -> Any:
        if isinstance(v, Decimal) and v.as_tuple().exponent == 0:
            return int(v)
        return v.isoformat() if isinstance(v, datetime | date) else str(v)

    return [json.dumps(row, default=default, ensure_ascii=False) for row in table.to_pylist()]


__all__ = ["CheckResult", "Enforcement", "enforce", "rows_as_json"]
