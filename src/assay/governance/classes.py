"""The effective classification of every column: what contracts, dataset tags and
`assay pii scan` say, carried along column lineage.

A column derived from a classified column is classified the same (bronze to silver to
gold), unless the step takes the values away: it counts them (`count(email)`) or hashes
them (`sha256(email)`), see assay.governance.pii_flows, or the column's own contract
declares it `classification: public`. A source column masked at ingest by `hash`,
`tokenize` or `null` is not classified by tags or scans (see pii_declared.declared).
The reader asks on every read, so the answer is cached per runtime and rebuilt only
when the stored scan results change (`invalidate` forces it, e.g. after the project's
code changed in the same process).

Example:
    >>> import assay, tempfile
    >>> root = tempfile.mkdtemp()
    >>> _ = assay.init_project(root)
    >>> column_classes(assay.Project(root).runtime)
    {}
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from assay.catalog import Catalog
from assay.catalog.classifications import ScanFinding, ScanStore
from assay.config import ProjectConfig
from assay.contracts import Contract
from assay.errors import DefinitionError
from assay.governance import pii_declared, pii_flows
from assay.governance.pii_declared import Found

log = logging.getLogger("assay.governance")


class ProjectRuntime(Protocol):
    """What classification needs of `assay.runtime.Runtime` (named structurally so the
    reader, which the runtime builds, can ask without an import cycle)."""

    root: str
    config: ProjectConfig
    contracts: Mapping[str, Sequence[Contract]]

    @property
    def dag(self) -> Any: ...

    @property
    def warehouse(self) -> Any: ...

    @property
    def catalog(self) -> Catalog: ...

    @property
    def state_dir(self) -> Path: ...

    @property
    def feature_views(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class ColumnClass:
    """One classified column.

    Attributes:
        classes: its classifications (`pii`, `restricted`, ...).
        kinds: what it holds, where known (`email`, `phone`, ...: scan kinds and tags).
        sources: why: `contract customers.yaml`, `dataset tags`, `pii scan (0.98)`,
            `lineage from silver.customers.email`.
    """

    classes: frozenset[str]
    kinds: frozenset[str]
    sources: tuple[str, ...]


#: dataset -> column -> its classification (only classified columns appear).
Classified = dict[str, dict[str, ColumnClass]]

_cache: weakref.WeakKeyDictionary[Any, tuple[int, Classified]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def column_classes(runtime: ProjectRuntime) -> dict[str, dict[str, frozenset[str]]]:
    """Effective classifications per table per column (classified columns only).

    Cheap after the first call on a runtime (see the module); a table or column that is
    not in the answer holds nothing classified.
    """
    return {
        table: {column: found.classes for column, found in columns.items()}
        for table, columns in classified_columns(runtime).items()
    }


def feature_classes(runtime: ProjectRuntime) -> dict[str, dict[str, frozenset[str]]]:
    """Effective classifications per feature view per feature: a feature carries its
    source column's unless it only counts it (see assay.governance.pii_features)."""
    from assay.governance.pii_features import view_classes

    return view_classes(runtime.feature_views.values(), column_classes(runtime))


def classified_columns(runtime: ProjectRuntime) -> Classified:
    """Like `column_classes`, with each column's kinds and the reasons."""
    revision = scan_revision(runtime)
    with _lock:
        cached = _cache.get(runtime)
        if cached is not None and cached[0] == revision:
            return cached[1]
    result = _classify(runtime)
    with _lock:
        _cache[runtime] = (revision, result)
    return result


def invalidate(runtime: ProjectRuntime) -> None:
    """Forget the cached answer for `runtime` (the next call recomputes it)."""
    with _lock:
        _cache.pop(runtime, None)


#: One store per catalog: its tables are checked once per process, not on every read.
_stores: weakref.WeakKeyDictionary[Catalog, ScanStore] = weakref.WeakKeyDictionary()


def scan_store(runtime: ProjectRuntime) -> ScanStore | None:
    """The stored scan results, None when the project has no catalog yet (a read must
    not create one)."""
    local = runtime.state_dir / "catalog.db"
    if runtime.config.catalog is None and not local.exists():
        return None
    catalog = runtime.catalog
    with _lock:
        store = _stores.get(catalog)
        if store is None:
            store = _stores[catalog] = ScanStore(catalog)
    return store


def scan_revision(runtime: ProjectRuntime) -> int:
    store = scan_store(runtime)
    return store.revision() if store is not None else 0


def _classify(runtime: ProjectRuntime) -> Classified:
    store = scan_store(runtime)
    findings: list[ScanFinding] = store.results() if store is not None else []
    specs = runtime.dag.specs
    columns = _table_columns(runtime)
    found, public = pii_declared.declared(
        runtime.contracts,
        {name: spec.tags for name, spec in specs.items()},
        columns,
        findings,
        runtime.config.governance.restricted,
        {name: spec.protection.mask for name, spec in specs.items()},
    )
    for name in runtime.dag.order():
        spec = specs[name]
        carried = any(found.get(i) for i in spec.inputs)
        if not spec.inputs or (not carried and columns.get(name)):
            continue  # nothing classified to carry in, and its columns are known
        known = {i: columns.get(i) or list(found.get(i, {})) for i in spec.inputs}
        inputs = {i: cols for i, cols in known.items() if cols}  # unknown: nothing to carry
        flows = _flows(runtime, spec, inputs, columns.get(name))
        if name not in columns or columns[name] is None:
            columns[name] = list(flows)
        for column, sources in flows.items():
            if (name, column) in public:
                continue
            for table, source in sources:
                upstream = found.get(table, {}).get(source)
                if upstream is not None and upstream.classes:
                    where = f"lineage from {table}.{source}"
                    pii_declared._at(found, name, column).add(
                        upstream.classes, upstream.kinds, where
                    )
    return {
        table: {
            column: ColumnClass(frozenset(f.classes), frozenset(f.kinds), tuple(f.sources))
            for column, f in sorted(cols.items())
            if f.classes
        }
        for table, cols in sorted(found.items())
        if any(f.classes for f in cols.values())
    }


def _table_columns(runtime: ProjectRuntime) -> dict[str, list[str] | None]:
    """Each dataset's columns: its Delta schema when built, else its contract's."""
    declared = pii_declared.known_columns(runtime.contracts)
    result: dict[str, list[str] | None] = {}
    for name in runtime.dag.specs:
        if runtime.warehouse.exists(name):
            result[name] = list(runtime.warehouse.schema(name).names)
        else:
            result[name] = declared.get(name) or None
    return result


def _flows(
    runtime: ProjectRuntime,
    spec: Any,
    inputs: Mapping[str, Sequence[str]],
    columns: Sequence[str] | None,
) -> pii_flows.Flows:
    """Value flows into `spec`'s columns (same-name flows when its SQL cannot be read)."""
    sql = getattr(spec.producer, "sql", None)
    if isinstance(sql, str):
        try:
            rendered = pii_flows.render(sql, runtime.config.vars, spec.where)
            return pii_flows.sql_flows(rendered, inputs, spec.where)
        except DefinitionError as exc:
            log.warning("classification: %s: SQL not traced (%s)", spec.name, exc.message)
    declared = getattr(spec.producer, "lineage", None)
    if declared:
        # Declared columns as declared; built columns it does not name, by their names.
        flows = pii_flows.declared_flows(declared, list(inputs))
        for column, same in pii_flows.same_name_flows(inputs, columns or []).items():
            flows.setdefault(column, same)
        return flows
    return pii_flows.same_name_flows(inputs, columns)


def as_json(classified: Classified) -> dict[str, dict[str, dict[str, list[str]]]]:
    """`classified` as plain JSON values."""
    return {
        table: {
            column: {
                "classes": sorted(c.classes),
                "kinds": sorted(c.kinds),
                "sources": list(c.sources),
            }
            for column, c in columns.items()
        }
        for table, columns in classified.items()
    }


__all__ = [
    "ColumnClass",
    "Found",
    "as_json",
    "classified_columns",
    "column_classes",
    "feature_classes",
    "invalidate",
]
