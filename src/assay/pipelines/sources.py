"""Python sources (`@assay.source`) and database tables (`assay.sql_table`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from assay.errors import AssayError, DefinitionError, TransientError
from assay.naming import check_columns
from assay.pipelines.producers import Output, Producer, RunContext, function_fingerprint, to_arrow
from assay.pipelines.protect import IngestProtection
from assay.tables.commitmeta import CommitMeta

#: Rows fetched per round trip from a database source.
FETCH_ROWS = 50_000


@dataclass(frozen=True)
class PythonSource(Producer):
    """A user function `f(ctx)` that returns or yields Arrow, pandas, polars or dicts."""

    func: Callable[..., Any]
    is_source = True

    def code_fingerprint(self) -> str:
        return function_fingerprint(self.func)

    def produce(self, ctx: RunContext) -> Iterator[Output]:
        shield = IngestProtection.for_run(ctx)  # a missing key ring fails before user code
        try:
            result = self.func(ctx)
            table = conform_typed_for(ctx, protected(shield, to_arrow(result, ctx.dataset.where)))
        except AssayError:
            raise
        except Exception as exc:  # user code: report where it failed
            raise AssayError(
                f"source function failed: {type(exc).__name__}: {exc}", where=ctx.dataset.where
            ) from exc
        yield Output(data=table, rows_in=table.num_rows, metadata=_protected_meta(shield))


@dataclass(frozen=True)
class SqlTableSource(Producer):
    """A table in any SQLAlchemy database, read incrementally on a cursor column.

    With `cursor`, each run reads rows whose cursor is at or after the last value seen
    (change-data-capture on an `updated_at` column); with `keys` they are merged.
    """

    url: str
    table: str
    cursor: str | None = None
    columns: Sequence[str] = ()
    db_schema: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    is_source = True

    def code_fingerprint(self) -> str:
        return function_fingerprint(
            None, self.table, self.cursor, tuple(self.columns), self.db_schema
        )

    def produce(self, ctx: RunContext) -> Iterator[Output]:
        import sqlalchemy as sa

        shield = IngestProtection.for_run(ctx)
        if shield is not None and self.cursor in (*shield.mask, *shield.drop):
            raise DefinitionError(
                f"the cursor column {self.cursor!r} cannot be masked or dropped: its last "
                "value is kept in the commit metadata to read on from",
                where=ctx.dataset.where,
                hint="use another column as the cursor (e.g. updated_at)",
            )
        last = None if ctx.replace_table else ctx.state.cursor
        engine = sa.create_engine(self.url, **dict(self.options))
        try:
            table = sa.Table(self.table, sa.MetaData(), schema=self.db_schema, autoload_with=engine)
            cols = [table.c[c] for c in self.columns] if self.columns else list(table.c)
            query = sa.select(*cols)
            if self.cursor:
                cursor_col = table.c[self.cursor]
                if last is not None:
                    since = _from_json(last, cursor_col)
                    # >= with a keyed merge: rows sharing the last cursor value are not missed.
                    op = cursor_col >= since if ctx.dataset.keys else cursor_col > since
                    query = query.where(op)
                query = query.order_by(cursor_col)
            check_columns([c.name for c in cols], ctx.dataset.where)
            data = self._fetch(engine, query, [c.name for c in cols])
        except sa.exc.OperationalError as exc:
            raise TransientError(
                f"database unreachable: {exc.orig}", where=ctx.dataset.where
            ) from exc
        except sa.exc.ArgumentError as exc:  # reflection refuses e.g. an empty column name
            raise AssayError(
                f"the source table {self.table} has a column no table can hold: {exc}",
                where=ctx.dataset.where,
                hint="rename the column in the database, or list the usable ones in columns=[...]",
            ) from exc
        except (sa.exc.NoSuchTableError, KeyError) as exc:
            raise AssayError(
                f"no table or column {exc} in the source database", where=ctx.dataset.where
            ) from exc
        finally:
            engine.dispose()
        data = conform_typed_for(ctx, protected(shield, data))
        cursor = last
        if self.cursor and data.num_rows:
            cursor = _json_value(max(v for v in data[self.cursor].to_pylist() if v is not None))
        meta = replace(_protected_meta(shield), cursor=cursor)
        yield Output(data=data, rows_in=data.num_rows, metadata=meta)

    def _fetch(self, engine: Any, query: Any, names: list[str]) -> pa.Table:
        parts = []
        with engine.connect() as con:
            result = con.execution_options(stream_results=True).execute(query)
            while rows := result.fetchmany(FETCH_ROWS):
                parts.append(pa.Table.from_pylist([dict(zip(names, r, strict=True)) for r in rows]))
        return pa.concat_tables(parts, promote_options="permissive") if parts else pa.table({})


def protected(shield: IngestProtection | None, table: pa.Table) -> pa.Table:
    """`table` with the source's masks and drops applied (as it is when none, or when the
    source returned nothing at all)."""
    if shield is None or not table.num_columns:
        return table
    shield.check_columns(table.column_names)
    return shield.apply(table)


def _protected_meta(shield: IngestProtection | None) -> CommitMeta:
    return CommitMeta(extra=shield.commit_extra()) if shield is not None else CommitMeta()


def conform_typed_for(ctx: RunContext, table: pa.Table) -> pa.Table:
    """Check a typed batch against the dataset's table under its schema policy."""
    from assay.pipelines.conform import conform_typed

    name = ctx.dataset.name
    existing = (
        None
        if ctx.replace_table or not ctx.warehouse.exists(name)
        else (ctx.warehouse.schema(name))
    )
    return conform_typed(name, table, existing, ctx.dataset.schema_policy)


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime | date) else value


def _from_json(value: Any, column: Any) -> Any:
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return value
    if python_type is datetime and isinstance(value, str):
        return datetime.fromisoformat(value)
    if python_type is date and isinstance(value, str):
        return date.fromisoformat(value)
    return value
