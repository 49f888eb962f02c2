"""Fold a table's Delta log into the catalog: the Delta log is the truth.

A process killed between a data commit and its catalog write leaves the catalog behind the
log; `sync` replays the missing commits' `assay.*` metadata, so the next run sees the interval
as done and the files as ingested.
"""

from __future__ import annotations

import sqlalchemy as sa

from assay.catalog.store import Catalog, IntervalRecord
from assay.tables import Warehouse
from assay.tables.commitmeta import CommitMeta, DatasetState


def sync(catalog: Catalog, warehouse: Warehouse, dataset: str) -> DatasetState:
    """Bring the catalog up to the table's latest version; return the dataset's state.

    The state holds what the newest commits said: `fingerprint`, `inputs`, `cursor`,
    `content_hash` of the latest write (the files ingested are read with
    `Catalog.ingested_files`).

    Example:
        >>> import tempfile
        >>> from assay.catalog import Catalog
        >>> sync(Catalog("sqlite://"), Warehouse(tempfile.mkdtemp()), "bronze.none").version is None
        True
    """
    synced, state = catalog.sync_point(dataset)
    current = warehouse.version(dataset)  # half a JSON line: TornLogError from the load
    if current is not None:
        warehouse.check_log(dataset, current)  # an empty newest commit loads fine: check it
    if current is None or current < synced:
        # The table was dropped or recreated behind our back: start over from its log.
        with catalog.engine.begin() as con:
            catalog.reset_dataset(con, dataset)
        synced, state = -1, DatasetState()
    if current is None or current == synced:
        return state
    commits = [c for c in warehouse.history(dataset, limit=current - synced) if c.version > synced]
    with catalog.engine.begin() as con:
        for commit in sorted(commits, key=lambda c: c.version):
            if commit.metadata:
                state = record_commit(catalog, con, dataset, commit.version, commit.meta, state)
        catalog.set_sync_point(con, dataset, current, state)
    return state


def record_commit(
    catalog: Catalog,
    con: sa.Connection,
    dataset: str,
    version: int,
    meta: CommitMeta,
    state: DatasetState,
) -> DatasetState:
    """Record what commit `version` of `dataset` says (intervals done, files ingested, a
    reset) in the catalog; return the state after it."""
    if meta.reset:
        catalog.reset_dataset(con, dataset, before=version)
    if meta.intervals is not None and meta.fingerprint is not None:
        inputs = dict(meta.inputs or {})
        records = [IntervalRecord(i, meta.fingerprint, version, inputs) for i in meta.intervals]
        catalog.upsert_intervals(con, dataset, records, meta.run_id)
    if meta.files is not None:
        catalog.add_ingested_files(con, dataset, meta.files, version)
    return state.folded(meta, version)
