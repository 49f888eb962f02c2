"""A project's lineage: every dataset in dependency order, then features, training sets
and contracts.

Each dataset's input columns come from its built table when there is one (the Delta
schema is the truth), else from what lineage found upstream (a source's declared and
sampled fields, an upstream query's output columns), so a project that never ran has
lineage too.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from assay.errors import DefinitionError
from assay.features.spec import FeatureService
from assay.lineage import consumers
from assay.lineage.graph import Edge, LineageGraph, Node
from assay.lineage.sources import (
    DatasetLineage,
    database_lineage,
    file_lineage,
    python_lineage,
    stream_lineage,
    window_lineage,
)
from assay.lineage.sql import sql_lineage
from assay.pipelines.files import FileSource
from assay.pipelines.sources import SqlTableSource
from assay.pipelines.spec import DatasetSpec
from assay.pipelines.transforms import SqlTransform, render_sql
from assay.streaming.sources import StreamSource, WindowOutput

if TYPE_CHECKING:
    from assay.runtime import Runtime

log = logging.getLogger("assay.lineage")

#: Interval bounds put in `{{ start }}` and `{{ end }}`: any will do, lineage reads no rows.
_BOUNDS = {"start": "2000-01-01 00:00:00", "end": "2000-01-02 00:00:00"}


def build_lineage(rt: Runtime) -> LineageGraph:
    """Every column edge of the project: raw fields to tables, tables to features,
    features to feature services and saved training sets, columns to contract checks.

    Unresolved columns are logged as warnings and listed in `unresolved`.

    Example:
        >>> import assay, tempfile
        >>> root = tempfile.mkdtemp()
        >>> _ = assay.init_project(root)
        >>> graph = build_lineage(assay.Project(root).runtime)
        >>> revenue = Node("dataset", "gold.daily_totals", "revenue")
        >>> [str(e.source) for e in graph.upstream(revenue, depth=1) if e.type == "DIRECT"]
        ['silver.orders.amount']
        >>> raw = Node("file", "data/orders/*.csv", "amount")
        >>> revenue in {e.target for e in graph.downstream(raw)}
        True
    """
    edges: list[Edge] = []
    unresolved: list[tuple[str, str]] = []
    known: dict[str, list[str]] = {}
    for name in rt.dag.order():
        found = _dataset(rt, rt.dag.specs[name], known)
        if found.columns:  # none: unknown (Python code not run yet), not empty
            known[name] = list(found.columns)
        edges += found.table_edges + [e for column in found.columns.values() for e in column]
        unresolved += [(name, what) for what in found.unresolved]
    views = rt.feature_views
    services = [d for d in rt.feature_definitions if isinstance(d, FeatureService)]
    edges += consumers.feature_edges(list(views.values()), known, unresolved)
    edges += consumers.service_edges(services, views, unresolved)
    edges += consumers.training_set_edges(rt.warehouse, views, unresolved)
    edges += consumers.contract_edges(rt.contracts, rt.root, known, unresolved)
    for dataset, what in unresolved:
        log.warning("lineage: %s: %s", dataset, what)
    return LineageGraph(edges, unresolved)


def column_lineage(rt: Runtime, dataset: str) -> dict[str, list[Edge]]:
    """Each output column of `dataset` -> the edges into it from its inputs' columns (what
    OpenLineage's columnLineage facet needs: input dataset, input field, type, subtype).

    Only `dataset` and what it reads are traced. A column with no edge has no input (an
    ingest time, a constant); what could not be resolved is logged as a warning.

    Raises:
        UsageError: `dataset` is not a dataset of the project (the message lists them).

    Example:
        >>> import assay, tempfile
        >>> root = tempfile.mkdtemp()
        >>> _ = assay.init_project(root)
        >>> lineage = column_lineage(assay.Project(root).runtime, "silver.orders")
        >>> [(str(e.source), e.subtype) for e in lineage["amount"] if e.type == "DIRECT"]
        [('bronze.orders.amount', 'IDENTITY')]
    """
    spec = rt.dag[dataset]  # an unknown name raises, listing the known ones
    known: dict[str, list[str]] = {}
    for name in [*rt.dag.upstream(dataset), dataset]:
        found = _dataset(rt, rt.dag.specs[name], known)
        if found.columns:
            known[name] = list(found.columns)
        for what in found.unresolved:
            log.warning("lineage: %s: %s", name, what)
    del spec
    return {column: list(dict.fromkeys(edges)) for column, edges in found.columns.items()}


def _dataset(rt: Runtime, spec: DatasetSpec, known: Mapping[str, Sequence[str]]) -> DatasetLineage:
    """One dataset's lineage, given the columns of the datasets before it."""
    producer = spec.producer
    built = _built_columns(rt, spec.name)
    if isinstance(producer, SqlTransform):
        return _sql_dataset(rt, spec, producer, known)
    if isinstance(producer, FileSource):
        return file_lineage(spec, producer, rt.root, built)
    if isinstance(producer, SqlTableSource):
        return database_lineage(spec, producer, built)
    if isinstance(producer, WindowOutput):
        stream = rt.dag.specs[producer.stream].producer
        timestamp = stream.timestamp if isinstance(stream, StreamSource) else "event_time"
        return window_lineage(spec, producer, timestamp)
    if isinstance(producer, StreamSource):
        return stream_lineage(spec, producer, built)
    return python_lineage(spec, producer, built, rt.dag.specs)


def _built_columns(rt: Runtime, name: str) -> list[str] | None:
    return rt.warehouse.schema(name).names if rt.warehouse.exists(name) else None


def _sql_dataset(
    rt: Runtime, spec: DatasetSpec, transform: SqlTransform, known: Mapping[str, Sequence[str]]
) -> DatasetLineage:
    result = DatasetLineage()
    values = {**_BOUNDS, "vars": rt.config.vars}
    try:
        sql = render_sql(transform.sql, values, spec.where)
        found = sql_lineage(sql, _input_schemas(rt, spec, known), spec.where)
    except DefinitionError as exc:
        result.unresolved.append(f"* ({exc.message})")
        return result
    result.unresolved += found.unresolved
    for column, uses in found.columns.items():
        target = Node("dataset", spec.name, column)
        result.add(column)
        for use in uses:
            table = _dataset_name(rt, use.table)
            if table not in spec.inputs:  # read_csv(...), a table outside the project
                result.unresolved.append(f"{column} (reads {table}, not an input dataset)")
                continue
            source = Node("dataset", table, use.column)
            result.add(column, Edge(source, target, use.type, use.subtype))
    return result


def _input_schemas(
    rt: Runtime, spec: DatasetSpec, known: Mapping[str, Sequence[str]]
) -> dict[str, dict[str, str]]:
    """The columns (and, when built, types) of each input of `spec`."""
    schemas: dict[str, dict[str, str]] = {}
    for name in spec.inputs:
        if rt.warehouse.exists(name):
            schema = rt.warehouse.schema(name)
            schemas[name] = {f.name: "" for f in schema}
        elif known.get(name):
            schemas[name] = dict.fromkeys(known[name], "")
    return schemas


def _dataset_name(rt: Runtime, table: str) -> str:
    """The dataset a table name in SQL stands for (DuckDB matches names in any case)."""
    if table in rt.dag.specs:
        return table
    return next((n for n in rt.dag.specs if n.lower() == table.lower()), table)
