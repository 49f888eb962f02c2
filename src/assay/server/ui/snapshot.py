"""One request's view of the warehouse: each table's Delta log is opened once per request.

A page asks the same tables the same questions many times (does it exist, its version,
schema, files, history: `assay status`, `assay plan`, freshness and SLAs each ask), and
every question opened the table's log again (~2 ms each, a hundred per overview). Within
one request the answers cannot usefully change, and a page drawn from one snapshot of each
table is consistent; the next request sees new commits.

Example:
    >>> import tempfile
    >>> from assay.tables.delta import Warehouse
    >>> snap = SnapshotWarehouse(Warehouse(tempfile.mkdtemp()))
    >>> snap.exists("gold.x"), snap.exists("gold.x"), len(snap.opened)
    (False, False, 1)
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from deltalake import DeltaTable

from assay.tables.delta import Warehouse

if TYPE_CHECKING:
    from assay.runtime import Runtime


class SnapshotWarehouse(Warehouse):
    """A read-only Warehouse that remembers each table it opened (and whether a table
    exists) for its own life: one request."""

    def __init__(self, inner: Warehouse):
        super().__init__(inner.root, inner.storage_options)
        self.opened: dict[tuple[str, Any], Any] = {}

    def exists(self, name: str) -> bool:
        key = ("exists", name)
        if key not in self.opened:
            self.opened[key] = super().exists(name)
        return bool(self.opened[key])

    def table(self, name: str, version: int | None = None) -> DeltaTable:
        key = (name, version)
        if key not in self.opened:
            self.opened[key] = super().table(name, version)
        table: DeltaTable = self.opened[key]
        return table


def snapshot(rt: Runtime) -> Runtime:
    """`rt` for one request: the same catalog, engines and reader (one read path, with its
    governance caches), and a SnapshotWarehouse for the questions pages ask of the logs."""
    rt.catalog  # noqa: B018  (opened once, shared: not one per request)
    view = copy.copy(rt)
    view.warehouse = SnapshotWarehouse(rt.warehouse)
    view._reader = rt.reader
    return view


def status_and_plan(rt: Runtime) -> tuple[list[Any], list[Any]]:
    """`assay status` and `assay plan` of every dataset, on `rt` (a snapshot), as
    `Project.status()` and `Project.plan()` compute them."""
    from assay.pipelines.plan import Planner
    from assay.project import dataset_statuses

    statuses = dataset_statuses(rt)
    plan = Planner.for_runtime(rt).plan_all([rt.dag[name] for name in rt.dag.order()], False)
    return statuses, plan
