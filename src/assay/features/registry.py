"""The feature registry in the catalog: one row per version of each view's definition."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from assay.catalog import Catalog
from assay.catalog.store import create_tables, metadata
from assay.features.spec import FeatureView
from assay.intervals import utcnow

feature_views = sa.Table(
    "assay_feature_views",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("fingerprint", sa.String(40), nullable=False),
    sa.Column("definition", sa.Text, nullable=False),
    sa.Column("registered_at", sa.DateTime, nullable=False),
    extend_existing=True,
)


@dataclass(frozen=True)
class Registered:
    name: str
    version: int
    definition: dict[str, Any]
    registered_at: datetime


def register(catalog: Catalog, views: Iterable[FeatureView]) -> dict[str, Registered]:
    """Record a new version of every view whose definition changed; return the latest."""
    create_tables(catalog.engine, feature_views)
    latest = _latest(catalog)
    with catalog.engine.begin() as con:
        for view in views:
            current = latest.get(view.name)
            if current and current[1] == view.fingerprint:
                continue
            version = current[0] + 1 if current else 1
            con.execute(
                feature_views.insert().values(
                    name=view.name,
                    version=version,
                    fingerprint=view.fingerprint,
                    definition=json.dumps(view.definition()),
                    registered_at=utcnow(),
                )
            )
    return {r.name: r for r in history(catalog) if r.version == _latest(catalog)[r.name][0]}


def history(catalog: Catalog, name: str | None = None) -> list[Registered]:
    """Every registered version (of one view), oldest first."""
    create_tables(catalog.engine, feature_views)
    query = sa.select(feature_views).order_by(feature_views.c.name, feature_views.c.version)
    if name:
        query = query.where(feature_views.c.name == name)
    with catalog.engine.connect() as con:
        return [
            Registered(r["name"], r["version"], json.loads(r["definition"]), r["registered_at"])
            for r in con.execute(query).mappings()
        ]


def _latest(catalog: Catalog) -> dict[str, tuple[int, str]]:
    query = sa.select(feature_views.c.name, feature_views.c.version, feature_views.c.fingerprint)
    out: dict[str, tuple[int, str]] = {}
    with catalog.engine.connect() as con:
        for row in con.execute(query):
            name, version = str(row.name), int(row.version)
            if name not in out or version > out[name][0]:
                out[name] = (version, str(row.fingerprint))
    return out


materializations = sa.Table(
    "assay_materializations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("view", sa.String(200), nullable=False, index=True),
    sa.Column("fingerprint", sa.String(40), nullable=False),
    sa.Column("source_version", sa.Integer, nullable=False),
    sa.Column("end_ts", sa.DateTime, nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("materialized_at", sa.DateTime, nullable=False),
    extend_existing=True,
)


def last_materialization(catalog: Catalog, view: FeatureView) -> tuple[int, datetime] | None:
    """The source version and end time of the view's last materialization (same definition)."""
    create_tables(catalog.engine, materializations)
    query = (
        sa.select(materializations.c.source_version, materializations.c.end_ts)
        .where(
            materializations.c.view == view.name, materializations.c.fingerprint == view.fingerprint
        )
        .order_by(materializations.c.id.desc())
        .limit(1)
    )
    with catalog.engine.connect() as con:
        row = con.execute(query).first()
    return (row[0], row[1]) if row else None


def materialized_rows(catalog: Catalog, view: FeatureView) -> int:
    """Rows written to the online store by every materialization of the view's definition."""
    create_tables(catalog.engine, materializations)
    query = sa.select(sa.func.coalesce(sa.func.sum(materializations.c.rows), 0)).where(
        materializations.c.view == view.name, materializations.c.fingerprint == view.fingerprint
    )
    with catalog.engine.connect() as con:
        return int(con.execute(query).scalar_one())


def record_materialization(
    catalog: Catalog, view: FeatureView, version: int, end: datetime, rows: int
) -> None:
    create_tables(catalog.engine, materializations)
    with catalog.engine.begin() as con:
        con.execute(
            materializations.insert().values(
                view=view.name,
                fingerprint=view.fingerprint,
                source_version=version,
                end_ts=end,
                rows=rows,
                materialized_at=utcnow(),
            )
        )
