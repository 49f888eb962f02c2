"""`assay.files`: ingest CSV, JSON-lines and Parquet files from a glob into a bronze table.

Each file is ingested once (tracked by path, size and modification time in the commit
metadata); a changed file replaces exactly its own rows. Every row records its source file,
line and ingest time. Lines that are not JSON objects, CSV rows with the wrong number of
fields, unreadable files and values that do not cast go to quarantine with the raw record.
"""

from __future__ import annotations

import csv
import glob
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
from sqlglot import exp

from assay import sqlbuild
from assay.engines import Engine
from assay.engines.types import arrow_to_sql, json_types_to_sql
from assay.errors import AssayError, DefinitionError
from assay.naming import unusable_column
from assay.pipelines.conform import RAW, conform, plan_columns
from assay.pipelines.csvfiles import NULL_TOKENS, read_csv_rows
from assay.pipelines.producers import (
    LINE,
    SOURCE_FILE,
    SYSTEM_COLUMNS,
    Output,
    Pending,
    Producer,
    RunContext,
    function_fingerprint,
)
from assay.pipelines.protect import IngestProtection
from assay.pipelines.spec import DatasetSpec, SchemaPolicy
from assay.tables.commitmeta import CommitMeta, DatasetState, FileStamp

Format = Literal["csv", "jsonl", "parquet"]
#: New files are committed in chunks of about this many bytes, so memory stays bounded
#: and a crash loses at most one chunk of work.
CHUNK_BYTES = 64 * 1024 * 1024
#: Flags lines whose bytes were not UTF-8 (present only when a file has such lines).
NOT_UTF8 = "__not_utf8"


@dataclass
class RawBatch:
    """Records read from files: user columns plus _source_file, _line and _raw."""

    table: pa.Table
    observed: dict[str, str]
    rejects: list[dict[str, Any]] = field(default_factory=list)
    rows_in: int = 0
    #: A SELECT over `batch` (this table) giving the observed columns and system columns.
    source_sql: str = "SELECT * FROM batch"
    #: Every observed value is text (JSON, CSV): each is cast-checked.
    text_values: bool = False


@dataclass(frozen=True)
class FileSource(Producer):
    """Reads files matching `path` (relative to the project) in `format`."""

    path: str
    format: Format
    columns: Mapping[str, str] = field(default_factory=dict)
    csv_delimiter: str = ","
    #: CSV fields read as null (None: pyarrow's list, "" NA NULL N/A nan ...).
    null_values: tuple[str, ...] | None = None
    schema_policy: SchemaPolicy = SchemaPolicy.EVOLVE
    #: Columns computed at ingest: name -> SQL expression over the file's columns.
    derive: Mapping[str, str] = field(default_factory=dict)
    is_source = True
    tracks_files = True

    def __post_init__(self) -> None:
        if self.format not in ("csv", "jsonl", "parquet"):
            raise DefinitionError(
                f"unknown file format {self.format!r}", hint="use csv, jsonl or parquet"
            )
        for name, expression in self.derive.items():
            check_expression(name, expression)

    def code_fingerprint(self) -> str:
        # derive= joins the fingerprint only when used: existing tables keep theirs.
        extra: tuple[Any, ...] = (dict(self.derive),) if self.derive else ()
        if self.null_values is not None:
            extra += (("null_values", self.null_values),)
        return function_fingerprint(None, self.path, self.format, dict(self.columns), *extra)

    def list_files(self, root: str) -> list[FileStamp]:
        pattern = self.path if os.path.isabs(self.path) else os.path.join(root, self.path)
        found = []
        for full in sorted(glob.glob(pattern, recursive=True)):
            if os.path.isfile(full):
                st = os.stat(full)
                found.append(FileStamp(os.path.relpath(full, root), st.st_size, st.st_mtime_ns))
        return found

    def pending_files(
        self, root: str, ingested: Mapping[str, tuple[int, int]], full_refresh: bool
    ) -> list[FileStamp]:
        """Files that are new or changed since they were ingested."""
        return [
            f
            for f in self.list_files(root)
            if full_refresh or ingested.get(f.path) != (f.size, f.mtime_ns)
        ]

    def pending(
        self, state: DatasetState, spec: DatasetSpec, root: str, full_refresh: bool
    ) -> Pending:
        """The files new or changed since `state.ingested`; every file, into a replaced
        table, when the table was written under another declaration (columns' types,
        derived columns, time column...)."""
        if state.fingerprint is not None and state.fingerprint != spec.fingerprint:
            why = (
                "declaration changed (columns, derive, time column): "
                f"re-ingesting {len(self.list_files(root))} file(s)"
            )
            return Pending(True, (why,), replace_table=True)
        files = self.pending_files(root, state.ingested, full_refresh)
        return Pending(bool(files), (f"{len(files)} new or changed file(s)",) if files else ())

    def produce(self, ctx: RunContext) -> Iterator[Output]:
        ingested = ctx.state.ingested
        pending = self.pending_files(ctx.project_root, ingested, ctx.full_refresh)
        shield = IngestProtection.for_run(ctx) if pending else None
        for chunk in _chunks(pending):
            batch = self._read_chunk(ctx, [f.path for f in chunk])
            table_types = _table_types(ctx)
            if table_types is not None:  # derived columns are not expected in the files
                derived = set(self.derive) - set(batch.observed)
                table_types = {c: t for c, t in table_types.items() if c not in derived}
            declared = dict(self.columns)
            if shield is not None:
                if batch.observed:  # a chunk of unreadable files has no columns to check
                    shield.check_columns(
                        {*batch.observed, *declared, *self.derive, *(table_types or {})}
                    )
                table_types, declared = shield.planning_types(table_types, batch.observed, declared)
            plan = plan_columns(
                ctx.dataset.name,
                batch.observed,
                table_types,
                declared,
                self.schema_policy,
                batch.table.num_rows > 0,
                ctx.dataset.allow_widening,
            )
            good, bad = conform(
                ctx.engine,
                batch.table,
                batch.observed,
                plan,
                ctx.ingested_at,
                batch.source_sql,
                batch.text_values,
                ctx.dataset.time_column,
            )
            good = self._derived(ctx, good)
            if shield is not None:  # before anything keeps a row: rejects hold masks too
                good = shield.apply(good)
            good, timeless = _without_time(good, ctx.dataset.time_column)
            rejects = batch.rejects + [
                {
                    "batch_key": r[SOURCE_FILE],
                    "source_file": r[SOURCE_FILE],
                    "line": r[LINE],
                    "raw_record": r[RAW],
                    "rule": "cast",
                    "reason": r["__reason"],
                }
                for r in bad.to_pylist()
            ]
            if shield is not None:  # the timeless rows were masked with the batch
                rejects = shield.rejects(rejects)
            rejects += timeless
            yield Output(
                data=good,
                quarantine=_rejects_table(rejects, ctx),
                rows_in=batch.rows_in,
                metadata=CommitMeta(
                    files=tuple(chunk), extra=shield.commit_extra() if shield else {}
                ),
                batch_keys=tuple(f.path for f in chunk),
                append_only=not any(f.path in ingested for f in chunk),
                widen=plan.widened,
            )

    def _derived(self, ctx: RunContext, good: pa.Table) -> pa.Table:
        """`good` with the derived columns computed (replacing file columns of that name)."""
        if not self.derive or not good.num_columns:
            return good
        replaced = [n for n in self.derive if n in good.column_names]
        added = [n for n in self.derive if n not in good.column_names]
        select = exp.select(
            exp.Star(**({"replace": _aliases(self.derive, replaced)} if replaced else {}))
        )
        if added:
            select = select.select(*_aliases(self.derive, added))
        sql = select.from_("good").sql(dialect="duckdb")
        try:
            return ctx.engine.query(sql, {"good": good})
        except AssayError as exc:
            raise AssayError(
                f"a derived column failed: {exc.message}",
                where=f"{ctx.dataset.name} derive={dict(self.derive)!r}",
                hint="fix the expression, or make it return NULL for values it cannot "
                "handle (e.g. TRY_CAST, CASE WHEN ...)",
            ) from exc

    def _read_chunk(self, ctx: RunContext, rel_paths: list[str]) -> RawBatch:
        if self.format != "jsonl":
            return _concat([self._read_typed(ctx, rel) for rel in rel_paths])
        # JSON lines of all files are parsed together: a few queries per chunk, not per file.
        tables, unreadable = [], []
        for rel in rel_paths:
            try:
                tables.append(_lines_table(os.path.join(ctx.project_root, rel), rel))
            except OSError as exc:
                unreadable.append(_unreadable(rel, exc))
        lines = pa.concat_tables(tables, promote_options="permissive") if tables else _empty_raw()
        batch = parse_jsonl(ctx.engine, lines)
        batch.rejects += unreadable
        batch.rows_in += len(unreadable)
        return batch

    def _read_typed(self, ctx: RunContext, rel_path: str) -> RawBatch:
        full = os.path.join(ctx.project_root, rel_path)
        try:
            if self.format == "csv":
                batch = read_csv(ctx.engine, full, rel_path, self.csv_delimiter, self.null_values)
            else:
                batch = read_parquet(ctx.engine, full, rel_path)
        except (OSError, pa.ArrowException, UnicodeDecodeError, csv.Error) as exc:
            return RawBatch(_empty_raw(), {}, [_unreadable(rel_path, exc)], rows_in=1)
        return batch


def _without_time(good: pa.Table, column: str | None) -> tuple[pa.Table, list[dict[str, Any]]]:
    """Split off rows without a value in the declared time column: they belong to no
    interval, so downstream incremental datasets would drop them silently."""
    if not column or column not in good.column_names or not good[column].null_count:
        return good, []
    from assay.contracts.enforce import rows_as_json

    missing = pc.is_null(good[column])
    timeless = good.filter(missing)
    user_columns = [c for c in timeless.column_names if c not in SYSTEM_COLUMNS]
    rejects = [
        {
            "batch_key": row[SOURCE_FILE],
            "source_file": row[SOURCE_FILE],
            "line": row[LINE],
            "raw_record": raw,
            "rule": "time_column",
            "reason": f"{column} is empty: the row belongs to no interval",
        }
        for row, raw in zip(
            timeless.select([SOURCE_FILE, LINE]).to_pylist(),
            rows_as_json(timeless.select(user_columns)),
            strict=True,
        )
    ]
    return good.filter(pc.invert(missing)), rejects


def check_expression(name: str, expression: str) -> exp.Expr:
    """Parse a derived column's SQL expression (DuckDB dialect), naming it when it fails."""
    try:
        parsed = sqlglot.parse_one(expression, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise DefinitionError(
            f"derive[{name!r}] is not a SQL expression: {expression!r} ({exc})",
            hint="write one SQL expression over the file's columns, e.g. make_date(year, 1, 1)",
        ) from None
    if not isinstance(parsed, exp.Expr) or isinstance(parsed, exp.Query):
        raise DefinitionError(
            f"derive[{name!r}] must be an expression, not a query: {expression!r}",
            hint="write one SQL expression over the file's columns, e.g. make_date(year, 1, 1)",
        )
    return parsed


def _aliases(derive: Mapping[str, str], names: list[str]) -> list[exp.Expr]:
    return [exp.alias_(check_expression(n, derive[n]), sqlbuild.identifier(n)) for n in names]


def _unreadable(rel_path: str, exc: Exception) -> dict[str, Any]:
    """A quarantine row for a file that cannot be read at all (one row per file)."""
    return {
        "batch_key": rel_path,
        "source_file": rel_path,
        "line": None,
        "raw_record": None,
        "rule": "unreadable_file",
        "reason": f"cannot read {rel_path}: {exc}",
    }


def _chunks(files: list[FileStamp]) -> Iterator[list[FileStamp]]:
    chunk: list[FileStamp] = []
    size = 0
    for f in files:
        if chunk and size + f.size > CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
        chunk.append(f)
        size += f.size
    if chunk:
        yield chunk


def _table_types(ctx: RunContext) -> dict[str, str] | None:
    name = ctx.dataset.name
    if ctx.replace_table or not ctx.warehouse.exists(name):
        return None
    schema = ctx.warehouse.schema(name)
    return {f.name: arrow_to_sql(f.type) for f in schema if f.name not in SYSTEM_COLUMNS}


def _rejects_table(rejects: list[dict[str, Any]], ctx: RunContext) -> pa.Table | None:
    from assay.pipelines.quarantine import rows_to_table

    return (
        rows_to_table(rejects, ctx.run_id, ctx.dataset.name, ctx.ingested_at) if rejects else None
    )


def _empty_raw() -> pa.Table:
    return pa.table(
        {
            SOURCE_FILE: pa.array([], pa.string()),
            LINE: pa.array([], pa.int64()),
            RAW: pa.array([], pa.string()),
        }
    )


def _concat(batches: list[RawBatch]) -> RawBatch:
    observed: dict[str, str] = {}
    for b in batches:
        for col, typ in b.observed.items():
            # Two files disagreeing on a type: keep the text form, cast per value later.
            observed[col] = typ if observed.get(col, typ) == typ else "VARCHAR"
    # Files with only a header still have their columns: keep them when no file has rows.
    tables = [b.table for b in batches if b.table.num_rows] or [b.table for b in batches]
    table = pa.concat_tables(tables, promote_options="permissive") if tables else _empty_raw()
    return RawBatch(
        table, observed, [r for b in batches for r in b.rejects], sum(b.rows_in for b in batches)
    )


def _lines_table(full_path: str, rel_path: str) -> pa.Table:
    """Every line of a file with its 1-based number and the file's path (blank lines too:
    the parser skips them).

    Vectorized: newline offsets found with numpy become an Arrow array over the file's
    own bytes (no Python object per line).
    """
    with open(full_path, "rb") as fh:
        data = fh.read()
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    if data.endswith(b"\n"):
        ends = ends[:-1]
    offsets = np.concatenate(([0], ends + 1, [len(data)])).astype(np.int64)
    raw = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(offsets) - 1, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    columns = {
        SOURCE_FILE: pa.repeat(pa.scalar(rel_path, pa.string()), len(raw)),
        LINE: pa.array(np.arange(1, len(raw) + 1, dtype=np.int64)),
    }
    try:
        return pa.table({**columns, RAW: raw.cast(pa.large_string())})
    except pa.ArrowInvalid:
        # Some line is not UTF-8: keep it (bad bytes replaced) and flag it for quarantine.
        decoded, broken = [], []
        for line in raw.to_pylist():
            try:
                decoded.append(line.decode("utf-8"))
                broken.append(False)
            except UnicodeDecodeError:
                decoded.append(line.decode("utf-8", errors="replace"))
                broken.append(True)
        return pa.table(
            {**columns, RAW: pa.array(decoded, pa.large_string()), NOT_UTF8: pa.array(broken)}
        )


def parse_jsonl(engine: Engine, lines: pa.Table) -> RawBatch:
    """Parse JSON lines: objects become rows of text values; blank lines are skipped; any
    other line becomes a reject.

    Only computed columns come back from the engine; the raw text is re-attached from the
    input's buffers (DuckDB keeps row order for projections), so it is never copied.
    """
    # A valid JSON text that starts with "{" is an object: no second parse needed.
    not_utf8 = f"{NOT_UTF8} OR " if NOT_UTF8 in lines.column_names else ""
    kind = engine.query(
        f"""SELECT CASE WHEN {not_utf8}false THEN 3
                        WHEN json_valid({RAW}) THEN
                            CASE WHEN json_type({RAW}) = 'OBJECT' THEN 1 ELSE 2 END
                        WHEN trim({RAW}, ' \t\r\n') = '' THEN 0
                        ELSE 2 END::TINYINT AS kind FROM lines""",
        {"lines": lines},
    )["kind"]
    ok, bad = pc.equal(kind, 1), pc.greater_equal(kind, 2)
    n_ok, n_bad = pc.sum(ok).as_py() or 0, pc.sum(bad).as_py() or 0
    bad_kinds = kind.filter(bad).to_pylist() if n_bad else []
    rejects = [
        {
            "batch_key": r[SOURCE_FILE],
            "source_file": r[SOURCE_FILE],
            "line": r[LINE],
            "raw_record": r[RAW].rstrip("\r\n"),
            "rule": "malformed_record",
            "reason": "line is not valid UTF-8" if why == 3 else "line is not a JSON object",
        }
        for r, why in zip(lines.filter(bad).to_pylist() if n_bad else [], bad_kinds, strict=True)
    ]
    valid = lines if n_ok == lines.num_rows else lines.filter(ok)
    if NOT_UTF8 in valid.column_names:
        valid = valid.drop_columns([NOT_UTF8])
    observed, unusable = _json_types(engine, valid)
    if unusable:
        valid, named_badly = _split_unusable_keys(engine, valid)
        rejects += named_badly
    if not observed:
        return RawBatch(valid, observed, rejects, rows_in=n_ok + n_bad)
    # The fields are extracted inside conform's query: one pass, no text columns in Arrow.
    # offset=1: the index is DuckDB's own (lists count from 1), not sqlglot's 0-based one.
    values = [
        exp.Bracket(this=exp.column("__v"), expressions=[sqlbuild.literal(i + 1)], offset=1)
        for i in range(len(observed))
    ]
    fields = sqlbuild.render_list(
        [exp.alias_(v, sqlbuild.identifier(c)) for v, c in zip(values, observed, strict=True)],
        "duckdb",
    )
    source_sql = (
        f"SELECT {fields}, {SOURCE_FILE}, {LINE}, {RAW} FROM (SELECT *, "
        f"json_extract_string({RAW}, [{_json_paths(list(observed))}]) AS __v FROM batch)"
    )
    return RawBatch(
        valid, observed, rejects, rows_in=n_ok + n_bad, source_sql=source_sql, text_values=True
    )


def _split_unusable_keys(engine: Engine, valid: pa.Table) -> tuple[pa.Table, list[dict[str, Any]]]:
    """Quarantine the objects with a key no column can be named (empty, or with a NUL)."""
    usable = engine.query(
        f"SELECT len(list_filter(json_keys({RAW}), lambda k: k = '' OR contains(k, chr(0))))"
        " = 0 AS ok FROM valid",
        {"valid": valid},
    )["ok"]
    rejects = [
        {
            "batch_key": r[SOURCE_FILE],
            "source_file": r[SOURCE_FILE],
            "line": r[LINE],
            "raw_record": r[RAW].rstrip("\r\n"),
            "rule": "malformed_record",
            "reason": "a key is empty or holds a NUL byte: no column can be named so",
        }
        for r in valid.filter(pc.invert(usable)).to_pylist()
    ]
    return valid.filter(usable), rejects


#: Rows sampled to find each JSON field's usual type (values are still checked one by one).
TYPE_SAMPLE_ROWS = 10_000


def _json_types(engine: Engine, valid: pa.Table) -> tuple[dict[str, str], list[str]]:
    """Every key seen in the objects (in order of first appearance) and its usual SQL type.

    Keys come from every row (a field present in one row still becomes a column); the
    type histogram comes from a sample, since each value is cast and checked later anyway.
    Keys no column can be named (empty, with a NUL byte) are returned apart.
    """
    if not valid.num_rows:
        return {}, []
    shapes = engine.query(
        f"SELECT json_keys({RAW}) AS ks, min({LINE}) AS first FROM valid GROUP BY ks "
        "ORDER BY first",
        {"valid": valid},
    )["ks"].to_pylist()
    found = list(dict.fromkeys(k for shape in shapes for k in shape))
    keys = [k for k in found if not unusable_column(k)]
    unusable = [k for k in found if unusable_column(k)]
    if not keys:
        return {}, unusable
    sample = valid.select([RAW])
    if sample.num_rows > TYPE_SAMPLE_ROWS:
        step = sample.num_rows // TYPE_SAMPLE_ROWS
        sample = sample.take(pa.array(np.arange(0, sample.num_rows, step, dtype=np.int64)))
    histograms = ", ".join(f"histogram(t[{i + 1}]) AS h{i}" for i in range(len(keys)))
    counts = engine.query(
        f"SELECT {histograms} FROM (SELECT json_type({RAW}, [{_json_paths(keys)}]) AS t "
        "FROM sample)",
        {"sample": sample},
    ).to_pylist()[0]
    types = {key: json_types_to_sql(_as_dict(counts[f"h{i}"])) for i, key in enumerate(keys)}
    return types, unusable


def _json_paths(keys: list[str]) -> str:
    """The elements of a DuckDB list of JSON paths, one per key (quoted, so any key works).

    Example:
        >>> print(_json_paths(["a", "it's \\"x\\""]))
        '$."a"', '$."it''s \\"x\\""'
    """
    paths = [sqlbuild.string('$."' + k.replace('"', '\\"') + '"') for k in keys]
    return sqlbuild.render_list(paths, "duckdb")


def _as_dict(histogram: Any) -> dict[str, int]:
    if isinstance(histogram, dict):
        return {k: v for k, v in histogram.items() if k is not None}
    return {k: v for k, v in (histogram or []) if k is not None}


def read_csv(
    engine: Engine,
    full_path: str,
    rel_path: str,
    delimiter: str,
    null_values: tuple[str, ...] | None = None,
) -> RawBatch:
    """Read a CSV file with a header; every field stays text until conform casts it.

    Broken rows are quarantined one by one (csvfiles.py); the file's good rows are kept.
    """
    nulls = NULL_TOKENS if null_values is None else frozenset(null_values)
    rows = read_csv_rows(full_path, rel_path, delimiter, nulls)
    return _typed_batch(
        engine, rows.table, rel_path, {c: "VARCHAR" for c in rows.header}, rows.rejects, rows.lines
    )


def read_parquet(engine: Engine, full_path: str, rel_path: str) -> RawBatch:
    """Read a Parquet file; its own types are the observed types."""
    import pyarrow.parquet as pq

    table = pq.read_table(full_path)
    observed = {f.name: arrow_to_sql(f.type) for f in table.schema}
    return _typed_batch(engine, table, rel_path, observed, [])


def _typed_batch(
    engine: Engine,
    table: pa.Table,
    rel_path: str,
    observed: dict[str, str],
    rejects: list[dict[str, Any]],
    lines: pa.Array | None = None,
) -> RawBatch:
    bad = next((why for c in observed if (why := unusable_column(c))), None)
    if bad:  # a header no table can hold: the file is quarantined whole, saying why
        raise OSError(f"the header has {bad}")
    n = table.num_rows
    table = table.append_column(SOURCE_FILE, pa.array([rel_path] * n, pa.string()))
    table = table.append_column(
        LINE, lines if lines is not None else pa.array(range(1, n + 1), pa.int64())
    )
    cols = sqlbuild.render_list(sqlbuild.columns(observed), "duckdb")
    raw_expr = f"to_json(struct_pack({cols}))::VARCHAR" if observed else "'{}'"
    with_raw = engine.query(f"SELECT *, {raw_expr} AS {RAW} FROM t", {"t": table})
    return RawBatch(with_raw, observed, rejects, rows_in=n + len(rejects))
