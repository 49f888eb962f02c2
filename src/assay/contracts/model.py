"""assay's view of a data contract: the rules it enforces, independent of the YAML format.

A contract is one ODCS schema object bound to one dataset. Rules are either row-level (each
row passes or breaks it: an error quarantines the row, a warning flags it and keeps it) or
batch-level (a metric over the batch compared with a threshold: pass, warn or block by
severity). Rules assay cannot run (`custom`, external references) are kept as `NotRun`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlglot import exp

from assay.contracts.sqlrules import SqlQuery


class Severity(StrEnum):
    """What a failed rule does: error blocks the write, warning and info record."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


#: ODCS operators: the comparison each makes (observed `op` operand) and its symbol.
OPERATORS = {
    "mustBe": "=",
    "mustNotBe": "!=",
    "mustBeGreaterThan": ">",
    "mustBeGreaterOrEqualTo": ">=",
    "mustBeLessThan": "<",
    "mustBeLessOrEqualTo": "<=",
    "mustBeBetween": "between",
    "mustNotBeBetween": "not between",
}


def _holds(op: str, observed: float, v: Any) -> bool:
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
    # The standard: "mustBeBetween is the equivalent to mustBeGreaterThan and mustBeLessThan".
    inside = bool(v[0] < observed < v[1])
    if op == "mustBeBetween":
        return inside
    if op == "mustNotBeBetween":
        return not inside
    raise ValueError(f"unknown operator {op}")


@dataclass(frozen=True)
class Threshold:
    """ODCS operators and their operands; every one must hold (a rule may carry several).

    Example:
        >>> Threshold((("mustBeBetween", (1, 10)),)).passes(3)
        True
        >>> Threshold((("mustBeBetween", (1, 10)),)).passes(10)  # bounds are exclusive
        False
        >>> str(Threshold((("mustBeGreaterThan", 0), ("mustBeLessThan", 5))))
        '> 0 and < 5'
    """

    conditions: tuple[tuple[str, Any], ...]

    @classmethod
    def of(cls, operator: str, value: Any) -> Threshold:
        """A threshold with one operator."""
        return cls(((operator, value),))

    def passes(self, observed: float | None) -> bool:
        """Whether `observed` meets every condition (a missing measurement never does)."""
        if observed is None:
            return False
        return all(_holds(op, observed, v) for op, v in self.conditions)

    def __str__(self) -> str:
        parts = []
        for op, v in self.conditions:
            if op in ("mustBeBetween", "mustNotBeBetween"):
                parts.append(f"{OPERATORS[op]} {v[0]} and {v[1]} (exclusive)")
            else:
                parts.append(f"{OPERATORS[op]} {v}")
        return " and ".join(parts)


@dataclass(frozen=True)
class RowRule:
    """A condition every row must meet; `violation` is true for a breaking row."""

    name: str
    column: str | None
    violation: exp.Expr
    reason: str
    severity: Severity = Severity.ERROR


@dataclass(frozen=True)
class ForeignKey:
    """A relationship: `columns` of this object must exist as `target_columns` of `target`.

    Before binding, `target` is the referenced object's name; after, the dataset's.
    """

    columns: tuple[str, ...]
    target: str
    target_columns: tuple[str, ...]


@dataclass(frozen=True)
class BatchRule:
    """A metric over the batch compared with a threshold.

    `metric` is one of rowCount, nullValues, missingValues, invalidValues, duplicateValues,
    sql, freshness, latency, foreignKey, rowRule (a warning row rule: rows flagged, kept);
    `unit` is rows, percent or seconds.
    """

    name: str
    metric: str
    threshold: Threshold
    column: str | None = None
    unit: str = "rows"
    severity: Severity = Severity.ERROR
    arguments: Mapping[str, Any] = field(default_factory=dict)
    query: SqlQuery | None = None
    columns: tuple[str, ...] = ()
    foreign_key: ForeignKey | None = None


@dataclass(frozen=True)
class NotRun:
    """A rule the contract states but assay does not execute (reported as not run)."""

    name: str
    reason: str


@dataclass(frozen=True)
class Column:
    """A property of the contract's schema; `name` is its column in the data (the
    property's `physicalName`, else its `name`), `prop` its name in the contract."""

    name: str
    prop: str
    logical_type: str | None = None
    physical_type: str | None = None
    required: bool = False
    unique: bool = False
    primary_key: bool = False
    key_position: int = -1
    classification: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Contract:
    """A parsed contract: one schema object, the dataset it binds to and its rules.

    `dataset` is the bound dataset (`layer.name`); before binding it is the name the
    object asks for (its `physicalName`, else its `name`).
    """

    dataset: str
    path: str
    columns: tuple[Column, ...]
    row_rules: tuple[RowRule, ...]
    batch_rules: tuple[BatchRule, ...]
    object_name: str = ""
    status: str = "active"
    not_run: tuple[NotRun, ...] = ()
    primary_key: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def enforcing(self) -> bool:
        """A draft (or proposed) contract warns instead of blocking until it is active."""
        return self.status.lower() not in DRAFT_STATUSES

    @property
    def default_severity(self) -> Severity:
        """The severity of rules the contract states without one (schema rules)."""
        return Severity.ERROR if self.enforcing else Severity.WARNING


#: Contract statuses whose error rules only warn (ODCS fundamentals: status examples).
DRAFT_STATUSES = ("draft", "proposed")
