"""The catalog's entries of a project: its datasets and its registered tables, as search
documents and as list rows; and registering a table under a name no dataset has.

Example:
    >>> import assay, tempfile
    >>> root = tempfile.mkdtemp()
    >>> _ = assay.init_project(root)
    >>> rt = assay.Project(root).runtime
    >>> [hit.name for hit in search_catalog(rt, "daily totals")]
    ['gold.daily_totals']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from assay.catalog.harvest import harvest_database, harvest_path
from assay.catalog.registered import RegisteredTable, list_registered, save_registered
from assay.catalog.search import SearchDocument, SearchHit, refresh_index, search
from assay.errors import UsageError

if TYPE_CHECKING:
    from assay.runtime import Runtime


@dataclass(frozen=True)
class Entry:
    """One row of `assay catalog list`."""

    name: str
    kind: str  # dataset | registered
    subkind: str  # full, incremental, ... | delta, parquet, database
    owner: str | None
    description: str | None
    rows: int | None


def documents(rt: Runtime) -> list[SearchDocument]:
    """What search indexes: each dataset's declaration and its table's columns (from the
    Delta log; a table not built yet offers its contracts' columns), and each registered
    table."""
    found = []
    for name, spec in rt.dag.items().items():
        found.append(
            SearchDocument(
                name,
                "dataset",
                spec.description,
                _dataset_columns(rt, name),
                dict(spec.tags),
                spec.owner,
            )
        )
    for table in list_registered(rt.catalog):
        columns = [c.name for c in table.columns]
        found.append(SearchDocument(table.name, "registered", table.comment, columns))
    return found


def _dataset_columns(rt: Runtime, name: str) -> list[str]:
    if rt.warehouse.exists(name):
        return rt.warehouse.schema(name).names
    return [c.name for contract in rt.contracts.get(name, []) for c in contract.columns]


def refresh_search(rt: Runtime) -> None:
    """Rebuild the search index from the project as it is now."""
    refresh_index(rt.catalog, documents(rt))


def search_catalog(rt: Runtime, text: str, limit: int = 20) -> list[SearchHit]:
    """Refresh the index, then search it (see `assay.catalog.search`)."""
    refresh_search(rt)
    return search(rt.catalog, text, limit)


def entries(rt: Runtime) -> list[Entry]:
    """Every dataset (in dependency order), then every registered table."""
    rows = [
        Entry(
            name,
            "dataset",
            spec.kind.value,
            spec.owner,
            spec.description,
            rt.row_count(name) if rt.warehouse.exists(name) else None,
        )
        for name, spec in rt.dag.items().items()
    ]
    rows += [
        Entry(t.name, "registered", t.source, None, t.comment, t.row_count)
        for t in list_registered(rt.catalog)
    ]
    return rows


def register_path(rt: Runtime, path: str | Path, name: str | None = None) -> RegisteredTable:
    """Register (or refresh) the Delta or Parquet table at `path`; a relative path is
    taken from the current folder."""
    table = harvest_path(path, name)
    _check_free(rt, table.name)
    stored = save_registered(rt.catalog, table)
    refresh_search(rt)
    return stored


def register_database(
    rt: Runtime,
    url: str,
    schema: str | None = None,
    tables: Sequence[str] = (),
    name: str | None = None,
    count_rows: bool = True,
) -> list[RegisteredTable]:
    """Register (or refresh) tables of the database at SQLAlchemy `url`."""
    harvested = harvest_database(url, schema, tables, name, count_rows)
    for table in harvested:
        _check_free(rt, table.name)
    stored = [save_registered(rt.catalog, table) for table in harvested]
    refresh_search(rt)
    return stored


def _check_free(rt: Runtime, name: str) -> None:
    """A registered table may not take a dataset's name: describe would show the dataset."""
    if name in rt.dag.specs:
        raise UsageError(
            "a dataset of the project has this name",
            where=name,
            hint="register it under another name with --name external.<name>",
        )
