"""Lineage past the tables: feature views, feature services, saved training sets, and the
contracts that check columns.

Each function takes the columns known per dataset (`known`: dataset -> its columns) and
returns edges plus (dataset, what) pairs it could not resolve.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from assay.contracts import Contract
from assay.errors import AssayError
from assay.features import pit
from assay.features.spec import FeatureService, FeatureView
from assay.lineage.graph import DIRECT, INDIRECT, Edge, Node
from assay.lineage.sql import sql_lineage
from assay.tables import Warehouse

Known = Mapping[str, Sequence[str]]
Unresolved = list[tuple[str, str]]


def _column(dataset: str, column: str, known: Known, unresolved: Unresolved, user: str) -> Node:
    """`dataset.column`, noting it unresolved when the dataset is known not to have it."""
    if dataset in known and column not in known[dataset]:
        unresolved.append((dataset, f"{column} (used by {user}, not a column of {dataset})"))
    return Node("dataset", dataset, column)


def feature_edges(views: Sequence[FeatureView], known: Known, unresolved: Unresolved) -> list[Edge]:
    """Each feature from its source column (IDENTITY), or for an aggregated view from the
    column it aggregates, grouped by the join keys and windowed by the timestamp."""
    edges: list[Edge] = []
    for view in views:
        for feature in view.features:
            target = Node("feature", view.name, feature)
            if not view.aggregations:
                source = _column(view.source, feature, known, unresolved, f"view {view.name}")
                edges.append(Edge(source, target, DIRECT, "IDENTITY"))
        for aggregation in view.aggregations:
            target = Node("feature", view.name, aggregation.name)
            user = f"view {view.name}"
            if aggregation.column:
                source = _column(view.source, aggregation.column, known, unresolved, user)
                edges.append(Edge(source, target, DIRECT, "AGGREGATION", aggregation.function))
            for key in view.join_keys:
                source = _column(view.source, key, known, unresolved, user)
                edges.append(Edge(source, target, INDIRECT, "GROUP_BY"))
            time = _column(view.source, view.timestamp, known, unresolved, user)
            edges.append(Edge(time, target, INDIRECT, "WINDOW", "time window"))
    return edges


def service_edges(
    services: Sequence[FeatureService], views: Mapping[str, FeatureView], unresolved: Unresolved
) -> list[Edge]:
    """Each feature a service (a model's list of features) names."""
    edges: list[Edge] = []
    for service in services:
        try:
            selections = pit.select(views, list(service.features))
        except AssayError as exc:
            unresolved.append((f"service {service.name}", exc.message))
            continue
        for sel in selections:
            for feature, output in zip(sel.features, sel.output_names, strict=True):
                target = Node("feature_service", service.name, output)
                edges.append(Edge(Node("feature", sel.view.name, feature), target, *_COPY))
    return edges


_COPY = (DIRECT, "IDENTITY")


def training_set_edges(
    warehouse: Warehouse, views: Mapping[str, FeatureView], unresolved: Unresolved
) -> list[Edge]:
    """Each column of a saved training set (`training.<name>`) from the feature it holds,
    as the newest commit that saved it recorded them."""
    edges: list[Edge] = []
    for table in warehouse.list_tables():
        if not table.startswith("training."):
            continue
        recorded = warehouse.recorded(table, "training")
        if not isinstance(recorded, Mapping):
            unresolved.append((table, "* (no commit recorded its training-set metadata)"))
            continue
        try:
            selections = pit.select(
                views, list(recorded["features"]), bool(recorded.get("full_feature_names"))
            )
        except AssayError as exc:  # a view renamed or removed since the set was saved
            unresolved.append((table, f"* ({exc.message})"))
            continue
        for sel in selections:
            for feature, output in zip(sel.features, sel.output_names, strict=True):
                target = Node("training_set", table, output)
                edges.append(Edge(Node("feature", sel.view.name, feature), target, *_COPY))
    return edges


def contract_node(contract: Contract, root: str, check: str) -> Node:
    """A check of a contract: `contracts/x.yaml#object` and the property or rule."""
    path = Path(contract.path)
    shown = path.relative_to(root) if path.is_relative_to(root) else path
    return Node("contract", f"{shown.as_posix()}#{contract.object_name}", check)


def contract_edges(
    contracts: Mapping[str, Sequence[Contract]], root: str, known: Known, unresolved: Unresolved
) -> list[Edge]:
    """Each property a contract declares (its rows are checked: FILTER) and each batch
    rule (the batch passes or not: CONDITIONAL) from the columns it reads."""
    edges: list[Edge] = []
    for dataset, bound in contracts.items():
        for contract in bound:
            user = f"contract {contract_node(contract, root, '').name}"
            for column in contract.columns:
                source = _column(dataset, column.name, known, unresolved, user)
                target = contract_node(contract, root, column.name)
                edges.append(Edge(source, target, INDIRECT, "FILTER", "row checks"))
            for rule in contract.batch_rules:
                target = contract_node(contract, root, rule.name)
                for name in _rule_columns(rule, dataset, known, unresolved):
                    source = _column(dataset, name, known, unresolved, user)
                    edges.append(Edge(source, target, INDIRECT, "CONDITIONAL", rule.metric))
                if not _rule_columns(rule, dataset, known, []):  # rowCount, freshness...
                    edges.append(
                        Edge(Node("dataset", dataset), target, INDIRECT, "CONDITIONAL", rule.metric)
                    )
    return edges


def _rule_columns(rule: object, dataset: str, known: Known, unresolved: Unresolved) -> list[str]:
    """The columns a batch rule reads: its column(s), or those its SQL query uses."""
    names = [getattr(rule, "column", None), *getattr(rule, "columns", ())]
    query = getattr(rule, "query", None)
    if query is not None and dataset in known:
        sql = query.text.replace("${table}", dataset).replace("${object}", dataset)
        try:
            found = sql_lineage(sql, {dataset: dict.fromkeys(known[dataset], "")}, dataset)
        except AssayError as exc:
            unresolved.append((dataset, f"{rule} query ({exc.message})"))
        else:
            names += [u.column for uses in found.columns.values() for u in uses]
    return list(dict.fromkeys(n for n in names if n))
