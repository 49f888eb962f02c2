"""Fold a table's Delta log into the catalog: the Delta log is the truth.

A process killed between a data commit and its catalog write leaves the catalog behind the
log; `sync` replays the missing commits' `assay.*` metadata, so the next run sees the interval
as done and the files as ingested.
"""

from __future__ import annotations

from typing import Any

from assay.catalog.store import Catalog, IntervalRecord
from assay.intervals import Interval
from assay.tables import Warehouse


def sync(catalog: Catalog, warehouse: Warehouse, dataset: str) -> dict[str, Any]:
    """Bring the catalog up to the table's latest version; return the dataset's state.

    The state holds what the newest commits said: `fingerprint`, `inputs`, `cursor`,
    `content_hash` of the latest write.
    """
    synced, state = catalog.sync_point(dataset)
    current = warehouse.version(dataset)  # half a JSON line: TornLogError from the load
    if current is not None:
        warehouse.check_log(dataset, current)  # an empty newest commit loads fine: check it
    if current is None or current < synced:
        # The table was dropped or recreated behind our back: start over from its log.
        with catalog.engine.begin() as con:
            catalog.reset_dataset(con, dataset)
        synced, state = -1, {}
    if current is None or current == synced:
        return state
    commits = [c for c in warehouse.history(dataset, limit=current - synced) if c.version > synced]
    with catalog.engine.begin() as con:
        for commit in sorted(commits, key=lambda c: c.version):
            meta = commit.metadata
            if not meta:
                continue
            if meta.get("reset"):
                catalog.reset_dataset(con, dataset, before=commit.version)
                state = {}
            if "intervals" in meta:
                records = [
                    IntervalRecord(
                        Interval.parse(key),
                        meta["fingerprint"],
                        commit.version,
                        meta.get("inputs", {}),
                    )
                    for key in meta["intervals"]
                ]
                catalog.upsert_intervals(con, dataset, records, meta.get("run_id"))
            if "files" in meta:
                catalog.add_ingested_files(con, dataset, meta["files"], commit.version)
            for key in ("fingerprint", "inputs", "cursor", "content_hash", "run_id"):
                if key in meta:
                    state[key] = meta[key]
            state["version"] = commit.version
        catalog.set_sync_point(con, dataset, current, state)
    return state
