"""Reading one ODCS quality item: its operators, its severity, and whether it judges each
row on its own (a property's nullValues/missingValues/invalidValues with `mustBe: 0`)."""

from __future__ import annotations

from typing import Any

from assay.contracts.errors import ContractError
from assay.contracts.model import DRAFT_STATUSES, OPERATORS, Severity, Threshold

_SEVERITIES = {"error": Severity.ERROR, "warning": Severity.WARNING, "warn": Severity.WARNING}
_SEVERITIES["info"] = Severity.INFO


def severity_of(value: Any, status: str, rule: str, where: str) -> Severity:
    """A rule's severity; a draft contract's errors are warnings until it is active."""
    severity = _SEVERITIES.get(str(value or "error").lower())
    if severity is None:
        raise ContractError(
            f"rule {rule!r}: unknown severity {value!r}",
            where=where,
            hint="use error (blocks), warning or info (recorded)",
        )
    if severity is Severity.ERROR and status.lower() in DRAFT_STATUSES:
        return Severity.WARNING
    return severity


def threshold_of(item: dict[str, Any]) -> Threshold | None:
    """Every operator a quality item states (all must hold), or None when it has none."""
    conditions = []
    for op in OPERATORS:
        if op in item:
            value = item[op]
            conditions.append((op, tuple(value) if isinstance(value, list) else value))
    return Threshold(tuple(conditions)) if conditions else None


def is_row_level(item: dict[str, Any]) -> bool:
    """Library rules on a property with `mustBe: 0` (in rows) judge each row on its own."""
    threshold = threshold_of(item)
    return (
        item.get("type", "library") == "library"
        and (item.get("metric") or item.get("rule")) in ROW_METRICS
        and threshold is not None
        and threshold.conditions == (("mustBe", 0),)
        and item.get("unit", "rows") == "rows"
    )


#: Property metrics that can judge each row on its own.
ROW_METRICS = ("nullValues", "missingValues", "invalidValues")
