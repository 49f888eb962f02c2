"""`assay describe` and `assay catalog search|register|list`: what the project has."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from assay.cli.common import ProjectOpt, handles_errors
from assay.cli.common import open_project as _project

catalog_app = typer.Typer(
    help="The catalog: search it, list it, register tables assay did not build.",
    no_args_is_help=True,
)


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="table or json.")]


def _print_json(value: object) -> None:
    sys.stdout.write(json.dumps(value, indent=1, default=str, ensure_ascii=False) + "\n")


@handles_errors
def describe(
    name: Annotated[str, typer.Argument(help="Dataset or registered table, as layer.name.")],
    format: FormatOpt = OutputFormat.table,
    project: ProjectOpt = Path("."),
) -> None:
    """Describe a dataset or registered table: schema with its history (which version added,
    retyped or dropped each column), owner, description, tags, contract and its last results,
    freshness, rows, intervals, quality trend, upstream and downstream.

    Example: `assay describe silver.flights --format json`
    """
    from assay.catalog_views.describe import describe as describe_name
    from assay.cli.catalog_render import describe_view
    from assay.cli.render import console

    about = describe_name(_project(project).runtime, name)
    if format is OutputFormat.json:
        _print_json(about.to_json())
    else:
        console.print(describe_view(about))


@catalog_app.command("search")
@handles_errors
def search(
    words: Annotated[list[str], typer.Argument(help="Words to find (all must match).")],
    limit: Annotated[int, typer.Option(min=1, help="Results to show.")] = 20,
    format: FormatOpt = OutputFormat.table,
    project: ProjectOpt = Path("."),
) -> None:
    """Full-text search over names, descriptions, columns, tags and owners of datasets and
    registered tables, best match first (SQLite FTS5 bm25, or PostgreSQL's ts_rank when the
    catalog is there). The index is refreshed from the project first.

    Example: `assay catalog search flight delay`
    """
    from dataclasses import asdict

    from assay.catalog_views.entries import search_catalog
    from assay.cli.catalog_render import hits_table
    from assay.cli.render import console

    text = " ".join(words)
    hits = search_catalog(_project(project).runtime, text, limit)
    if format is OutputFormat.json:
        _print_json([asdict(hit) for hit in hits])
    elif hits:
        console.print(hits_table(text, hits))
    else:
        console.print(f"nothing matches {text!r}; try fewer or other words")


@catalog_app.command("list")
@handles_errors
def list_entries(
    format: FormatOpt = OutputFormat.table,
    project: ProjectOpt = Path("."),
) -> None:
    """List the datasets of the project and the registered tables.

    Example: `assay catalog list --format json`
    """
    from dataclasses import asdict

    from assay.catalog_views.entries import entries
    from assay.cli.render import console, rows_table

    found = entries(_project(project).runtime)
    if format is OutputFormat.json:
        _print_json([asdict(e) for e in found])
        return
    rows = [
        (e.name, e.kind, e.subkind, e.owner, f"{e.rows:,}" if e.rows is not None else None)
        for e in found
    ]
    console.print(rows_table("catalog", ["name", "kind", "type", "owner", "rows"], rows))


@catalog_app.command("register")
@handles_errors
def register(
    path: Annotated[
        Path | None, typer.Argument(help="A Delta folder, a Parquet folder or a .parquet file.")
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="A SQLAlchemy URL: register the database's tables.")
    ] = None,
    schema: Annotated[str | None, typer.Option(help="Database schema (with --url).")] = None,
    table: Annotated[
        list[str] | None,
        typer.Option("--table", "-t", help="Table to register (with --url; repeatable)."),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(help="Catalog name, as layer.name.", show_default="external.<table>"),
    ] = None,
    count: Annotated[
        bool, typer.Option(help="Count database tables' rows (a full count per table).")
    ] = True,
    project: ProjectOpt = Path("."),
) -> None:
    """Register tables assay did not build, so the catalog lists, searches and describes
    them; registering again refreshes them.

    Example: `assay catalog register data/airlines --name external.airlines`, or
    `assay catalog register --url postgresql+psycopg://user@host/db --schema public -t flights`
    """
    from assay.catalog_views.entries import register_database, register_path
    from assay.cli.render import console, rows_table
    from assay.errors import UsageError

    if (path is None) == (url is None):
        raise UsageError(
            "give a PATH or --url (one of them)",
            hint="`assay catalog register data/flights` or `--url sqlite:///shop.db`",
        )
    if path is not None and (schema or table):
        raise UsageError("--schema and --table go with --url", hint="drop them, or pass --url")
    runtime = _project(project).runtime
    if path is not None:
        stored = [register_path(runtime, path, name)]
    else:
        stored = register_database(runtime, url or "", schema, table or (), name, count)
    rows = [
        (
            t.name,
            "refreshed" if t.registered_at != t.refreshed_at else "new",
            t.source,
            len(t.columns),
            t.row_count,
            t.files,
            t.location,
        )
        for t in stored
    ]
    headers = ["name", "status", "source", "columns", "rows", "files", "location"]
    console.print(rows_table("registered", headers, rows))
