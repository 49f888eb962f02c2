"""Read what an existing table holds, without copying it: a Delta folder (its log), a
Parquet file or folder (its footers) or database tables (SQLAlchemy's inspector).

Example:
    >>> import tempfile, pyarrow as pa, pyarrow.parquet as pq
    >>> folder = tempfile.mkdtemp()
    >>> pq.write_table(pa.table({"carrier": ["9E", "AA"]}), f"{folder}/part-0.parquet")
    >>> table = harvest_path(folder, "external.carriers")
    >>> table.source, table.row_count, [c.name for c in table.columns]
    ('parquet', 2, ['carrier'])
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from assay.catalog.registered import RegisteredColumn, RegisteredTable
from assay.errors import UsageError
from assay.naming import split_name

#: The layer registered tables go into unless `--name` says otherwise.
EXTERNAL = "external"


def registered_name(stem: str, name: str | None = None) -> str:
    """The catalog name of a registered table: `name`, or `external.<stem>` with the stem
    made an identifier.

    Example:
        >>> registered_name("airlines-2013.parquet")
        'external.airlines_2013'
    """
    if name is None:
        base = re.sub(r"\W+", "_", stem.removesuffix(".parquet")).strip("_").lower() or "table"
        name = f"{EXTERNAL}.{'t_' + base if base[0].isdigit() else base}"
    try:
        split_name(name)
    except Exception:
        raise UsageError(
            f"{name!r} is not a catalog name",
            hint="give --name as layer.name, e.g. external.airlines",
        ) from None
    return name


def _columns(schema: pa.Schema) -> list[RegisteredColumn]:
    return [RegisteredColumn(f.name, str(f.type), f.nullable) for f in schema]


def harvest_path(path: str | Path, name: str | None = None) -> RegisteredTable:
    """A Delta folder, a Parquet folder or a Parquet file at `path`, described."""
    folder = Path(path).resolve()
    if not folder.exists():
        raise UsageError(
            f"{folder} does not exist",
            where=str(path),
            hint="give a Delta folder, a Parquet folder or a .parquet file",
        )
    if (folder / "_delta_log").is_dir():
        return _harvest_delta(folder, registered_name(folder.name, name))
    return _harvest_parquet(folder, registered_name(folder.name, name))


def _harvest_delta(folder: Path, name: str) -> RegisteredTable:
    from deltalake import DeltaTable

    table = DeltaTable(str(folder))
    actions = pa.RecordBatchReader.from_stream(table.get_add_actions(flatten=True)).read_all()
    records = actions["num_records"].to_pylist() if actions.num_rows else []
    meta = table.metadata()
    return RegisteredTable(
        name=name,
        source="delta",
        location=str(folder),
        columns=_columns(pa.schema(table.schema().to_arrow())),
        # A file without statistics leaves the count unknown rather than wrong.
        row_count=None if None in records else sum(records),
        files=actions.num_rows,
        bytes=sum(actions["size_bytes"].to_pylist()) if actions.num_rows else 0,
        delta_version=table.version(),
        comment=meta.description or None,
    )


def _parquet_files(folder: Path) -> list[Path]:
    if folder.is_file():
        return [folder]
    # Hidden and underscore files are a writer's bookkeeping (_SUCCESS, .crc), not data.
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith(("_", ".")) and p.suffix in (".parquet", ".pq")
    )


def _harvest_parquet(folder: Path, name: str) -> RegisteredTable:
    import pyarrow.dataset as pads

    files = _parquet_files(folder)
    if not files:
        raise UsageError(
            "no Parquet files (*.parquet) and no _delta_log here",
            where=str(folder),
            hint="give a Delta folder, a Parquet folder or a .parquet file",
        )
    try:
        # Hive folders (`month=1/part-0.parquet`) give their partition columns too.
        base = {"partition_base_dir": str(folder)} if folder.is_dir() else {}
        dataset = pads.dataset(
            [str(f) for f in files], format="parquet", partitioning="hive", **base
        )
        # Footers only: the row counts are in each file's metadata, no data is read.
        rows = sum(fragment.metadata.num_rows for fragment in dataset.get_fragments())
    except (pa.ArrowInvalid, OSError) as exc:
        raise UsageError(
            f"cannot read it as Parquet: {exc}",
            where=str(folder),
            hint="every data file must be Parquet with the same columns",
        ) from exc
    return RegisteredTable(
        name=name,
        source="parquet",
        location=str(folder),
        columns=_columns(dataset.schema),
        row_count=rows,
        files=len(files),
        bytes=sum(os.path.getsize(f) for f in files),
    )


def harvest_database(
    url: str,
    schema: str | None = None,
    tables: Sequence[str] = (),
    name: str | None = None,
    count_rows: bool = True,
) -> list[RegisteredTable]:
    """Tables and views reachable at SQLAlchemy `url` (all of `schema`'s, or `tables`),
    described through the inspector: columns, types, primary keys, comments, row counts."""
    shown = _shown_url(url)
    try:
        engine = sa.create_engine(url)
        inspector = sa.inspect(engine)
        # Views too: they are often what a team reads.
        available = [
            *inspector.get_table_names(schema=schema),
            *inspector.get_view_names(schema=schema),
        ]
    except ModuleNotFoundError as exc:
        raise UsageError(
            f"the database driver is missing: {exc.name}", where=shown, hint="pip install it"
        ) from exc
    except (sa.exc.SQLAlchemyError, ValueError) as exc:
        raise UsageError(
            f"cannot inspect the database: {str(exc).splitlines()[0]}",
            where=shown,
            hint="check the URL (dialect+driver://user@host/db) and that the database is up",
        ) from exc
    chosen = list(tables) or available
    _check_tables(chosen, available, shown, schema)
    if name is not None and len(chosen) != 1:
        raise UsageError("--name names one table", hint="pass one --table with --name")
    try:
        return [
            _harvest_db_table(engine, inspector, shown, schema, table, name, count_rows)
            for table in chosen
        ]
    finally:
        engine.dispose()


def _check_tables(chosen: list[str], available: list[str], shown: str, schema: str | None) -> None:
    import difflib

    where = f"{shown} (schema {schema})" if schema else shown
    if not available:
        raise UsageError("the database holds no tables", where=where, hint="check --schema")
    for table in chosen:
        if table not in available:
            close = difflib.get_close_matches(table, available, n=3)
            raise UsageError(
                f"no table {table!r}",
                where=where,
                hint=f"did you mean {', '.join(close)}?"
                if close
                else f"tables: {', '.join(sorted(available)[:20])}",
            )


def _harvest_db_table(
    engine: sa.Engine,
    inspector: Any,
    shown: str,
    schema: str | None,
    table: str,
    name: str | None,
    count_rows: bool,
) -> RegisteredTable:
    keys = set(inspector.get_pk_constraint(table, schema=schema).get("constrained_columns") or [])
    columns = [
        RegisteredColumn(
            c["name"],
            str(c["type"]),
            bool(c.get("nullable", True)),
            c["name"] in keys,
            c.get("comment"),
        )
        for c in inspector.get_columns(table, schema=schema)
    ]
    try:
        comment = inspector.get_table_comment(table, schema=schema).get("text")
    except NotImplementedError:  # SQLite keeps no table comments
        comment = None
    rows = None
    if count_rows:
        target = sa.table(table, schema=schema)
        with engine.connect() as con:
            rows = con.execute(sa.select(sa.func.count()).select_from(target)).scalar_one()
    qualified = f"{schema}.{table}" if schema else table
    return RegisteredTable(
        name=registered_name(table, name),
        source="database",
        location=f"{shown} {qualified}",
        columns=columns,
        row_count=rows,
        comment=comment,
    )


def _shown_url(url: str) -> str:
    """The URL with its password hidden: it is printed and stored."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        raise UsageError(
            f"{url!r} is not a SQLAlchemy URL",
            hint="e.g. sqlite:///path/to.db or postgresql+psycopg://user@host/db",
        ) from None
