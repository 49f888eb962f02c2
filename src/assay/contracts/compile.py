"""Compile a contract against a batch's schema: row rules (each row breaks them or not)
and batch rules (metrics over the batch), as sqlglot expressions rendered in DuckDB's
dialect, which engines translate (Spark).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from sqlglot import exp

from assay.contracts.model import BatchRule, Column, Contract, RowRule, Severity, Threshold
from assay.contracts.options import TIME_PATTERN, option_violation, time_value
from assay.contracts.sql import any_of, col, is_true, kind, lit, search, sql, text
from assay.contracts.values import row_quality

#: logicalType -> the SQL type text values must cast to.
LOGICAL_TYPES = {
    "integer": "BIGINT",
    "number": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMPTZ",
}
_TEMPORAL_KINDS = {"date": "date", "timestamp": "timestamp", "timestamptz": "timestamptz"}
_COLLECTION_OPTIONS = (
    "minItems",
    "maxItems",
    "uniqueItems",
    "required",
    "minProperties",
    "maxProperties",
)


@dataclass(frozen=True)
class Compiled:
    """A contract compiled against one batch's columns."""

    row_rules: tuple[RowRule, ...]
    batch_rules: tuple[BatchRule, ...]
    missing_columns: tuple[str, ...]

    @property
    def quarantining(self) -> tuple[RowRule, ...]:
        """Row rules whose breaking rows are quarantined (severity error)."""
        return tuple(r for r in self.row_rules if r.severity is Severity.ERROR)

    @property
    def flagging(self) -> tuple[RowRule, ...]:
        """Row rules whose breaking rows are counted and kept (warning, info)."""
        return tuple(r for r in self.row_rules if r.severity is not Severity.ERROR)


def compile_contract(contract: Contract, schema: pa.Schema) -> Compiled:
    """Row rules and batch rules of `contract` for a batch with `schema`."""
    kinds = {f.name: kind(f.type) for f in schema}
    severity = contract.default_severity
    rows: list[RowRule] = []
    batch = list(contract.batch_rules)
    missing = tuple(c.name for c in contract.columns if c.name not in kinds)
    for column in contract.columns:
        if column.name in kinds:
            rows.extend(
                column_rules(column, schema.field(column.name).type, severity, contract.path)
            )
        if column.unique:
            batch.append(_unique(f"unique({column.name})", (column.name,), severity))
    if contract.primary_key:
        name = f"primaryKey({', '.join(contract.primary_key)})"
        batch.append(_unique(name, contract.primary_key, severity))
    for column_name, item in contract.raw.get("quality", []):
        if column_name in kinds:
            rows.append(row_quality(column_name, kinds[column_name], item, contract.status))
    # Row rules stated as such (an integration's, e.g. dbt check constraints); ODCS files
    # state theirs as properties and quality items, compiled above.
    rows.extend(r for r in contract.row_rules if r.column is None or r.column in kinds)
    return Compiled(tuple(rows), tuple(batch), missing)


def _unique(name: str, columns: tuple[str, ...], severity: Severity) -> BatchRule:
    """One uniqueness check over a key tuple (a composite key is unique as a whole)."""
    return BatchRule(
        name=name,
        metric="duplicateValues",
        threshold=Threshold.of("mustBe", 0),
        column=columns[0] if len(columns) == 1 else None,
        severity=severity,
        columns=columns,
    )


def column_rules(
    column: Column, dtype: pa.DataType, severity: Severity, where: str
) -> list[RowRule]:
    """Row rules a property states: required, its logical type, its logicalTypeOptions."""
    name, raw, column_kind = column.name, col(column.name), kind(dtype)
    rules = []
    if column.required:
        rules.append(
            RowRule(f"required({name})", name, raw.is_(exp.null()), f"{name} is null", severity)
        )
    logical = (column.logical_type or "").lower()
    value: exp.Expr = raw
    temporal = _TEMPORAL_KINDS.get(column_kind)
    if (column_kind == "text" and logical in LOGICAL_TYPES) or logical == "time":
        value, temporal, check = _text_value(name, logical, column_kind)
        if check is not None:
            rules.append(
                RowRule(
                    f"type({name})",
                    name,
                    exp.and_(raw.is_(exp.not_(exp.null())), check),
                    f"{name} is not a {logical}",
                    severity,
                )
            )
    options = dict(column.options)
    for option, bound in options.items():
        if option in _COLLECTION_OPTIONS:
            broken = _collection(option, bound, name, column_kind, dtype, where)
        else:
            broken = option_violation(option, bound, name, value, temporal, options, where)
        if broken is not None:
            condition, reason = broken
            violation = exp.and_(raw.copy().is_(exp.not_(exp.null())), exp.paren(condition))
            rules.append(RowRule(f"{option}({name})", name, violation, reason, severity))
    return rules


def _text_value(
    name: str, logical: str, column_kind: str
) -> tuple[exp.Expr, str | None, exp.Expr | None]:
    """A text column's value in its logical type, how it compares, and the condition that
    it is not one (None when the column is typed already)."""
    raw = col(name)
    if logical == "time":
        if column_kind != "text":
            return raw, "time", None
        return time_value(name), "time", exp.not_(search(raw, TIME_PATTERN))
    target = LOGICAL_TYPES[logical]
    value = exp.TryCast(this=raw, to=exp.DataType.build(target))
    failed: exp.Expr = value.is_(exp.null())
    if target == "BIGINT":
        # DuckDB rounds '2.5' to 3 when casting to an integer; a fraction is not one.
        as_double = exp.TryCast(this=raw.copy(), to=exp.DataType.build("DOUBLE"))
        failed = any_of([failed, exp.NullSafeNEQ(this=as_double, expression=value.copy())])
    temporal = {"date": "date", "timestamp": "timestamptz"}.get(logical)
    return value, temporal, failed


def _collection(
    option: str, bound: Any, name: str, column_kind: str, dtype: pa.DataType, where: str
) -> tuple[exp.Expr, str] | None:
    """Array options on list columns; object options on JSON text or struct columns."""
    from assay.contracts.collections import collection_violation

    return collection_violation(option, bound, name, column_kind, dtype, where)


def row_pass_sql(rules: tuple[RowRule, ...], table: str, with_rows: bool = True) -> str:
    """One scan that lists, per row, the names of the rules it breaks (empty: good row)."""
    cases = [
        exp.Case(ifs=[exp.If(this=is_true(r.violation), true=lit(f"{r.name}: {r.reason}"))])
        for r in rules
    ]
    # Anonymous: sqlglot's ConcatWs node renders a null guard around the call in DuckDB.
    args = [lit("; "), *cases]
    verdict = exp.Anonymous(this="concat_ws", expressions=args) if cases else lit("")
    columns = [exp.Star()] if with_rows else []
    return sql(exp.select(*columns, exp.alias_(verdict, "__violations")).from_(table))


def metric_expression(rule: BatchRule, kinds: Mapping[str, str] | None = None) -> exp.Expr | None:
    """The aggregate that measures a batch rule (None: measured by its own query);
    `kinds` (column -> `sql.kind`) lets value lists compare in the column's type."""
    from assay.contracts.values import invalid_condition, missing_condition

    c = col(rule.column) if rule.column else None
    column_kind = (kinds or {}).get(rule.column or "")
    if rule.metric == "rowCount":
        return exp.Count(this=exp.Star())
    if rule.metric == "duplicateValues":
        return _duplicates(rule.columns or ((rule.column,) if rule.column else ()))
    if rule.metric in ("sql", "foreignKey") or c is None:
        return None
    if rule.metric == "nullValues":
        return _count(c.is_(exp.null()))
    if rule.metric == "missingValues":
        return _count(missing_condition(c, rule.arguments, column_kind))
    if rule.metric == "invalidValues":
        return _count(invalid_condition(c, rule.arguments, column_kind))
    if rule.metric in ("freshness", "latency"):
        now = exp.TimeToUnix(this=exp.CurrentTimestamp())
        return exp.Sub(this=now, expression=exp.TimeToUnix(this=exp.Max(this=c)))
    raise ValueError(f"unknown metric {rule.metric!r} in rule {rule.name}")


def _count(condition: exp.Expr) -> exp.Expr:
    from assay.contracts.sql import count_where

    return count_where(is_true(condition))


def _duplicates(columns: tuple[str | None, ...]) -> exp.Expr:
    """Rows whose value is another row's: nulls are no value in one column (as GX's
    unique), while a key tuple is one value whatever its parts (GX's compound uniqueness
    with ignore_row_if="never"; a primary key's nulls also break `required`)."""
    keys = [col(c) for c in columns if c]
    if len(keys) == 1:
        return exp.Sub(
            this=exp.Count(this=keys[0]),
            expression=exp.Count(this=exp.Distinct(expressions=[keys[0].copy()])),
        )
    key = exp.Tuple(expressions=keys)
    distinct = exp.Count(this=exp.Distinct(expressions=[key]))
    return exp.Sub(this=exp.Count(this=exp.Star()), expression=distinct)


def flag_expression(rule: RowRule) -> exp.Expr:
    """Count of rows breaking a row rule."""
    return _count(rule.violation)


__all__ = [
    "Compiled",
    "compile_contract",
    "flag_expression",
    "metric_expression",
    "row_pass_sql",
    "sql",
    "text",
]
