"""`assay check`: run contracts on demand against tables as they are now.

One aggregate scan per contract counts the rows breaking each row rule and measures every
batch metric and the column profile; row counts and freshness come from the Delta log's
file statistics when it has them (no scan).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlglot import exp

from assay.catalog import Catalog
from assay.catalog.store import metric_history, record_checks
from assay.contracts.anomalies import detect, watched
from assay.contracts.compile import compile_contract, flag_expression, metric_expression
from assay.contracts.enforce import _columns
from assay.contracts.measure import Measured, measure, profile_expressions, run_own_query
from assay.contracts.model import BatchRule, Contract, RowRule, Severity
from assay.contracts.results import (
    CheckResult,
    failed_to_run,
    judge,
    not_run,
    number,
    schema_drift,
)
from assay.contracts.sql import kind
from assay.engines import Engine, TableRef
from assay.intervals import utcnow
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
    """Check `dataset` against its contracts; store results and metrics; flag anomalies.
    A rule that cannot run is reported as failed; the other rules still run."""
    schema = warehouse.schema(dataset)
    stats = _log_stats(warehouse, dataset)
    results: list[CheckResult] = []
    measured: dict[str, float | None] = {}
    for contract in contracts:
        contract_results, values = _check_contract(engine, dataset, contract, schema, stats)
        results.extend(contract_results)
        measured.update(
            {
                k: v
                for k, v in values.items()
                if not k.startswith(("row_", "rule_")) and not isinstance(v, Exception)
            }
        )
    measured["rows"] = stats["rows"]
    measured["freshness_lag"] = _freshness_lag(warehouse, dataset, stats, time_column)
    measured.update(_derived(measured))
    results.extend(_anomalies(catalog, dataset, measured, sensitivity))
    record_checks(catalog, run_id, results, measured)
    return results


def _check_contract(
    engine: Engine, dataset: str, contract: Contract, schema: Any, stats: dict[str, float]
) -> tuple[list[CheckResult], dict[str, Measured]]:
    compiled = compile_contract(contract, schema)
    kinds = {f.name: kind(f.type) for f in schema}
    exprs: dict[str, exp.Expr] = {
        f"row_{i}": flag_expression(r) for i, r in enumerate(compiled.row_rules)
    }
    for i, rule in enumerate(compiled.batch_rules):
        if rule.metric == "rowCount" or _from_log(rule, stats):
            continue
        expr = metric_expression(rule, kinds)
        if expr is not None and all(c in kinds for c in _columns(rule)):
            exprs[f"rule_{i}"] = expr
    exprs.update(profile_expressions(schema))
    values = measure(engine, exprs, TableRef(dataset))
    results = schema_drift(contract, compiled, list(schema.names))
    results.extend(not_run(contract, dataset))
    results.extend(
        _row_result(dataset, rule, values.get(f"row_{i}"))
        for i, rule in enumerate(compiled.row_rules)
    )
    for i, rule in enumerate(compiled.batch_rules):
        results.append(_batch_result(engine, dataset, rule, values.get(f"rule_{i}"), stats, kinds))
    return results, values


def _from_log(rule: BatchRule, stats: dict[str, float]) -> bool:
    return rule.metric in ("freshness", "latency") and f"max.{rule.column}" in stats


def _batch_result(
    engine: Engine,
    dataset: str,
    rule: BatchRule,
    value: Measured,
    stats: dict[str, float],
    kinds: dict[str, str],
) -> CheckResult:
    missing = [c for c in _columns(rule) if c not in kinds]
    if missing:
        return failed_to_run(dataset, rule, KeyError(f"column {missing[0]} is missing"))
    observed: Measured = value
    try:
        if rule.metric == "rowCount":
            observed = stats["rows"]
        elif rule.metric in ("sql", "foreignKey"):
            observed = run_own_query(engine, rule, TableRef(dataset))  # scanned, not loaded
        elif _from_log(rule, stats):
            observed = _now() - stats[f"max.{rule.column}"]
    except Exception as exc:
        observed = exc
    if isinstance(observed, Exception):
        return failed_to_run(dataset, rule, observed)
    return judge(dataset, rule, observed, stats["rows"])


def _row_result(dataset: str, rule: RowRule, value: Measured) -> CheckResult:
    if isinstance(value, Exception):
        return failed_to_run(dataset, rule, value)
    broken = value or 0
    status = "fail" if rule.severity is Severity.ERROR else "warn"
    return CheckResult(
        dataset,
        rule.name,
        "row",
        rule.severity.value,
        "pass" if not broken else status,
        broken,
        "0 rows",
        None if not broken else f"{broken:g} row(s) break it ({rule.reason})",
    )


def _log_stats(warehouse: Warehouse, dataset: str) -> dict[str, float]:
    """Row count and each column's max, from the Delta log's per-file statistics."""
    actions = warehouse.file_actions(dataset)
    stats: dict[str, float] = {"rows": float(sum(actions["num_records"].to_pylist() or [0]))}
    for name in actions.column_names:
        if name.startswith("max."):
            values = [v for v in actions[name].to_pylist() if v is not None]
            value = number(max(values)) if values else None
            if value is not None:
                stats[name] = value
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
