"""Rule outcomes: one CheckResult per rule and batch (or table), and how a measured metric
becomes pass, warn or fail by its threshold and severity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from assay.contracts.compile import Compiled
from assay.contracts.model import BatchRule, Contract, RowRule, Severity

#: Statuses: pass, warn, fail, and not_run for rules assay does not execute.
NOT_RUN = "not_run"


@dataclass(frozen=True)
class CheckResult:
    """One rule's outcome on one batch (or table)."""

    dataset: str
    rule: str
    kind: str  # row | batch | schema | anomaly
    severity: str
    status: str  # pass | warn | fail | not_run
    observed: float | None = None
    expected: str | None = None
    detail: str | None = None

    @property
    def blocks(self) -> bool:
        return self.status == "fail" and self.severity == Severity.ERROR.value


def judge(dataset: str, rule: BatchRule, observed: float | None, rows: float) -> CheckResult:
    """Compare a measured metric with the rule's threshold (percent of `rows` if asked)."""
    if rule.unit == "percent" and observed is not None:
        observed = 100.0 * observed / rows if rows else 0.0
    ok = rule.threshold.passes(observed)
    status = "pass" if ok else ("fail" if rule.severity is Severity.ERROR else "warn")
    unit = "%" if rule.unit == "percent" else (f" {rule.unit}" if rule.unit else "")
    expected = f"{rule.threshold}{unit}"
    if ok:
        detail = None
    elif observed is None:
        detail = f"{rule.name} measured nothing (no value to compare), expected {expected}"
    else:
        detail = f"{rule.name} = {observed:g}{unit}, expected {expected}"
    return CheckResult(
        dataset, rule.name, "batch", rule.severity.value, status, observed, expected, detail
    )


def failed_to_run(dataset: str, rule: BatchRule | RowRule, error: BaseException) -> CheckResult:
    """A rule whose query failed: it fails (an error rule blocks), saying why."""
    message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return CheckResult(
        dataset,
        rule.name,
        "row" if isinstance(rule, RowRule) else "batch",
        rule.severity.value,
        "fail" if rule.severity is Severity.ERROR else "warn",
        None,
        None,
        f"the rule could not run: {message[:300]}",
    )


def row_result(dataset: str, rule: RowRule, broken: float, quarantined: bool) -> CheckResult:
    """A row rule's outcome: rows quarantined (error) or flagged and kept (warning, info)."""
    if not broken:
        return CheckResult(dataset, rule.name, "row", rule.severity.value, "pass", 0, "0 rows")
    if quarantined:
        detail = f"{broken:g} row(s) quarantined"
    else:
        detail = f"{broken:g} row(s) flagged ({rule.reason}), kept"
    return CheckResult(
        dataset, rule.name, "row", rule.severity.value, "warn", broken, "0 rows", detail
    )


def not_run(contract: Contract, dataset: str) -> list[CheckResult]:
    """The contract's rules assay does not execute, reported as such."""
    return [
        CheckResult(dataset, item.name, "batch", "info", NOT_RUN, None, None, item.reason)
        for item in contract.not_run
    ]


def schema_drift(contract: Contract, compiled: Compiled, columns: list[str]) -> list[CheckResult]:
    """Columns the contract describes but the data lacks (fail if required, else a warning),
    and columns the data has that the contract does not describe (a warning)."""
    declared = {c.name for c in contract.columns}
    missing = [
        CheckResult(
            contract.dataset,
            f"column({column.name})",
            "schema",
            contract.default_severity.value if column.required else Severity.WARNING.value,
            "fail" if column.required and contract.enforcing else "warn",
            None,
            "present",
            f"column {column.name} is missing from the data",
        )
        for column in contract.columns
        if column.name in compiled.missing_columns
    ]
    if not declared:
        return missing
    extra = [n for n in columns if n not in declared and not n.startswith("_")]
    return missing + [
        CheckResult(
            contract.dataset,
            f"column({name})",
            "schema",
            Severity.WARNING.value,
            "warn",
            None,
            "not in the contract",
            f"column {name} is in the data but not in the contract",
        )
        for name in extra
    ]


def number(value: Any) -> float | None:
    """A measured value as a float (timestamps as epoch seconds, booleans as 0/1)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
