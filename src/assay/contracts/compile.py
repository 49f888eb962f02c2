"""Compile a contract into SQL: one row pass that names each row's broken rules, and one
aggregate pass for every batch metric. Written in DuckDB's dialect and transpiled with
sqlglot for other engines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from assay.contracts.model import BatchRule, Column, Contract, RowRule, Severity
from assay.contracts.odcs import ContractError, is_row_level, threshold_of
from assay.naming import quote as q

#: logicalType -> the SQL type its values must cast to (text columns are cast-checked).
LOGICAL_TYPES = {
    "integer": "BIGINT",
    "number": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "time": "TIME",
    "string": "VARCHAR",
}
_FORMATS = {
    "email": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
    "uuid": r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    "uri": r"^[a-zA-Z][a-zA-Z0-9+.-]*://\S+$",
    "ipv4": r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$",
}
_TEXT = {"VARCHAR", "JSON"}


def full_match(text_sql: str, pattern: str) -> str:
    """SQL true when the whole text matches `pattern`: an anchored search, which sqlglot
    transpiles to every engine (Spark's RLIKE included).

    Example:
        >>> print(full_match('"code"', "[A-Z]+"))
        regexp_matches("code", '^(?:[A-Z]+)$')
    """
    return f"regexp_matches({text_sql}, {lit('^(?:' + pattern + ')$')})"


def lit(value: Any) -> str:
    """A SQL literal for a YAML scalar.

    Example:
        >>> lit("it's"), lit(3), lit(True), lit(None)
        ("'it''s'", '3', 'TRUE', 'NULL')
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


@dataclass(frozen=True)
class Compiled:
    """A contract compiled against one batch's columns."""

    row_rules: tuple[RowRule, ...]
    batch_rules: tuple[BatchRule, ...]
    missing_columns: tuple[str, ...]


def compile_contract(contract: Contract, types: Mapping[str, str]) -> Compiled:
    """Row rules and batch rules of `contract` for a batch whose columns have `types`."""
    rows: list[RowRule] = []
    batch = list(contract.batch_rules)
    missing = [c.name for c in contract.columns if c.name not in types]
    for column in contract.columns:
        if column.name not in types:
            continue
        rows.extend(_column_rules(column, types[column.name]))
        if column.unique:
            batch.append(
                BatchRule(
                    name=f"unique({column.name})",
                    metric="duplicateValues",
                    column=column.name,
                    threshold=threshold_of({"mustBe": 0}),  # type: ignore[arg-type]
                )
            )
    for column_name, item in contract.raw.get("quality", []):
        if column_name is not None and column_name in types and is_row_level(item):
            rows.append(_row_quality(column_name, item))
    return Compiled(tuple(rows), tuple(batch), tuple(missing))


def _column_rules(column: Column, sql_type: str) -> list[RowRule]:
    c, name = q(column.name), column.name
    rules = []
    if column.required:
        rules.append(RowRule(f"required({name})", name, f"{c} IS NULL", f"{name} is null"))
    target = LOGICAL_TYPES.get((column.logical_type or "").lower())
    value = c
    if target and target != "VARCHAR" and sql_type in _TEXT:
        failed = f"TRY_CAST({c} AS {target}) IS NULL"
        if target == "BIGINT":
            # DuckDB rounds '2.5' to 3 when casting to an integer; a fraction is not one.
            failed += f" OR TRY_CAST({c} AS DOUBLE) IS DISTINCT FROM TRY_CAST({c} AS BIGINT)"
        rules.append(
            RowRule(
                f"type({name})",
                name,
                f"{c} IS NOT NULL AND ({failed})",
                f"{name} is not a {column.logical_type}",
            )
        )
        value = f"TRY_CAST({c} AS {target})"
    for option, bound in column.options.items():
        rule = _option_rule(name, value, c, option, bound, target or sql_type)
        if rule is not None:
            rules.append(rule)
    return rules


def _option_rule(
    name: str, value: str, raw: str, option: str, bound: Any, sql_type: str
) -> RowRule | None:
    """A row rule for one logicalTypeOptions entry (None for documentation-only options)."""
    if option == "format":
        pattern = _FORMATS.get(str(bound).lower())
        if pattern is None:
            return None  # formats assay does not know are documentation only
        return RowRule(
            f"format({name})",
            name,
            f"{raw} IS NOT NULL AND NOT {full_match(f'CAST({raw} AS VARCHAR)', pattern)}",
            f"{name} is not a valid {bound}",
        )
    text = f"CAST({raw} AS VARCHAR)"
    comparable = f"CAST({lit(bound)} AS {sql_type})" if isinstance(bound, str) else lit(bound)
    if option in ("minLength", "maxLength"):
        op, words = ("<", "shorter than") if option == "minLength" else (">", "longer than")
        condition, reason = f"length({text}) {op} {int(bound)}", f"{words} {bound}"
    elif option == "pattern":
        condition = f"NOT {full_match(text, str(bound))}"
        reason = f"does not match {bound}"
    elif option == "multipleOf":
        ratio = f"CAST({value} AS DOUBLE) / {lit(bound)}"
        condition, reason = f"abs({ratio} - round({ratio})) > 1e-9", f"not a multiple of {bound}"
    elif option in _BOUNDS:
        op, words = _BOUNDS[option]
        condition, reason = f"{value} {op} {comparable}", f"{words} {bound}"
    else:
        return None
    return RowRule(
        f"{option}({name})", name, f"{raw} IS NOT NULL AND {condition}", f"{name} {reason}"
    )


#: Bound options: the comparison that breaks them, and how to say so.
_BOUNDS = {
    "minimum": ("<", "below the minimum"),
    "maximum": (">", "above the maximum"),
    "exclusiveMinimum": ("<=", "not above"),
    "exclusiveMaximum": (">=", "not below"),
}


def _row_quality(column: str, item: dict[str, Any]) -> RowRule:
    c, metric = q(column), item.get("metric")
    args = item.get("arguments") or {}
    severity = Severity(item.get("severity", "error"))
    name = item.get("name") or f"{metric}({column})"
    if metric == "nullValues":
        return RowRule(name, column, f"{c} IS NULL", f"{column} is null", severity)
    if metric == "missingValues":
        missing = args.get("missingValues", [None, ""])
        values = [v for v in missing if v is not None]
        cond = f"{c} IS NULL" if None in missing else "FALSE"
        if values:
            cond += f" OR CAST({c} AS VARCHAR) IN ({', '.join(lit(str(v)) for v in values)})"
        return RowRule(name, column, cond, f"{column} is missing", severity)
    valid, invalid = args.get("validValues"), args.get("invalidValues")
    if valid is None and invalid is None and "pattern" not in args:
        raise ContractError(
            f"invalidValues rule on {column} needs arguments.validValues, invalidValues or pattern"
        )
    conds = invalid_conditions(c, args)
    return RowRule(
        name,
        column,
        f"{c} IS NOT NULL AND ({' OR '.join(conds)})",
        f"{column} has an invalid value",
        severity,
    )


def invalid_conditions(column_sql: str, args: dict[str, Any] | Any) -> list[str]:
    """SQL conditions that make a value invalid under an invalidValues rule's arguments."""
    conds = []
    if args.get("validValues") is not None:
        conds.append(f"{column_sql} NOT IN ({', '.join(lit(v) for v in args['validValues'])})")
    if args.get("invalidValues") is not None:
        conds.append(f"{column_sql} IN ({', '.join(lit(v) for v in args['invalidValues'])})")
    if "pattern" in args:
        conds.append(f"NOT {full_match(f'CAST({column_sql} AS VARCHAR)', args['pattern'])}")
    return conds


def row_pass_sql(rules: tuple[RowRule, ...], table: str) -> str:
    """One scan that lists, per row, the names of the rules it breaks (empty: good row)."""
    if not rules:
        return f"SELECT *, '' AS __violations FROM {table}"
    cases = ", ".join(
        f"CASE WHEN coalesce({r.violation}, FALSE) THEN {lit(r.name + ': ' + r.reason)} END"
        for r in rules
    )
    return f"SELECT *, concat_ws('; ', {cases}) AS __violations FROM {table}"


def metric_expression(rule: BatchRule) -> str | None:
    """The aggregate that measures a batch rule (None: measured by its own query)."""
    c = q(rule.column) if rule.column else None
    args = rule.arguments
    if rule.metric == "rowCount":
        return "count(*)"
    if c is None and rule.metric == "duplicateValues":
        cols = args.get("properties") or []
        if not cols:
            raise ContractError(
                f"{rule.name}: duplicateValues on a table needs "
                "arguments.properties (the key columns)"
            )
        key = ", ".join(q(k) for k in cols)
        return f"count(*) - count(DISTINCT ({key}))"
    if c is None:
        return None
    if rule.metric == "nullValues":
        return f"count(*) FILTER (WHERE {c} IS NULL)"
    if rule.metric == "missingValues":
        values = [v for v in args.get("missingValues", [None, ""]) if v is not None]
        extra = (
            f" OR CAST({c} AS VARCHAR) IN ({', '.join(lit(str(v)) for v in values)})"
            if values
            else ""
        )
        return f"count(*) FILTER (WHERE {c} IS NULL{extra})"
    if rule.metric == "invalidValues":
        conds = invalid_conditions(c, args)
        return f"count(*) FILTER (WHERE {c} IS NOT NULL AND ({' OR '.join(conds) or 'FALSE'}))"
    if rule.metric == "duplicateValues":
        return f"count({c}) - count(DISTINCT {c})"
    if rule.metric in ("freshness", "latency"):
        return f"epoch(now()) - epoch(max({c}))"  # absolute now; naive data is UTC
    raise ContractError(f"unknown metric {rule.metric!r} in rule {rule.name}")
