"""One request's view of the warehouse: each table's Delta log is opened once per request,
and what is read from it (schema, file list, history, the list of tables) is read once.

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
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import pyarrow as pa
from deltalake import DeltaTable

from assay.tables.delta import CommitInfo, Warehouse

if TYPE_CHECKING:
    from assay.runtime import Runtime

_T = TypeVar("_T")


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

    # The answers below are derived from an opened table and asked again and again by
    # status, plan and lineage (a schema 13 times, file lists 4 times, the newest commit
    # 4 times on the overview): each is computed once. Arrow tables and schemas are
    # immutable; lists are copied, so a caller's change stays its own.

    def schema(self, name: str) -> pa.Schema:
        return self._once(("schema", name), lambda: super(SnapshotWarehouse, self).schema(name))

    def file_actions(self, name: str, version: int | None = None) -> pa.Table:
        return self._once(
            ("files", name, version),
            lambda: super(SnapshotWarehouse, self).file_actions(name, version),
        )

    def history(self, name: str, limit: int | None = None) -> list[CommitInfo]:
        commits = self._once(
            ("history", name, limit), lambda: super(SnapshotWarehouse, self).history(name, limit)
        )
        return list(commits)

    def list_tables(self) -> list[str]:
        return list(self._once(("tables",), super().list_tables))

    def _once(self, key: tuple[Any, ...], compute: Callable[[], _T]) -> _T:
        if key not in self.opened:
            self.opened[key] = compute()
        found: _T = self.opened[key]
        return found


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
