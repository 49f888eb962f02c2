"""SLA properties assay checks: `latency` (synonym `ly`) and `freshness`: the newest value
of the `element` column is at most `value` `unit`s old. An element `object.column` binds
to the object it names (a schema object of the file by name, physicalName or id, or else
a dataset of the project: the standard reads it as `SELECT column FROM object`); a bare
column needs a file with one object. Other SLA properties (retention, frequency,
availability dates, ...) are documentation for assay.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from assay.contracts.errors import ContractError
from assay.contracts.model import BatchRule, Contract, Severity, Threshold
from assay.contracts.quality import severity_of

CHECKED = {"latency": "latency", "ly": "latency", "freshness": "freshness"}

_DAY = 86400.0
#: Units (case-insensitive) in seconds: ODCS names d/day/days and y/yr/years.
UNITS = {
    **dict.fromkeys(("ms", "millisecond", "milliseconds"), 0.001),
    **dict.fromkeys(("s", "sec", "second", "seconds"), 1.0),
    **dict.fromkeys(("m", "min", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hr", "hour", "hours"), 3600.0),
    **dict.fromkeys(("d", "day", "days"), _DAY),
    **dict.fromkeys(("w", "week", "weeks"), 7 * _DAY),
    **dict.fromkeys(("y", "yr", "year", "years"), 365.25 * _DAY),
}


def sla_rules(
    slas: list[dict[str, Any]], contracts: list[Contract], status: str, where: str
) -> list[Contract]:
    """`contracts` with each checked SLA added to the object its element names, plus one
    contract per dataset an SLA names that the schema does not describe."""
    out = list(contracts)
    for index, sla in enumerate(slas):
        prop = CHECKED.get(str(sla.get("property", "")).lower())
        if prop is None:
            continue
        at = f"{where} $.slaProperties[{index}]"
        limit = _limit(sla, prop, at)
        default = "warning" if prop == "latency" else "error"
        severity = severity_of(sla.get("severity", default), status, prop, at)
        for element in _elements(sla, prop, at):
            position, column = _bind(element, out, status, at)
            rule = BatchRule(
                name=f"{prop}({column})",
                metric=prop,
                threshold=Threshold.of("mustBeLessOrEqualTo", limit),
                column=column,
                unit="seconds",
                severity=Severity(severity),
            )
            target = out[position]
            out[position] = replace(target, batch_rules=(*target.batch_rules, rule))
    return out


def _limit(sla: dict[str, Any], prop: str, at: str) -> float:
    unit = str(sla.get("unit", "d")).lower()
    if unit not in UNITS:
        raise ContractError(
            f"{prop} SLA: unknown unit {sla.get('unit')!r}",
            where=at,
            hint=f"use one of {', '.join(sorted(UNITS))}",
        )
    try:
        return float(sla["value"]) * UNITS[unit]
    except (TypeError, ValueError, KeyError):
        raise ContractError(
            f"{prop} SLA: value {sla.get('value')!r} is not a number", where=at
        ) from None


def _elements(sla: dict[str, Any], prop: str, at: str) -> list[str]:
    elements = [e.strip() for e in str(sla.get("element") or "").split(",") if e.strip()]
    if not elements:
        raise ContractError(
            f"{prop} SLA needs an element: the time column it measures",
            where=at,
            hint="e.g. element: transactions.event_time",
        )
    return elements


def _bind(element: str, contracts: list[Contract], status: str, at: str) -> tuple[int, str]:
    """The index of the contract an element's object names (added when the schema does not
    describe it: the object is then a dataset of the project) and the column."""
    obj, dot, column = element.rpartition(".")
    if not dot:
        described = [i for i, c in enumerate(contracts) if c.object_name]
        if len(described) != 1:
            objects = ", ".join(c.object_name for c in contracts if c.object_name) or "none"
            raise ContractError(
                f"SLA element {element!r} names no object, and the contract has "
                f"{len(described)} (objects: {objects})",
                where=at,
                hint="write the element as object.column",
            )
        return described[0], _column(contracts[described[0]], element)
    for i, contract in enumerate(contracts):
        names = {contract.object_name, contract.raw.get("physicalName"), contract.raw.get("id")}
        if obj in names or (not contract.object_name and contract.dataset == obj):
            return i, _column(contract, column)
    path = at.split(" $")[0]
    contracts.append(
        Contract(obj, path, (), (), (), status=status, raw={"props": {}, "quality": []})
    )
    return len(contracts) - 1, column


def _column(contract: Contract, prop: str) -> str:
    return str(contract.raw.get("props", {}).get(prop, prop))
