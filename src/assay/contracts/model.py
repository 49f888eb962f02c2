"""assay's view of a data contract: the rules it enforces, independent of the YAML format.

A contract binds to one dataset (the schema object's `physicalName`). Rules are either
row-level (each row passes or is quarantined) or batch-level (a metric over the batch
compared with a threshold: pass, warn or block by severity).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """What a failed rule does: error blocks the write, warning and info record."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Threshold:
    """An ODCS operator and its operand, e.g. mustBeLessThan 5.

    Example:
        >>> Threshold("mustBeBetween", (1, 10)).passes(3)
        True
    """

    operator: str
    value: Any

    def passes(self, observed: float | None) -> bool:
        if observed is None:
            return False
        op, v = self.operator, self.value
        if op == "mustBe":
            return bool(observed == v)
        if op == "mustNotBe":
            return bool(observed != v)
        if op == "mustBeGreaterThan":
            return bool(observed > v)
        if op == "mustBeGreaterOrEqualTo":
            return bool(observed >= v)
        if op == "mustBeLessThan":
            return bool(observed < v)
        if op == "mustBeLessOrEqualTo":
            return bool(observed <= v)
        if op == "mustBeBetween":
            return bool(v[0] <= observed <= v[1])
        if op == "mustNotBeBetween":
            return not v[0] <= observed <= v[1]
        raise ValueError(f"unknown operator {op}")

    def __str__(self) -> str:
        words = {
            "mustBe": "=",
            "mustNotBe": "!=",
            "mustBeGreaterThan": ">",
            "mustBeGreaterOrEqualTo": ">=",
            "mustBeLessThan": "<",
            "mustBeLessOrEqualTo": "<=",
        }
        if self.operator in words:
            return f"{words[self.operator]} {self.value}"
        low, high = self.value
        return f"{'not ' if self.operator == 'mustNotBeBetween' else ''}between {low} and {high}"


@dataclass(frozen=True)
class RowRule:
    """A condition every row must meet; `violation` is SQL true for a breaking row."""

    name: str
    column: str | None
    violation: str
    reason: str
    severity: Severity = Severity.ERROR


@dataclass(frozen=True)
class BatchRule:
    """A metric over the batch compared with a threshold.

    `metric` is one of rowCount, nullValues, missingValues, invalidValues, duplicateValues,
    sql, freshness; `unit` is rows or percent.
    """

    name: str
    metric: str
    threshold: Threshold
    column: str | None = None
    unit: str = "rows"
    severity: Severity = Severity.ERROR
    arguments: Mapping[str, Any] = field(default_factory=dict)
    query: str | None = None


@dataclass(frozen=True)
class Column:
    """A property of the contract's schema."""

    name: str
    logical_type: str | None = None
    physical_type: str | None = None
    required: bool = False
    unique: bool = False
    primary_key: bool = False
    classification: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Contract:
    """A parsed contract: where it came from, which dataset, its columns and rules."""

    dataset: str
    path: str
    columns: tuple[Column, ...]
    row_rules: tuple[RowRule, ...]
    batch_rules: tuple[BatchRule, ...]
    raw: Mapping[str, Any] = field(default_factory=dict)
