"""Tables assay did not build, registered in the catalog (`assay catalog register`): their
location, columns, row count and files, as harvested (see `assay.catalog.harvest`).

Example:
    >>> from assay.catalog import Catalog
    >>> cat = Catalog("sqlite://")
    >>> table = RegisteredTable("external.airlines", "parquet", "/data/airlines",
    ...     [RegisteredColumn("carrier", "string")], row_count=16)
    >>> _ = save_registered(cat, table)
    >>> [t.name for t in list_registered(cat)], get_registered(cat, "external.airlines").row_count
    (['external.airlines'], 16)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from assay.catalog.store import create_tables
from assay.intervals import utcnow

if TYPE_CHECKING:
    from assay.catalog.store import Catalog

_metadata = sa.MetaData()

registered = sa.Table(
    "assay_registered",
    _metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("source", sa.String(20), nullable=False),  # delta | parquet | database
    sa.Column("location", sa.Text, nullable=False),
    sa.Column("columns", sa.Text, nullable=False),  # JSON list of RegisteredColumn
    sa.Column("row_count", sa.BigInteger),
    sa.Column("files", sa.Integer),
    sa.Column("bytes", sa.BigInteger),
    sa.Column("delta_version", sa.Integer),
    sa.Column("comment", sa.Text),
    sa.Column("registered_at", sa.DateTime, nullable=False),
    sa.Column("refreshed_at", sa.DateTime, nullable=False),
)


@dataclass(frozen=True)
class RegisteredColumn:
    """A column of a registered table, as its source describes it."""

    name: str
    type: str
    nullable: bool = True
    primary_key: bool = False
    comment: str | None = None


@dataclass(frozen=True)
class RegisteredTable:
    """A table registered in the catalog: where it is and what it holds.

    Attributes:
        source: `delta`, `parquet` or `database`.
        location: the folder or file, or the database URL (password hidden) and table.
        files, bytes: data files and their size (folders and Delta tables).
        delta_version: the Delta version harvested (Delta tables).
    """

    name: str
    source: str
    location: str
    columns: list[RegisteredColumn]
    row_count: int | None = None
    files: int | None = None
    bytes: int | None = None
    delta_version: int | None = None
    comment: str | None = None
    registered_at: datetime | None = None
    refreshed_at: datetime | None = None


def _ensure_table(catalog: Catalog) -> None:
    create_tables(catalog.engine, registered)


def save_registered(catalog: Catalog, table: RegisteredTable) -> RegisteredTable:
    """Insert `table`, or refresh it when its name is registered already (the first
    registration time is kept). Returns the table as stored."""
    _ensure_table(catalog)
    now = utcnow()
    first = get_registered(catalog, table.name)
    stored = replace(table, registered_at=first.registered_at if first else now, refreshed_at=now)
    values = {
        "name": stored.name,
        "source": stored.source,
        "location": stored.location,
        "columns": json.dumps([asdict(c) for c in stored.columns]),
        "row_count": stored.row_count,
        "files": stored.files,
        "bytes": stored.bytes,
        "delta_version": stored.delta_version,
        "comment": stored.comment,
        "registered_at": stored.registered_at,
        "refreshed_at": stored.refreshed_at,
    }
    with catalog.engine.begin() as con:
        con.execute(registered.delete().where(registered.c.name == stored.name))
        con.execute(registered.insert().values(**values))
    return stored


def get_registered(catalog: Catalog, name: str) -> RegisteredTable | None:
    """The registered table `name`, or None."""
    _ensure_table(catalog)
    query = sa.select(registered).where(registered.c.name == name)
    with catalog.engine.connect() as con:
        row = con.execute(query).mappings().first()
    return _from_row(row) if row else None


def list_registered(catalog: Catalog) -> list[RegisteredTable]:
    """Every registered table, by name."""
    _ensure_table(catalog)
    with catalog.engine.connect() as con:
        rows = con.execute(sa.select(registered).order_by(registered.c.name)).mappings()
        return [_from_row(row) for row in rows]


def _from_row(row: Any) -> RegisteredTable:
    return RegisteredTable(
        name=row["name"],
        source=row["source"],
        location=row["location"],
        columns=[RegisteredColumn(**c) for c in json.loads(row["columns"])],
        row_count=row["row_count"],
        files=row["files"],
        bytes=row["bytes"],
        delta_version=row["delta_version"],
        comment=row["comment"],
        registered_at=row["registered_at"],
        refreshed_at=row["refreshed_at"],
    )
