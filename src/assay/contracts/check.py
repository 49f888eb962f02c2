"""`assay check`: run contracts on demand against tables as they are now.

One aggregate scan per contract counts the rows breaking each row rule and measures every
batch metric and the column profile; row counts and freshness come from the Delta log's
file statistics when it has them (no scan).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from assay.catalog import Catalog
from assay.catalog.store import metric_history, record_checks, utcnow
from assay.contracts.anomalies import detect, watched
from assay.contracts.compile import compile_contract, metric_expression, q
from assay.contracts.enforce import CheckResult, _judge, _number, _sql_rule, profile_expressions
from assay.contracts.model import Contract
from assay.engines import Engine, TableRef
from assay.engines.types import arrow_to_sql
from assay.tables import Warehouse


def check_dataset(
    engine: Engine,
    warehouse: Warehouse,
    catalog: Catalog,
    run_id: str,
    dataset: str,
    contracts: Sequence[Contract],
    sensitivity: float = 3.5,
    time_column: str | None = None,
) -> list[CheckResult]:
    """Check `dataset` against its contracts; store results and metrics; flag anomalies."""
    schema = warehouse.schema(dataset)
    types = {f.name: arrow_to_sql(f.type) for f in schema}
    stats = _log_stats(warehouse, dataset)
    results: list[CheckResult] = []
    measured: dict[str, float | None] = {}
    for contract in contracts:
        compiled = compile_contract(contract, types)
        exprs = {
            f"row_{i}": f"count(*) FILTER (WHERE coalesce({r.violation}, FALSE))"
            for i, r in enumerate(compiled.row_rules)
        }
        for i, rule in enumerate(compiled.batch_rules):
            if rule.metric in ("rowCount", "sql"):
                continue
            if rule.metric == "freshness" and f"max.{rule.column}" in stats:
                continue
            expr = metric_expression(rule)
            if expr and (rule.column is None or rule.column in types):
                exprs[f"rule_{i}"] = expr
        exprs.update(profile_expressions(schema))
        select = ", ".join(f"{e} AS {q(k)}" for k, e in exprs.items())
        row = engine.query(f"SELECT {select} FROM batch", {"batch": TableRef(dataset)}).to_pylist()
        values = {k: _number(v) for k, v in (row[0] if row else {}).items()}
        rows = stats["rows"]
        for i, row_rule in enumerate(compiled.row_rules):
            broken = values.get(f"row_{i}") or 0
            status = "fail" if row_rule.severity.value != "info" else "warn"
            detail = None if not broken else f"{broken:g} row(s) break it"
            results.append(
                CheckResult(
                    dataset,
                    row_rule.name,
                    "row",
                    row_rule.severity.value,
                    "pass" if not broken else status,
                    broken,
                    "0 rows",
                    detail,
                )
            )
        for i, rule in enumerate(compiled.batch_rules):
            if rule.metric == "rowCount":
                observed: float | None = rows
            elif rule.metric == "sql":
                observed = _sql_rule(engine, rule, TableRef(dataset))  # scanned, not loaded
            elif rule.metric == "freshness" and f"max.{rule.column}" in stats:
                observed = _now() - stats[f"max.{rule.column}"]
            else:
                observed = values.get(f"rule_{i}")
            results.append(_judge(dataset, rule, observed, rows))
        measured.update({k: v for k, v in values.items() if not k.startswith(("row_", "rule_"))})
    measured["rows"] = stats["rows"]
    measured["freshness_lag"] = _freshness_lag(warehouse, dataset, stats, time_column)
    measured.update(_derived(measured))
    results.extend(_anomalies(catalog, dataset, measured, sensitivity))
    record_checks(catalog, run_id, results, measured)
    return results


def _log_stats(warehouse: Warehouse, dataset: str) -> dict[str, float]:
    """Row count and each column's max, from the Delta log's per-file statistics."""
    actions = warehouse.file_actions(dataset)
    stats: dict[str, float] = {"rows": float(sum(actions["num_records"].to_pylist() or [0]))}
    for name in actions.column_names:
        if name.startswith("max."):
            values = [v for v in actions[name].to_pylist() if v is not None]
            number = _number(max(values)) if values else None
            if number is not None:
                stats[name] = number
    return stats


def _freshness_lag(
    warehouse: Warehouse, dataset: str, stats: dict[str, float], time_column: str | None
) -> float:
    """Seconds since the newest event (the time column's max statistic), or since the
    last commit when the dataset has no time column: both read from the Delta log."""
    if time_column and f"max.{time_column}" in stats:
        return _now() - stats[f"max.{time_column}"]
    last = warehouse.last_commit(dataset)
    committed = last.timestamp.timestamp() if last else _now()
    return _now() - committed


def _derived(measured: dict[str, float | None]) -> dict[str, float | None]:
    rows = measured.get("rows") or 0
    out: dict[str, float | None] = {}
    for key, value in measured.items():
        if key.endswith(".nulls") and rows:
            out[key.replace(".nulls", ".null_rate")] = (value or 0) / rows
    return out


def _anomalies(
    catalog: Catalog, dataset: str, measured: dict[str, float | None], sensitivity: float
) -> list[CheckResult]:
    found = []
    at = utcnow()
    for metric, value in measured.items():
        if value is None or not watched(metric):
            continue
        anomaly = detect(metric, metric_history(catalog, dataset, metric), value, at, sensitivity)
        if anomaly is not None:
            found.append(
                CheckResult(
                    dataset,
                    f"anomaly({metric})",
                    "anomaly",
                    "warning",
                    "warn",
                    value,
                    f"[{anomaly.low:g}, {anomaly.high:g}]",
                    anomaly.describe(),
                )
            )
    return found


def _now() -> float:
    return datetime.now(UTC).timestamp()
