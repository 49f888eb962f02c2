"""Value-list metrics (nullValues, missingValues, invalidValues) as row conditions.

A `null` in `validValues`, `invalidValues` or `missingValues` is a value like any other:
it makes nulls valid, invalid or missing. Nulls are otherwise not invalid (missing values
are `nullValues`/`missingValues`' business), and a null in a list never turns a rule off
(SQL's `x NOT IN ('a', NULL)` is never true; these conditions never write it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlglot import exp

from assay.contracts.model import RowRule
from assay.contracts.quality import severity_of
from assay.contracts.sql import any_of, col, is_true, lit, search, text

_NUMERIC = ("integer", "number")


def member(c: exp.Expr, column_kind: str | None, values: Sequence[Any]) -> exp.Expr:
    """True when `c` equals one of the non-null `values` (numbers compare as numbers on
    numeric columns, booleans on boolean ones, everything else as text).

    Example:
        >>> from assay.contracts.sql import sql
        >>> sql(member(col("x"), "text", ["", None, "n/a"]))
        'CAST("x" AS TEXT) IN (\\'\\', \\'n/a\\')'
    """
    typed, as_text = [], []
    for v in values:
        if v is None:
            continue
        if (column_kind in _NUMERIC and isinstance(v, int | float) and not isinstance(v, bool)) or (
            column_kind == "boolean" and isinstance(v, bool)
        ):
            typed.append(lit(v))
        else:
            as_text.append(lit(str(v).lower() if isinstance(v, bool) else str(v)))
    conds = []
    if typed:
        conds.append(c.copy().isin(*typed))
    if as_text:
        conds.append(text(c.copy()).isin(*as_text))
    return any_of(conds) if len(conds) != 1 else conds[0]


def missing_condition(
    c: exp.Expr, args: Mapping[str, Any], column_kind: str | None = None
) -> exp.Expr:
    """True for a missing value (default missingValues: null and the empty string)."""
    values = list(args.get("missingValues", [None, ""]))
    conds: list[exp.Expr] = []
    if None in values:
        conds.append(c.copy().is_(exp.null()))
    if any(v is not None for v in values):
        conds.append(is_true(member(c, column_kind, values)))
    return any_of(conds)


def invalid_condition(
    c: exp.Expr, args: Mapping[str, Any], column_kind: str | None = None
) -> exp.Expr:
    """True for an invalid value under validValues, invalidValues and pattern."""
    not_null = c.copy().is_(exp.not_(exp.null()))
    conds: list[exp.Expr] = []
    if args.get("validValues") is not None:
        valid = list(args["validValues"])
        listed = is_true(member(c, column_kind, valid))
        conds.append(exp.and_(not_null, exp.not_(listed)))
    if args.get("invalidValues") is not None:
        invalid = list(args["invalidValues"])
        conds.append(is_true(member(c, column_kind, invalid)))
        if None in invalid:
            conds.append(c.copy().is_(exp.null()))
    if args.get("pattern") is not None:
        conds.append(exp.and_(not_null.copy(), exp.not_(search(text(c.copy()), args["pattern"]))))
    return any_of(conds)


def row_quality(column: str, column_kind: str, item: Mapping[str, Any], status: str) -> RowRule:
    """A property's library rule with `mustBe: 0` rows, as a row rule."""
    c, metric = col(column), item.get("metric") or item.get("rule")
    args = item.get("arguments") or {}
    name = str(item["name"])
    severity = severity_of(item.get("severity"), status, name, "")
    if metric == "nullValues":
        return RowRule(name, column, c.is_(exp.null()), f"{column} is null", severity)
    if metric == "missingValues":
        cond = missing_condition(c, args, column_kind)
        return RowRule(name, column, cond, f"{column} is missing", severity)
    cond = invalid_condition(c, args, column_kind)
    return RowRule(name, column, cond, f"{column} has an invalid value", severity)
