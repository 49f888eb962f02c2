"""Spark as an assay engine: DuckDB-dialect SQL translated by sqlglot, Delta tables read by
Spark's Delta Lake connector at pinned versions. Transforms give cached DataFrames (Frames)
that contracts split on Spark and Spark's Delta writer commits (engines/spark/writer.py);
small results (checks, metrics, training sets) are collected as Arrow.

Tables are named `layer.name` in assay's SQL; Spark would read that as database.table, so
each query's sources become temporary views under private names and the query's table
references are rewritten to them (CTE names are left alone).
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import sqlglot
from sqlglot import exp

from assay.engines.base import Engine, Frame, GovernedRef, Source, TableRef
from assay.engines.result_types import cast_columns, overflow_error, spark_casts
from assay.engines.spark.check import check_remainders, check_spark_sql
from assay.engines.spark.frame import SparkFrame
from assay.engines.spark.session import require_spark, spark_session
from assay.engines.spark.writer import SparkTableWriter
from assay.errors import AssayError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: Bytes of input per shuffle partition when assay sizes them (Spark's advisory size).
_BYTES_PER_PARTITION = 64 * 2**20
_MAX_PARTITIONS = 4000


class SparkEngine(Engine):
    """Runs assay's SQL and Python transforms on Spark (local or a cluster).

    Example (in assay.yaml):

        engine: spark
        spark:
          spark.master: spark://head:7077
          spark.executor.memory: 8g
    """

    name = "spark"
    dialect = "spark"
    asof_join = False
    writes_tables = True
    #: A year of days per query: each Spark job and Delta commit costs seconds whatever
    #: its size, which dominated small datasets at 30 (benchmarks/RESULTS.md).
    default_batch_intervals = 366

    def __init__(self, warehouse: Any, settings: Mapping[str, Any] | None = None):
        # Without pyspark or Java, stop here, once, before a project runs anything.
        require_spark()
        super().__init__(warehouse, settings)
        self._names = itertools.count()
        self._sized_by_user = "spark.sql.shuffle.partitions" in self.settings
        self._typer: Any = None  # a DuckDB engine that types queries (see _typed)

    @property
    def spark(self) -> SparkSession:
        """The Spark session (started on first use: `assay status` never starts one)."""
        return spark_session(self.settings)

    # -- sources ----------------------------------------------------------------------

    def frame(self, source: Source | DataFrame) -> DataFrame:
        """A Spark DataFrame over a source: Delta tables at their pinned version, Arrow
        data shipped to Spark."""
        from pyspark.sql import DataFrame

        if isinstance(source, DataFrame):
            return source
        if isinstance(source, SparkFrame):
            return source.df
        if isinstance(source, GovernedRef):
            # Filter on the stored values, then show the role's select list.
            stored = self.frame(source.table)
            where = source.where.get("spark")
            return (stored.filter(where) if where else stored).selectExpr(*source.select["spark"])
        if isinstance(source, TableRef):
            reader = self.spark.read.format("delta")
            if source.version is not None:
                reader = reader.option("versionAsOf", source.version)
            return reader.load(self.warehouse.uri(source.name))
        table = self.resolve(source)
        if not isinstance(table, pa.Table):
            table = (
                table.read_all() if isinstance(table, pa.RecordBatchReader) else table.to_table()
            )
        return self.spark.createDataFrame(_spark_compatible(table))

    @contextmanager
    def views(self, sources: Mapping[str, Source]) -> Iterator[dict[str, str]]:
        """Each source as a temporary view for one piece of work: alias -> view name."""
        names: dict[str, str] = {}
        try:
            for alias, source in sources.items():
                view = f"__assay_src_{next(self._names)}"
                self.frame(source).createOrReplaceTempView(view)
                names[alias] = view
            yield names
        finally:
            for view in names.values():
                self.spark.catalog.dropTempView(view)

    # -- running ----------------------------------------------------------------------

    def sql_for(self, duckdb_sql: str, where: str | None = None) -> str:
        """The Spark SQL for `duckdb_sql`, checked by Spark's own parser and its function
        registry before anything runs: what Spark cannot parse or has no function for is a
        DefinitionError naming the file, the construct and the SQL as Spark saw it."""
        spark_sql = super().sql_for(duckdb_sql, where)
        check_spark_sql(self.spark, spark_sql, where)
        return spark_sql

    def query(self, sql: str, sources: Mapping[str, Source]) -> pa.Table:
        spark_sql = self.sql_for(sql)
        with self.views(sources) as views:
            self._size_shuffle(sources)
            return self.to_arrow(self._result(sql, spark_sql, views, sources), spark_sql)

    def relation(self, sql: str, sources: Mapping[str, Source]) -> SparkFrame:
        spark_sql = self.sql_for(sql)
        with self.views(sources) as views:
            self._size_shuffle(sources)
            # The plan is resolved now, so the views may go; the rows are computed when the
            # commit writes them (cached first when it reads them twice, see Frame.reuse).
            return SparkFrame(self, self._result(sql, spark_sql, views, sources))

    def _result(
        self, sql: str, spark_sql: str, views: Mapping[str, str], sources: Mapping[str, Source]
    ) -> DataFrame:
        """The analysed DataFrame of `spark_sql`, checked for what only types show, with
        the types DuckDB gives `sql` (integer sums BIGINT) where the cast keeps every
        value: one set of result types on both engines (see result_types)."""
        from pyspark.sql.pandas.types import to_arrow_schema

        df = self._sql(spark_sql, views)
        if "%" in sql and _has_remainder(sql):  # (LIKE patterns have `%` too)
            check_remainders(df, spark_sql)
        want = self._duckdb_schema(sql, sources)
        if want is None:
            return df
        try:
            got = to_arrow_schema(df.schema, timestamp_utc=True)
        except Exception:  # a type Arrow lacks (intervals, variants): nothing to cast to
            return df
        return cast_columns(df, spark_casts(got, want))

    def _duckdb_schema(self, sql: str, sources: Mapping[str, Source]) -> pa.Schema | None:
        """DuckDB's result schema of `sql` over empty inputs of the sources' schemas
        (None when DuckDB cannot bind it: Spark's own types stay)."""
        from assay.engines.duckdb import DuckDBEngine

        if self._typer is None:
            self._typer = DuckDBEngine(self.warehouse, threads=1)
        try:
            schemas = {alias: self._source_schema(s) for alias, s in sources.items()}
            return self._typer.result_schema(sql, schemas)
        except Exception:  # typing is best effort: the query itself reports what is wrong
            return None

    def _source_schema(self, source: Source) -> pa.Schema:
        if isinstance(source, GovernedRef):
            return source.schema
        if isinstance(source, TableRef):
            table = self.warehouse.table(source.name, source.version)
            return pa.schema(table.schema().to_arrow())
        schema: pa.Schema = source.schema
        return schema

    def split(self, flagged: Frame, column: str) -> tuple[Frame, pa.Table]:
        from pyspark.sql import functions as F

        flagged.reuse()  # read twice: the rejected rows now, the good ones by the write
        df = self.frame(flagged)
        broken = F.col(column) != F.lit("")
        rejected = self.to_arrow(df.filter(broken))
        good = SparkFrame(self, df.filter(~broken).drop(column), parent=flagged)
        return good, rejected

    def writer(self) -> SparkTableWriter:
        return SparkTableWriter(self, self.warehouse)

    def _sql(self, spark_sql: str, views: Mapping[str, str]) -> DataFrame:
        rewritten = rename_tables(spark_sql, views)
        return self.guard(lambda: self.spark.sql(rewritten), spark_sql)

    def to_arrow(self, df: DataFrame, spark_sql: str | None = None) -> pa.Table:
        """Collect a DataFrame as Arrow (timestamps with a zone come back in UTC).

        Columns come back nullable, as DuckDB returns them: Spark marks counts NOT NULL,
        which would otherwise become a constraint of the Delta table written from them.
        """
        table: pa.Table = self.guard(df.toArrow, spark_sql)
        if any(not f.nullable for f in table.schema):
            nullable = pa.schema([f.with_nullable(True) for f in table.schema])
            table = table.cast(nullable)
        return table

    def call_python(
        self, func: Callable[..., Any], sources: Mapping[str, Source], as_relations: bool, ctx: Any
    ) -> Any:
        from pyspark.sql import DataFrame

        with self.views(sources) as views:
            self._size_shuffle(sources)
            if as_relations:
                args: list[Any] = [self.spark.table(views[name]) for name in sources]
            else:
                args = [_as_table(self.resolve(source)) for source in sources.values()]
            ctx.spark = self.spark
            ctx.sql_runner = lambda query: self._sql(self.sql_for(query), views)
            try:
                result = func(ctx, *args)
                return SparkFrame(self, result) if isinstance(result, DataFrame) else result
            finally:
                ctx.spark = ctx.sql_runner = None

    # -- helpers ----------------------------------------------------------------------

    def _size_shuffle(self, sources: Mapping[str, Source]) -> None:
        """Shuffle partitions sized to the input (unless assay.yaml sets them): Spark's
        fixed default is far too many for small tables and too few for large ones."""
        if self._sized_by_user:
            return
        size = sum(self._input_bytes(s) for s in sources.values())
        parallel = self.spark.sparkContext.defaultParallelism
        wanted = min(_MAX_PARTITIONS, max(parallel, math.ceil(size / _BYTES_PER_PARTITION)))
        self.spark.conf.set("spark.sql.shuffle.partitions", str(wanted))

    def _input_bytes(self, source: Any) -> int:
        if isinstance(source, Frame):
            return 0  # already in the engine
        if isinstance(source, GovernedRef):
            source = source.table
        if isinstance(source, TableRef):
            sizes = self.warehouse.file_actions(source.name, source.version)["size_bytes"]
            return int(sum(sizes.to_pylist()))
        return int(getattr(source, "nbytes", 0))

    def guard(self, work: Callable[[], Any], spark_sql: str | None = None) -> Any:
        """Run Spark work; its errors become AssayErrors with their first line (and the
        SQL as Spark ran it), not a JVM stack trace."""
        from py4j.protocol import Py4JJavaError
        from pyspark.errors import PySparkException

        try:
            return work()
        except (PySparkException, Py4JJavaError) as exc:
            message = _first_line(exc)
            shown = f"\n  as Spark SQL: {spark_sql}" if spark_sql else ""
            overflow = overflow_error(message)
            if overflow is not None:
                raise AssayError(overflow.message + shown, hint=overflow.hint) from exc
            raise AssayError(f"Spark failed: {message}{shown}") from exc


def rename_tables(spark_sql: str, views: Mapping[str, str]) -> str:
    """Point `layer.name` references at their temporary views (CTE names stay).

    Example:
        >>> rename_tables("WITH a AS (SELECT 1 AS x) SELECT * FROM bronze.t, a", {"bronze.t": "v1"})
        'WITH a AS (SELECT 1 AS x) SELECT * FROM v1 AS t CROSS JOIN a'
    """
    if not views:
        return spark_sql
    statements = sqlglot.parse(spark_sql, read="spark")
    out = []
    for statement in statements:
        if statement is None:
            continue
        ctes = {cte.alias_or_name for cte in statement.find_all(exp.CTE)}
        for table in statement.find_all(exp.Table):
            key = f"{table.db}.{table.name}" if table.db else table.name
            if key in views and not (not table.db and key in ctes):
                alias = table.args.get("alias")
                replacement = exp.to_table(views[key])
                replacement.set(
                    "alias", alias or exp.TableAlias(this=exp.to_identifier(table.name))
                )
                table.replace(replacement)
        out.append(statement.sql(dialect="spark"))
    return ";\n".join(out)


def _has_remainder(duckdb_sql: str) -> bool:
    """Whether the SQL takes a `%` (parsed: a `%` inside text is no operator)."""
    try:
        return any(s is not None and s.find(exp.Mod) for s in sqlglot.parse(duckdb_sql, "duckdb"))
    except sqlglot.errors.ParseError:
        return True


def _spark_compatible(table: pa.Table) -> pa.Table:
    """Arrow types Spark's Arrow reader lacks, as ones it has (same values)."""
    fields = []
    for f in table.schema:
        kind = f.type
        if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
            kind = pa.string()
        elif pa.types.is_timestamp(kind) and kind.unit != "us":
            kind = pa.timestamp("us", kind.tz)
        elif pa.types.is_unsigned_integer(kind):
            kind = pa.int64() if kind.bit_width < 64 else pa.decimal128(20, 0)
        fields.append(pa.field(f.name, kind))
    schema = pa.schema(fields)
    return table if schema == table.schema else table.cast(schema)


def _as_table(source: Any) -> pa.Table:
    if isinstance(source, pa.Table):
        return source
    return source.read_all() if isinstance(source, pa.RecordBatchReader) else source.to_table()


def _first_line(exc: BaseException) -> str:
    """The first line of the error's root cause: a failed JVM call reads "An error
    occurred while calling o2156.save"; what went wrong is in its innermost cause."""
    java = getattr(exc, "java_exception", None)
    if java is not None:
        with contextlib.suppress(Exception):
            while java.getCause() is not None:
                java = java.getCause()
            text = str(java.toString())
            return next((ln.strip() for ln in text.splitlines() if ln.strip()), text)[:500]
    text = str(exc).strip()
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("JVM stacktrace", "at ")):
            return line[:500]
    return type(exc).__name__
