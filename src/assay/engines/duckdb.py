"""The embedded default engine: DuckDB over Arrow datasets of Delta tables.

DuckDB cannot download its Delta extension here, so tables are read through
`DeltaTable.to_pyarrow_dataset()`; DuckDB pushes filters and projections into it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import duckdb
import pyarrow as pa

from assay.engines.base import Engine, Source
from assay.errors import AssayError


class DuckDBEngine(Engine):
    """Runs DuckDB SQL; `layer.name` in queries resolves to schema-qualified views."""

    name = "duckdb"
    supports_python_relations = True

    def __init__(self, warehouse: Any, threads: int | None = None):
        super().__init__(warehouse)
        self._threads = threads
        self._local = threading.local()

    def connect(self, sources: Mapping[str, Source]) -> duckdb.DuckDBPyConnection:
        """A fresh in-memory connection with every source visible under its name."""
        con = duckdb.connect(config={"threads": self._threads} if self._threads else {})
        for index, (alias, source) in enumerate(sources.items()):
            hidden = f"__assay_src_{index}"
            con.register(hidden, self.resolve(source))
            schema, _, table = alias.rpartition(".")
            if schema:
                con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                con.execute(f'CREATE VIEW "{schema}"."{table}" AS SELECT * FROM {hidden}')
            else:
                con.execute(f'CREATE VIEW "{table}" AS SELECT * FROM {hidden}')
        return con

    def query(self, sql: str, sources: Mapping[str, Source]) -> pa.Table:
        con = self.connect(sources)
        try:
            return con.sql(sql).to_arrow_table() if _returns_rows(sql) else _execute(con, sql)
        except duckdb.Error as exc:
            raise AssayError(f"SQL failed: {exc}") from exc
        finally:
            con.close()

    def call_python(
        self, func: Callable[..., Any], sources: Mapping[str, Source], as_relations: bool, ctx: Any
    ) -> Any:
        con = self.connect(sources)
        try:
            if as_relations:
                args = [con.table(name) for name in sources]
            else:
                args = [con.table(name).to_arrow_table() for name in sources]
            ctx.duckdb = con
            result = func(ctx, *args)
            # A relation dies with its connection: collect it before closing.
            if isinstance(result, duckdb.DuckDBPyRelation):
                return result.to_arrow_table()
            return result
        finally:
            ctx.duckdb = None
            con.close()


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
