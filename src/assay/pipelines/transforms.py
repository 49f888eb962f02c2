"""SQL transforms (`.sql` files with `{{ ref('layer.name') }}`) and Python transforms."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from assay.engines import Frame
from assay.errors import AssayError, DefinitionError
from assay.pipelines.producers import Output, Producer, RunContext, function_fingerprint, to_arrow

_TEMPLATE = re.compile(r"\{\{\s*(\w+)\s*(?:\(\s*'([^']*)'\s*\))?\s*\}\}")


def template_refs(sql: str) -> list[str]:
    """The datasets a SQL body refers to with `{{ ref('...') }}`, in order of appearance.

    Example:
        >>> template_refs("SELECT * FROM {{ ref('bronze.t') }} JOIN {{ref('silver.u')}}")
        ['bronze.t', 'silver.u']
    """
    return [arg for name, arg in _TEMPLATE.findall(sql) if name == "ref"]


def render_sql(sql: str, ctx_values: Mapping[str, Any], where: str) -> str:
    """Fill `{{ ref('x') }}`, `{{ start }}`, `{{ end }}` and `{{ var('k') }}` placeholders.

    Example:
        >>> render_sql("SELECT * FROM {{ ref('a.b') }} WHERE t >= {{ start }}",
        ...            {"start": "2026-01-01 00:00:00", "vars": {}}, "x")
        "SELECT * FROM a.b WHERE t >= TIMESTAMP '2026-01-01 00:00:00'"
    """

    def fill(match: re.Match[str]) -> str:
        name, arg = match.group(1), match.group(2)
        if name == "ref" and arg:
            return arg
        if name in ("start", "end") and arg is None:
            value = ctx_values.get(name)
            if value is None:
                raise DefinitionError(
                    f"{{{{ {name} }}}} is only defined for incremental datasets", where=where
                )
            return f"TIMESTAMP '{value}'"
        if name == "var" and arg:
            if arg not in ctx_values.get("vars", {}):
                raise DefinitionError(
                    f"unknown var {arg!r}",
                    where=where,
                    hint="define it under `vars:` in assay.yaml",
                )
            return str(ctx_values["vars"][arg])
        raise DefinitionError(
            f"unknown template expression {match.group(0)!r}",
            where=where,
            hint="use ref('layer.name'), start, end or var('name')",
        )

    return _TEMPLATE.sub(fill, sql)


def _interval_filter(sql: str, ctx: RunContext) -> str:
    """`sql` limited to the rows of the interval being built.

    The bounds are naive UTC timestamps: a DATE compares as its midnight, a TIMESTAMPTZ in
    UTC (both engines run their sessions in UTC).
    """
    column = exp.column(exp.to_identifier(ctx.dataset.time_column or "", quoted=True))
    low, high = (exp.cast(exp.Literal.string(str(m)), "TIMESTAMP") for m in (ctx.start, ctx.end))
    condition = exp.and_(column >= low, column < high).sql(dialect="duckdb")
    return f"SELECT * FROM ({sql}) AS __interval WHERE {condition}"


def _arrow_in_interval(table: pa.Table, column: str, start: Any, end: Any) -> pa.Table:
    """The rows of an Arrow table whose `column` lies in `[start, end)` (naive UTC), for
    DATE (as its midnight), TIMESTAMP and zoned TIMESTAMP columns."""
    values = table[column]
    if pa.types.is_date(values.type):
        values = pc.cast(values, pa.timestamp("us"))
    if not pa.types.is_timestamp(values.type):
        raise DefinitionError(
            f"time column {column!r} is {values.type}, not a DATE or TIMESTAMP",
            hint="return the time column as a date or timestamp",
        )
    low, high = (pa.scalar(m, pa.timestamp("us")).cast(values.type) for m in (start, end))
    return table.filter(pc.and_(pc.greater_equal(values, low), pc.less(values, high)))


@dataclass(frozen=True)
class SqlTransform(Producer):
    """A SELECT over upstream tables, written once in DuckDB's dialect."""

    sql: str

    def code_fingerprint(self) -> str:
        normalized = " ".join(self.sql.split())
        return hashlib.sha256(normalized.encode()).hexdigest()[:16]

    def produce(self, ctx: RunContext) -> Iterator[Output]:
        values = {"start": ctx.start, "end": ctx.end, "vars": ctx.vars}
        sql = render_sql(self.sql, values, ctx.dataset.where)
        spec = ctx.dataset
        if spec.time_column and ctx.start is not None:
            # Keep only rows of the interval being built: other rows belong to other intervals,
            # which compute them themselves. The engines push this filter into the scans.
            sql = _interval_filter(sql, ctx)
        try:
            ctx.engine.sql_for(sql, spec.where)  # an untranslatable construct fails here, named
            # Engines that write tables keep the result (a Frame) until they commit it.
            engine = ctx.engine
            table = (
                engine.relation(sql, ctx.inputs)
                if engine.writes_tables
                else engine.query(sql, ctx.inputs)
            )
        except DefinitionError:
            raise
        except AssayError as exc:
            raise AssayError(
                exc.message,
                where=spec.where,
                hint="check the SQL against the upstream tables' columns",
            ) from exc
        rows_in = None if isinstance(table, Frame) else table.num_rows
        yield Output(data=table, rows_in=rows_in)


@dataclass(frozen=True)
class PythonTransform(Producer):
    """A function `f(ctx, *inputs)` over upstream tables given as relations or Arrow.

    Relations are engine-native (DuckDB relations, Spark DataFrames), so a transform taking
    them says which engines it supports; one taking Arrow runs on any engine.
    """

    func: Callable[..., Any]
    as_relations: bool = True
    #: Engines the function supports (None: any; Arrow transforms).
    engines: tuple[str, ...] | None = None
    #: Declared column lineage, output column -> input columns (`layer.name.column`);
    #: documentation for `assay lineage`, not part of the code's fingerprint.
    lineage: Mapping[str, tuple[str, ...]] = field(default_factory=dict, compare=False, hash=False)

    def code_fingerprint(self) -> str:
        return function_fingerprint(self.func, self.as_relations)

    def produce(self, ctx: RunContext) -> Iterator[Output]:
        if self.engines is not None and ctx.engine.name not in self.engines:
            raise DefinitionError(
                f"this Python transform supports {', '.join(self.engines)}, "
                f"and the project runs on {ctx.engine.name}",
                where=ctx.dataset.where,
                hint=f"add '{ctx.engine.name}' to engines=[...] (and handle its relations, "
                "or use ctx.sql() for SQL that runs on both), or declare as_arrow=True",
            )
        try:
            result = ctx.engine.call_python(self.func, ctx.inputs, self.as_relations, ctx)
            table = result if isinstance(result, Frame) else to_arrow(result, ctx.dataset.where)
        except AssayError:
            raise
        except Exception as exc:  # user code: report where it failed
            raise AssayError(
                f"transform failed: {type(exc).__name__}: {exc}", where=ctx.dataset.where
            ) from exc
        column = ctx.dataset.time_column
        if isinstance(table, Frame):
            if column and ctx.start is not None:
                table = ctx.engine.relation(_interval_filter("SELECT * FROM t", ctx), {"t": table})
            yield Output(data=table, rows_in=None)
            return
        if column and ctx.start is not None and table.num_rows:
            try:
                table = _arrow_in_interval(table, column, ctx.start, ctx.end)
            except DefinitionError as exc:
                raise DefinitionError(exc.message, where=ctx.dataset.where, hint=exc.hint) from None
        yield Output(data=table, rows_in=table.num_rows)
