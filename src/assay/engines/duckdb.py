"""The embedded default engine: DuckDB over Arrow datasets of Delta tables.

DuckDB cannot download its Delta extension here, so tables are read through
`DeltaTable.to_pyarrow_dataset()`; DuckDB pushes filters and projections into it.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from assay import sqlbuild
from assay.engines.base import Engine, GovernedRef, Source
from assay.engines.result_types import bigint_sums, overflow_error
from assay.errors import AssayError

if TYPE_CHECKING:
    import pyarrow.dataset as pads


class DuckDBEngine(Engine):
    """Runs DuckDB SQL; `layer.name` in queries resolves to schema-qualified views.

    Each thread keeps one connection (opening one costs ~20 ms, more than most queries);
    a query's sources are registered for that query only and dropped after it.
    """

    name = "duckdb"

    def __init__(
        self, warehouse: Any, settings: Mapping[str, Any] | None = None, threads: int | None = None
    ):
        super().__init__(warehouse, settings)
        self._threads = threads or self.settings.get("threads")
        self._local = threading.local()

    def _connection(self) -> tuple[duckdb.DuckDBPyConnection, bool]:
        """This thread's idle connection, or a fresh one when it is busy (nested use)."""
        con = getattr(self._local, "con", None)
        if con is None:
            con = self._local.con = self._connect()
        if getattr(self._local, "busy", False):
            return self._connect(), True
        return con, False

    def _connect(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(config={"threads": self._threads} if self._threads else {})
        # UTC sessions: text times without an offset mean UTC, wherever assay runs. Without
        # the ICU extension DuckDB's time zone is UTC already and cannot be set.
        with contextlib.suppress(duckdb.Error):
            con.execute("SET TimeZone = 'UTC'")
        return con

    @contextmanager
    def session(self, sources: Mapping[str, Source]) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection where every source is visible under its name, for one piece of work."""
        con, private = self._connection()
        registered: list[str] = []
        views: list[str] = []
        if not private:
            self._local.busy = True
        try:
            for alias, source in sources.items():
                governed = source if isinstance(source, GovernedRef) else None
                # A table whose files mix string and string_view is scanned as one part
                # per kind of file, so filters pushed into each scan compare like types.
                parts = _parts(self.resolve(governed.table if governed else source))
                # Names by position in this session: a connection runs one session at a
                # time (busy), so they never collide, and the same sources give the same
                # statements (cached: rendering them costs ~1 ms a query otherwise).
                first = len(registered)
                names = tuple(f"__assay_src_{first + i}" for i in range(len(parts)))
                for name, part in zip(names, parts, strict=True):
                    con.register(name, part)
                registered.extend(names)
                # A governed table: the stored rows under a private name, and the alias a
                # view of what the role may see of them.
                stored = f"__assay_stored_{first}" if governed else alias
                for statement in _view_statements(stored, names):
                    con.execute(statement)
                views.append(stored)
                if governed is not None:
                    for statement in _governed_view(alias, stored, governed):
                        con.execute(statement)
                    views.append(alias)
            yield con
        finally:
            if private:
                con.close()
            else:
                for view in reversed(views):  # governed views before what they read
                    con.execute(_drop_view(view))
                for hidden in registered:
                    con.unregister(hidden)
                self._local.busy = False

    def query(self, sql: str, sources: Mapping[str, Source]) -> pa.Table:
        with self.session(sources) as con:
            try:
                if not _returns_rows(sql):
                    return _execute(con, sql)
                # Integer sums as BIGINT, as on every engine (see result_types).
                return bigint_sums(con.sql(sql)).to_arrow_table()
            except duckdb.Error as exc:
                raise overflow_error(str(exc)) or AssayError(f"SQL failed: {exc}") from exc

    def result_schema(self, sql: str, schemas: Mapping[str, pa.Schema]) -> pa.Schema:
        """The Arrow schema `sql` gives over inputs of these schemas, without reading
        any rows (engines that type SQL otherwise cast their results to it).

        Example:
            >>> from assay.tables import Warehouse
            >>> engine = DuckDBEngine(Warehouse("/tmp/wh"))
            >>> engine.result_schema("SELECT sum(x) AS s, rank() OVER () AS r FROM t",
            ...     {"t": pa.schema([("x", pa.int32())])})
            s: int64
            r: int64
        """
        empty = {name: schema.empty_table() for name, schema in schemas.items()}
        with self.session(empty) as con:
            return bigint_sums(con.sql(sql)).limit(0).to_arrow_table().schema

    def call_python(
        self, func: Callable[..., Any], sources: Mapping[str, Source], as_relations: bool, ctx: Any
    ) -> Any:
        with self.session(sources) as con:
            if as_relations:
                args = [con.table(name) for name in sources]
            else:
                args = [con.table(name).to_arrow_table() for name in sources]
            ctx.duckdb, ctx.sql_runner = con, con.sql
            try:
                result = func(ctx, *args)
                # A relation dies with its views: collect it before they are dropped.
                if isinstance(result, duckdb.DuckDBPyRelation):
                    return bigint_sums(result).to_arrow_table()
                return result
            finally:
                ctx.duckdb = ctx.sql_runner = None


def _parts(data: pa.Table | pads.Dataset | pa.RecordBatchReader) -> list[Any]:
    """What to register for one source: a dataset split by the types its files hold."""
    # Importing pyarrow.dataset costs ~0.3 s (it imports pandas): a Dataset can only exist
    # once something else imported it, so `assay run` with nothing to read never pays it.
    datasets = sys.modules.get("pyarrow.dataset")
    if datasets is None or not isinstance(data, datasets.Dataset):
        return [data]
    from assay.engines.views import scannable_parts

    return scannable_parts(data)


def _returns_rows(sql: str) -> bool:
    head = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
    return head in {
        "SELECT",
        "WITH",
        "FROM",
        "VALUES",
        "TABLE",
        "DESCRIBE",
        "SHOW",
        "SUMMARIZE",
        "(",
        "PIVOT",
        "UNPIVOT",
    }


def _execute(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    con.execute(sql)
    return pa.table({})


def _view_table(alias: str) -> exp.Table:
    schema, _, name = alias.rpartition(".")
    return sqlbuild.table(name, schema or None)


@functools.lru_cache(maxsize=4096)
def _view_statements(alias: str, parts: tuple[str, ...]) -> tuple[str, ...]:
    """SQL that shows the registered Arrow `parts` as one view named `alias` (`layer.name`).

    Example:
        >>> for statement in _view_statements("s.t", ("_a", "_b")):
        ...     print(statement)
        CREATE SCHEMA IF NOT EXISTS "s"
        CREATE OR REPLACE VIEW "s"."t" AS SELECT * FROM "_a" UNION ALL BY NAME SELECT * FROM "_b"
    """
    selects = [exp.select("*").from_(sqlbuild.table(part)) for part in parts]
    union: exp.Query = selects[0]
    for select in selects[1:]:
        union = exp.Union(this=union, expression=select, distinct=False, by_name=True)
    view = _view_table(alias)
    create = exp.Create(this=view, kind="VIEW", replace=True, expression=union)
    statements = [sqlbuild.render(create, "duckdb", copy=False)]
    if view.args.get("db") is not None:
        schema = exp.Create(this=exp.Table(this=view.args["db"].copy()), kind="SCHEMA", exists=True)
        statements.insert(0, sqlbuild.render(schema, "duckdb", copy=False))
    return tuple(statements)


def _governed_view(alias: str, stored: str, governed: GovernedRef) -> tuple[str, ...]:
    """SQL making the view `alias` show the governed select over the stored rows' view."""
    view = _view_table(alias)
    relation = sqlbuild.render(_view_table(stored), "duckdb", copy=False)
    name = sqlbuild.render(view, "duckdb", copy=False)
    statements = [f"CREATE OR REPLACE VIEW {name} AS {governed.statement('duckdb', relation)}"]
    if view.args.get("db") is not None:
        schema = exp.Create(this=exp.Table(this=view.args["db"].copy()), kind="SCHEMA", exists=True)
        statements.insert(0, sqlbuild.render(schema, "duckdb", copy=False))
    return tuple(statements)


@functools.lru_cache(maxsize=4096)
def _drop_view(alias: str) -> str:
    return sqlbuild.render(
        exp.Drop(tables=[_view_table(alias)], kind="VIEW", exists=True), "duckdb"
    )
