"""Run what a contract measures: one aggregate pass over a batch or table (every metric
and the column profile), and the rules with their own query (`sql` rules, foreign keys).
A rule whose SQL fails is reported as failed to run; it never stops the other rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa
from sqlglot import exp

from assay import sqlbuild
from assay.contracts.model import BatchRule, ForeignKey
from assay.contracts.results import number
from assay.contracts.sql import SCALAR, all_of, col, count_where, kind, sql
from assay.contracts.sqlrules import BATCH, render
from assay.engines import Engine, Source, TableRef

#: A measurement: a number, nothing (NULL), or the error that kept it from being taken.
Measured = float | None | Exception


def measure(engine: Engine, exprs: Mapping[str, exp.Expr], source: Source) -> dict[str, Measured]:
    """Every aggregate in one query over `source`; should that fail, each on its own, so
    one broken rule does not take the others with it."""
    if not exprs:
        return {}
    try:
        return {k: number(v) for k, v in _select(engine, exprs, source).items()}
    except Exception:
        out: dict[str, Measured] = {}
        for key, expr in exprs.items():
            try:
                out[key] = number(_select(engine, {key: expr}, source)[key])
            except Exception as exc:
                out[key] = exc
        return out


def _select(engine: Engine, exprs: Mapping[str, exp.Expr], source: Source) -> dict[str, Any]:
    select = exp.select(*(exp.alias_(e, key, quoted=True) for key, e in exprs.items()))
    rows = engine.query(sql(select.from_(BATCH)), {BATCH: source}).to_pylist()
    return rows[0] if rows else dict.fromkeys(exprs)


def run_own_query(engine: Engine, rule: BatchRule, source: Source) -> float | None:
    """A `sql` rule's value, or a foreign key's count of orphan rows."""
    if rule.query is not None:
        text, refs = render(rule.query, rule.column)
        sources: dict[str, Source] = {BATCH: source}
        sources.update({alias: TableRef(dataset) for alias, dataset in refs.items()})
    elif rule.foreign_key is not None:
        text = foreign_key_sql(rule.foreign_key)
        sources = {BATCH: source, "assay_ref": TableRef(rule.foreign_key.target)}
    else:
        raise ValueError(f"{rule.name} is measured by the aggregate pass")
    result = engine.query(text, sources)
    if not result.num_rows or not result.num_columns:
        return None
    return number(result.column(0)[0].as_py())


def foreign_key_sql(key: ForeignKey) -> str:
    """Rows of the batch whose (fully non-null) key has no match in the target.

    Example:
        >>> sql_text = foreign_key_sql(ForeignKey(("a",), "silver.t", ("id",)))
        >>> sql_text.startswith("SELECT COUNT(*) FROM batch AS b WHERE")
        True
        >>> 'NOT EXISTS(SELECT 1 FROM assay_ref AS t WHERE ("t"."id" = "b"."a"))' in sql_text
        True
    """
    mine = sqlbuild.columns(key.columns, table="b")
    theirs = sqlbuild.columns(key.target_columns, table="t")
    match = all_of(exp.EQ(this=t, expression=b) for t, b in zip(theirs, mine, strict=True))
    target = exp.alias_(exp.to_table("assay_ref"), "t", table=True)
    exists = exp.Exists(this=exp.select(exp.Literal.number(1)).from_(target).where(match))
    present = [b.copy().is_(exp.not_(exp.null())) for b in mine]
    where = all_of([*present, exp.not_(exists)])
    batch = exp.alias_(exp.to_table(BATCH), "b", table=True)
    return sql(exp.select(exp.Count(this=exp.Star())).from_(batch).where(where))


def profile_expressions(schema: pa.Schema) -> dict[str, exp.Expr]:
    """Per column: nulls, approximate distinct count, and min/max/mean where they apply."""
    exprs: dict[str, exp.Expr] = {}
    for f in schema:
        if f.name.startswith("_"):
            continue
        c, column_kind = col(f.name), kind(f.type)
        exprs[f"{f.name}.nulls"] = count_where(c.is_(exp.null()))
        if column_kind in SCALAR:
            exprs[f"{f.name}.distinct"] = exp.ApproxDistinct(this=c.copy())
        if column_kind in ("integer", "number"):
            exprs[f"{f.name}.min"] = exp.Min(this=c.copy())
            exprs[f"{f.name}.max"] = exp.Max(this=c.copy())
            exprs[f"{f.name}.mean"] = exp.Avg(this=c.copy())
        elif column_kind in ("date", "timestamp", "timestamptz"):
            exprs[f"{f.name}.max_epoch"] = exp.TimeToUnix(this=exp.Max(this=c.copy()))
    return exprs
