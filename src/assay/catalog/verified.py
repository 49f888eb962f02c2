"""Input versions a full rebuild read without changing its table.

A full (or merge) dataset whose inputs changed is rebuilt; when the rebuild gives the same
content, nothing is committed, so the table's commit metadata still names the older input
versions and the planner would ask for the same rebuild on every run. The Delta log cannot
say "checked, unchanged" without a commit, so the catalog keeps it: the input versions the
rebuild read, valid only while the table is still at the version, fingerprint and content
hash it was checked against (any commit, or a code change, makes the entry moot).

Example:
    >>> from assay.catalog import Catalog
    >>> cat = Catalog("sqlite://")
    >>> record_verified(cat, "silver.x", "fp1", "h1", 3, {"bronze.a": 7})
    >>> verified_inputs(cat, "silver.x", "fp1", "h1", 3)
    {'bronze.a': 7}
    >>> verified_inputs(cat, "silver.x", "fp1", "h1", 4) is None  # committed since
    True
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import sqlalchemy as sa

from assay.catalog.store import Catalog, create_tables
from assay.catalog.store import verified_inputs as verified
from assay.intervals import utcnow

_created: set[sa.Engine] = set()


def _ready(catalog: Catalog) -> sa.Engine:
    engine = catalog.engine
    if engine not in _created:
        create_tables(engine, verified)
        _created.add(engine)
    return engine


def record_verified(
    catalog: Catalog,
    dataset: str,
    fingerprint: str,
    content_hash: str,
    version: int,
    inputs: Mapping[str, int],
) -> None:
    """Note that `dataset` at `version` was rebuilt from `inputs` and came out the same."""
    engine = _ready(catalog)
    with engine.begin() as con:
        con.execute(verified.delete().where(verified.c.dataset == dataset))
        con.execute(
            verified.insert().values(
                dataset=dataset,
                fingerprint=fingerprint,
                content_hash=content_hash,
                version=version,
                inputs=json.dumps(dict(inputs), sort_keys=True),
                checked_at=utcnow(),
            )
        )


def verified_inputs(
    catalog: Catalog, dataset: str, fingerprint: str, content_hash: str | None, version: int
) -> dict[str, int] | None:
    """The input versions last verified for `dataset`, if the table is still as checked."""
    if content_hash is None:
        return None
    engine = _ready(catalog)
    c = verified.c
    query = sa.select(c.inputs).where(
        (c.dataset == dataset)
        & (c.fingerprint == fingerprint)
        & (c.content_hash == content_hash)
        & (c.version == version)
    )
    with engine.connect() as con:
        found = con.execute(query).scalar_one_or_none()
    return None if found is None else {k: int(v) for k, v in json.loads(found).items()}
