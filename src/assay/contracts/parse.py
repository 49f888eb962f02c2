"""Turn a validated ODCS document into assay contracts: one per schema object, with its
columns (property `physicalName`s honoured), its primary key as one tuple, its quality
rules (checked for what assay can run: metrics, operators, patterns, SQL syntax), its
relationships and the SLAs whose `element` names it."""

from __future__ import annotations

from typing import Any

from assay.contracts.errors import ContractError
from assay.contracts.model import (
    BatchRule,
    Column,
    Contract,
    NotRun,
    Threshold,
)
from assay.contracts.patterns import check_pattern
from assay.contracts.quality import ROW_METRICS, is_row_level, severity_of, threshold_of
from assay.contracts.relations import object_relationships
from assay.contracts.sla import sla_rules
from assay.contracts.sqlrules import parse_query

#: Library metrics, and whether each is measured on a property (True) or the object.
METRICS = {
    "nullValues": True,
    "missingValues": True,
    "invalidValues": True,
    "duplicateValues": None,  # either: on the object it needs arguments.properties
    "rowCount": False,
}


def parse_document(document: dict[str, Any], where: str) -> list[Contract]:
    """The contracts of a validated ODCS document (unbound: `dataset` is the object's
    physicalName or name)."""
    status = str(document.get("status") or "active")
    objects = list(document.get("schema") or [])
    contracts = [_contract(obj, i, status, where) for i, obj in enumerate(objects)]
    contracts = object_relationships(objects, contracts, where)
    return sla_rules(document.get("slaProperties") or [], contracts, status, where)


def _contract(obj: dict[str, Any], index: int, status: str, where: str) -> Contract:
    name = str(obj.get("name") or "")
    at = f"{where} $.schema[{index}] ({name})"
    props = [p for p in obj.get("properties") or [] if isinstance(p, dict)]
    columns = tuple(_column(p) for p in props)
    column_of = {c.prop: c.name for c in columns}
    for c in columns:
        if "pattern" in c.options:
            check_pattern(c.options["pattern"], f"pattern({c.name})", at)
    quality: list[tuple[str | None, dict[str, Any]]] = [(None, q) for q in obj.get("quality") or []]
    for prop in props:
        quality.extend((column_of[prop["name"]], q) for q in prop.get("quality") or [])
    batch: list[BatchRule] = []
    not_run: list[NotRun] = []
    row_items: list[tuple[str, dict[str, Any]]] = []
    names: set[str] = set()
    for column, item in quality:
        rule_name = _unique_name(item, column, names)
        item = {**item, "name": rule_name}
        kind = item.get("type") or ("library" if item.get("metric") or item.get("rule") else "")
        if kind == "text":
            continue  # prose for humans, nothing to execute
        if kind == "custom":
            engine = item.get("engine") or "an unnamed engine"
            not_run.append(NotRun(rule_name, f"custom rule for {engine}: not run by assay"))
            continue
        if kind == "library" and column is not None and is_row_level(item):
            _check_row_item(item, column, at)
            row_items.append((column, item))
            continue
        batch.append(_batch_rule(kind, column, item, column_of, status, at))
    return Contract(
        dataset=str(obj.get("physicalName") or name),
        path=where,
        columns=columns,
        row_rules=(),
        batch_rules=tuple(batch),
        object_name=name,
        status=status,
        not_run=tuple(not_run),
        primary_key=_primary_key(columns),
        raw={
            "quality": row_items,
            "id": obj.get("id"),
            "physicalName": obj.get("physicalName"),
            "props": column_of,
            "prop_ids": {p["id"]: p["name"] for p in props if p.get("id")},
        },
    )


def _unique_name(item: dict[str, Any], column: str | None, taken: set[str]) -> str:
    metric = item.get("metric") or item.get("rule") or item.get("type") or "rule"
    base = str(item.get("name") or item.get("id") or f"{metric}{f'({column})' if column else ''}")
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}#{n}"
    taken.add(name)
    return name


def _column(prop: dict[str, Any]) -> Column:
    position = prop.get("primaryKeyPosition")
    return Column(
        name=str(prop.get("physicalName") or prop["name"]),
        prop=str(prop["name"]),
        logical_type=prop.get("logicalType"),
        physical_type=prop.get("physicalType"),
        # A primary key column holds no nulls (as in SQL).
        required=bool(prop.get("required") or prop.get("primaryKey")),
        unique=bool(prop.get("unique")),
        primary_key=bool(prop.get("primaryKey")),
        key_position=int(position) if isinstance(position, int) else -1,
        classification=prop.get("classification"),
        options=dict(prop.get("logicalTypeOptions") or {}),
    )


def _primary_key(columns: tuple[Column, ...]) -> tuple[str, ...]:
    """The key's columns in primaryKeyPosition order (declaration order breaks ties)."""
    keyed = [
        (c.key_position if c.key_position > 0 else 10**9, i, c.name)
        for i, c in enumerate(columns)
        if c.primary_key
    ]
    return tuple(name for _, _, name in sorted(keyed))


def _check_row_item(item: dict[str, Any], column: str, at: str) -> None:
    args = item.get("arguments") or {}
    metric = item.get("metric") or item.get("rule")
    severity_of(item.get("severity"), "active", item["name"], at)
    if metric == "invalidValues":
        _check_invalid_arguments(item["name"], args, at)
    if metric == "missingValues" and not isinstance(args.get("missingValues", []), list):
        raise ContractError(f"rule {item['name']!r}: missingValues must be a list", where=at)


def _check_invalid_arguments(rule: str, args: dict[str, Any], at: str) -> None:
    if not any(k in args for k in ("validValues", "invalidValues", "pattern")):
        raise ContractError(
            f"rule {rule!r}: invalidValues needs arguments.validValues, invalidValues or pattern",
            where=at,
        )
    for key in ("validValues", "invalidValues"):
        if key in args and not isinstance(args[key], list):
            raise ContractError(f"rule {rule!r}: arguments.{key} must be a list", where=at)
    if "pattern" in args:
        check_pattern(args["pattern"], rule, at)


def _batch_rule(
    kind: str,
    column: str | None,
    item: dict[str, Any],
    column_of: dict[str, str],
    status: str,
    at: str,
) -> BatchRule:
    name = item["name"]
    threshold = threshold_of(item)
    if threshold is None:
        raise ContractError(
            f"rule {name!r} has no operator",
            where=at,
            hint="add one of mustBe, mustBeLessThan, mustBeBetween, ... (ODCS data quality)",
        )
    _check_threshold(name, threshold, at)
    severity = severity_of(item.get("severity"), status, name, at)
    if kind == "sql":
        if not item.get("query"):
            raise ContractError(f"sql rule {name!r} has no query", where=at)
        query = parse_query(str(item["query"]), name, at, column is not None)
        return BatchRule(name, "sql", threshold, column, item.get("unit", ""), severity, {}, query)
    if kind != "library":
        raise ContractError(f"rule {name!r}: unknown type {kind!r}", where=at)
    metric = str(item.get("metric") or item.get("rule"))
    args = dict(item.get("arguments") or {})
    columns = _metric_columns(name, metric, column, args, column_of, at)
    unit = str(item.get("unit", "rows"))
    if unit not in ("rows", "percent"):
        raise ContractError(f"rule {name!r}: unit {unit!r} is not rows or percent", where=at)
    return BatchRule(name, metric, threshold, column, unit, severity, args, None, columns)


def _metric_columns(
    name: str,
    metric: str,
    column: str | None,
    args: dict[str, Any],
    column_of: dict[str, str],
    at: str,
) -> tuple[str, ...]:
    """Check the metric exists at this level; the key columns of a duplicateValues rule."""
    if metric not in METRICS:
        raise ContractError(
            f"rule {name!r}: unknown metric {metric!r}",
            where=at,
            hint=f"library metrics: {', '.join(METRICS)}",
        )
    if metric == "invalidValues":
        _check_invalid_arguments(name, args, at)
    on_property = METRICS[metric]
    if column is None and on_property:
        raise ContractError(
            f"rule {name!r}: {metric} is a property-level metric, stated on the object",
            where=at,
            hint="move the rule into the quality list of the property it measures",
        )
    if metric != "duplicateValues" or column is not None:
        return (column,) if column else ()
    keys = args.get("properties")
    if not isinstance(keys, list) or not keys:
        raise ContractError(
            f"rule {name!r}: duplicateValues on an object needs arguments.properties",
            where=at,
            hint="list the key properties, e.g. properties: [tenant_id, order_id]",
        )
    return tuple(column_of.get(str(k), str(k)) for k in keys)


def _check_threshold(name: str, threshold: Threshold, at: str) -> None:
    for op, value in threshold.conditions:
        pair = op in ("mustBeBetween", "mustNotBeBetween")
        values = value if pair else (value,)
        if pair and (not isinstance(value, tuple) or len(value) != 2):
            raise ContractError(f"rule {name!r}: {op} takes [low, high]", where=at)
        if not all(isinstance(v, int | float) for v in values):
            raise ContractError(f"rule {name!r}: {op} compares with a number", where=at)


__all__ = ["METRICS", "ROW_METRICS", "parse_document", "severity_of"]
