"""Read Open Data Contract Standard v3 YAML files: validate against the spec's JSON schema,
then turn each schema object into an assay `Contract` bound to its `physicalName`."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from assay.contracts.model import BatchRule, Column, Contract, Severity, Threshold
from assay.errors import ProjectError

SCHEMA_FILE = Path(__file__).with_name("odcs-json-schema-v3.1.0.json")
OPERATORS = (
    "mustBe",
    "mustNotBe",
    "mustBeGreaterThan",
    "mustBeGreaterOrEqualTo",
    "mustBeLessThan",
    "mustBeLessOrEqualTo",
    "mustBeBetween",
    "mustNotBeBetween",
)


class ContractError(ProjectError):
    """A contract file is not valid ODCS v3, or asks for something assay cannot check."""


@cache
def _validator() -> Any:
    from jsonschema import Draft201909Validator

    return Draft201909Validator(json.loads(SCHEMA_FILE.read_text()))


def validate(document: Any, path: str) -> None:
    """Raise ContractError naming the path of the first offending key.

    Example:
        >>> try:
        ...     validate({"apiVersion": "v3.1.0"}, "c.yaml")
        ... except ContractError as err:
        ...     print(err.message)
        $: 'version' is a required property (and 3 more problem(s))
    """
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "$" + "".join(
            f"[{p}]" if isinstance(p, int) else f".{p}" for p in first.absolute_path
        )
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise ContractError(
            f"{where}: {first.message}{more}",
            where=path,
            hint="see https://bitol-io.github.io/open-data-contract-standard/",
        )


def load_contract_file(path: Path) -> list[Contract]:
    """Every contract a YAML file declares (one per schema object with a physicalName)."""
    where = str(path)
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ContractError(f"invalid YAML: {exc}", where=where) from exc
    validate(document, where)
    contracts = []
    for index, obj in enumerate(document.get("schema") or []):
        dataset = obj.get("physicalName")
        if not dataset:
            raise ContractError(
                f"$.schema[{index}] has no physicalName",
                where=where,
                hint="set physicalName to the dataset, e.g. silver.transactions",
            )
        contracts.append(_contract(document, obj, dataset, where))
    return contracts


def _contract(document: dict[str, Any], obj: dict[str, Any], dataset: str, where: str) -> Contract:
    columns = tuple(_column(p) for p in obj.get("properties") or [])
    quality: list[tuple[str | None, dict[str, Any]]] = [(None, q) for q in obj.get("quality") or []]
    for prop in obj.get("properties") or []:
        quality.extend((prop["name"], q) for q in prop.get("quality") or [])
    batch = [rule for column, q in quality if (rule := _quality_rule(column, q, where))]
    batch.extend(_sla_rules(document.get("slaProperties") or [], dataset, where))
    return Contract(
        dataset=dataset,
        path=where,
        columns=columns,
        row_rules=(),
        batch_rules=tuple(batch),
        raw={"quality": quality},
    )


def _column(prop: dict[str, Any]) -> Column:
    return Column(
        name=prop["name"],
        logical_type=prop.get("logicalType"),
        physical_type=prop.get("physicalType"),
        required=bool(prop.get("required") or prop.get("primaryKey")),
        unique=bool(prop.get("unique") or prop.get("primaryKey")),
        primary_key=bool(prop.get("primaryKey")),
        classification=prop.get("classification"),
        options=dict(prop.get("logicalTypeOptions") or {}),
    )


def threshold_of(item: dict[str, Any]) -> Threshold | None:
    for op in OPERATORS:
        if op in item:
            value = item[op]
            return Threshold(op, tuple(value) if isinstance(value, list) else value)
    return None


def is_row_level(item: dict[str, Any]) -> bool:
    """Library rules on a property with `mustBe: 0` (in rows) judge each row on its own."""
    threshold = threshold_of(item)
    return (
        item.get("metric") in ("nullValues", "missingValues", "invalidValues")
        and threshold is not None
        and threshold.operator == "mustBe"
        and threshold.value == 0
        and item.get("unit", "rows") == "rows"
    )


def _quality_rule(column: str | None, item: dict[str, Any], where: str) -> BatchRule | None:
    kind = item.get("type", "library")
    if kind == "text":
        return None  # prose for humans, nothing to execute
    if kind == "custom":
        raise ContractError(
            f"custom quality rules ({item.get('engine', 'unknown engine')}) are not run by assay",
            where=where,
            hint="express the rule as a library metric or a sql rule",
        )
    if kind == "library" and column is not None and is_row_level(item):
        return None  # compiled as a row rule from the column's quality list
    threshold = threshold_of(item)
    metric = "sql" if kind == "sql" else item.get("metric") or item.get("rule")
    if threshold is None:
        raise ContractError(f"quality rule {metric!r} has no mustBe... operator", where=where)
    name = item.get("name") or f"{metric}{'(' + column + ')' if column else ''}"
    return BatchRule(
        name=name,
        metric=str(metric),
        threshold=threshold,
        column=column,
        unit=item.get("unit", "" if kind == "sql" else "rows"),
        severity=Severity(item.get("severity", "error")),
        arguments=item.get("arguments") or {},
        query=item.get("query"),
    )


_UNITS = {
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "h": 3600,
    "hour": 3600,
    "hours": 3600,
    "m": 60,
    "min": 60,
    "minute": 60,
    "minutes": 60,
    "s": 1,
    "second": 1,
    "seconds": 1,
}


def _sla_rules(slas: list[dict[str, Any]], dataset: str, where: str) -> list[BatchRule]:
    rules = []
    for sla in slas:
        prop = str(sla.get("property", "")).lower()
        if prop not in ("freshness", "latency"):
            continue
        element = sla.get("element") or ""
        column = element.split(",")[0].strip().split(".")[-1] or None
        unit = str(sla.get("unit", "d")).lower()
        if unit not in _UNITS or column is None:
            raise ContractError(
                f"{prop} SLA needs an element (column) and a unit in {sorted(_UNITS)}", where=where
            )
        limit = float(sla["value"]) * _UNITS[unit]
        rules.append(
            BatchRule(
                name=f"{prop}({column})",
                metric=prop,
                column=column,
                unit="seconds",
                threshold=Threshold("mustBeLessOrEqualTo", limit),
                severity=Severity(sla.get("severity", "error"))
                if "severity" in sla
                else Severity.WARNING
                if prop == "latency"
                else Severity.ERROR,
            )
        )
    return rules
