"""dataQualityAssertions and dataQualityMetrics of a written table, from the contract
results and batch metrics its run recorded in the catalog.

A run checks each batch it commits (an incremental backfill, many): a rule is one
assertion that succeeds when it passed on every batch; counts add up over the batches,
minimums and maximums are taken over them, and a distinct count (approximate per batch)
is given only when there was one batch.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from openlineage.client.facet_v2 import (
    data_quality_assertions_dataset as assertions,
)
from openlineage.client.facet_v2 import (
    data_quality_metrics_dataset as metrics_facet,
)

from assay.catalog import Catalog
from assay.catalog.store import check_results, metrics
from assay.integrations.openlineage.facets import PRODUCER

#: `rule(column)`: a rule on one column, e.g. `not_null(amount)`.
_ON_COLUMN = re.compile(r"^([A-Za-z_][\w ]*)\(([^(),]+)\)$")


def quality_facets(catalog: Catalog, run_id: str, dataset: str) -> dict[str, Any]:
    """The two facets, each only when the run recorded something for it."""
    facets: dict[str, Any] = {}
    checks = _rows(catalog, check_results, run_id, dataset)
    if checks:
        facets["dataQualityAssertions"] = assertions_facet(checks)
    measured = _rows(catalog, metrics, run_id, dataset)
    if measured:
        facets["dataQualityMetrics"] = metrics_facet_of(
            [(r["metric"], r["value"]) for r in measured]
        )
    return facets


def _rows(catalog: Catalog, table: sa.Table, run_id: str, dataset: str) -> list[Any]:
    query = (
        sa.select(table)
        .where(table.c.run_id == run_id, table.c.dataset == dataset)
        .order_by(table.c.id)
    )
    with catalog.engine.connect() as con:
        return [row._mapping for row in con.execute(query)]


def assertions_facet(checks: list[Any]) -> assertions.DataQualityAssertionsDatasetFacet:
    """One assertion per rule (rules assay did not run are left out)."""
    by_rule: dict[str, list[Any]] = defaultdict(list)
    for check in checks:
        if check["status"] != "not_run":
            by_rule[check["rule"]].append(check)
    return assertions.DataQualityAssertionsDatasetFacet(
        assertions=[_assertion(rule, runs) for rule, runs in by_rule.items()], producer=PRODUCER
    )


def _assertion(rule: str, runs: list[Any]) -> assertions.Assertion:
    failed = [r for r in runs if r["status"] != "pass"]
    shown = failed[-1] if failed else runs[-1]
    match = _ON_COLUMN.match(rule)
    return assertions.Assertion(
        assertion=match.group(1) if match else rule,
        success=not failed,
        column=match.group(2).strip() if match else None,
        severity=shown["severity"],
        name=rule,
        description=shown["detail"],
        expected=shown["expected"] or None,
        actual=None if shown["observed"] is None else f"{shown['observed']:g}",
        params={"kind": shown["kind"], "batches": len(runs), "failed_batches": len(failed)},
    )


def metrics_facet_of(
    measured: list[tuple[str, float | None]],
) -> metrics_facet.DataQualityMetricsDatasetFacet:
    """The facet of batch metrics named `batch.rows` and `batch.<column>.<stat>` (stats:
    nulls, distinct, min, max, mean, max_epoch).

    Example:
        >>> facet = metrics_facet_of([("batch.rows", 3.0), ("batch.a.nulls", 1.0)])
        >>> facet.rowCount, facet.columnMetrics["a"].nullCount
        (3, 1)
    """
    rows = 0.0
    columns: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for name, value in measured:
        if value is None or not name.startswith("batch."):
            continue
        metric = name.removeprefix("batch.")
        if metric == "rows":
            rows += value
            continue
        column, _, stat = metric.rpartition(".")
        if column:
            columns[column][stat].append(value)
    return metrics_facet.DataQualityMetricsDatasetFacet(
        rowCount=int(rows),
        columnMetrics={name: _column_metrics(stats) for name, stats in columns.items()},
        producer=PRODUCER,
    )


def _column_metrics(stats: dict[str, list[float]]) -> metrics_facet.ColumnMetrics:
    nulls, distinct = stats.get("nulls"), stats.get("distinct")
    low, high = stats.get("min"), stats.get("max")
    return metrics_facet.ColumnMetrics(
        nullCount=int(sum(nulls)) if nulls else None,
        distinctCount=int(distinct[0]) if distinct and len(distinct) == 1 else None,
        min=min(low) if low else None,
        max=max(high) if high else None,
    )
