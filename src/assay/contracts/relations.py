"""`relationships` (ODCS 3.1 references): foreign keys as batch rules that count the rows
whose key has no match in the referenced object. References use the shorthand
`object.property` or the fully qualified `schema/<id>/properties/<id>`; references into
other contracts (URLs, `file#...`) and nested properties are reported as not run.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from assay.contracts.errors import ContractError
from assay.contracts.model import (
    DRAFT_STATUSES,
    BatchRule,
    Contract,
    ForeignKey,
    NotRun,
    Severity,
    Threshold,
)

#: A reference assay cannot follow: why.
Skip = str


def object_relationships(
    objects: list[dict[str, Any]], contracts: list[Contract], where: str
) -> list[Contract]:
    """`contracts` (one per object, in order) with their relationships as rules."""
    ids = {str(o["id"]): o for o in objects if isinstance(o, dict) and o.get("id")}
    out = []
    for index, (obj, contract) in enumerate(zip(objects, contracts, strict=True)):
        at = f"{where} $.schema[{index}] ({contract.object_name})"
        pairs: list[tuple[Any, Any, dict[str, Any]]] = []
        for rel in obj.get("relationships") or []:
            if "from" not in rel:
                raise ContractError(
                    "a schema-level relationship needs `from`",
                    where=at,
                    hint="name this object's properties, e.g. from: orders.customer_id",
                )
            pairs.append((rel["from"], rel.get("to"), rel))
        for prop in obj.get("properties") or []:
            for rel in prop.get("relationships") or []:
                if "from" in rel:
                    raise ContractError(
                        f"property {prop['name']!r}: `from` is implicit in a property's "
                        "relationship and must not be given",
                        where=at,
                    )
                pairs.append((f"{contract.object_name}.{prop['name']}", rel.get("to"), rel))
        out.append(_with_rules(contract, pairs, obj, ids, at))
    return out


def _with_rules(
    contract: Contract,
    pairs: list[tuple[Any, Any, dict[str, Any]]],
    obj: dict[str, Any],
    ids: dict[str, dict[str, Any]],
    at: str,
) -> Contract:
    rules, skipped = [], []
    for source, target, rel in pairs:
        kind = rel.get("type") or "foreignKey"
        name = f"foreignKey({_text(source)} -> {_text(target)})"
        if kind != "foreignKey":
            skipped.append(NotRun(name, f"relationship type {kind!r} is not checked by assay"))
            continue
        sources, targets = _as_lists(source, target, at)
        refs = [_reference(r, ids) for r in [*sources, *targets]]
        reason = next((r for r in refs if isinstance(r, str)), None)
        if reason is not None:
            skipped.append(NotRun(name, reason))
            continue
        pairs_of = [r for r in refs if not isinstance(r, str)]
        from_refs, to_refs = pairs_of[: len(sources)], pairs_of[len(sources) :]
        columns = tuple(_own_column(r, contract, obj, at) for r in from_refs)
        objects = {r[0] for r in to_refs}
        if len(objects) != 1:
            raise ContractError(f"{name}: `to` names several objects", where=at)
        draft = contract.status.lower() in DRAFT_STATUSES
        key = ForeignKey(columns, objects.pop(), tuple(r[1] for r in to_refs))
        rules.append(
            BatchRule(
                name,
                "foreignKey",
                Threshold.of("mustBe", 0),
                None,
                "rows",
                Severity.WARNING if draft else Severity.ERROR,
                foreign_key=key,
            )
        )
    return replace(
        contract,
        batch_rules=(*contract.batch_rules, *rules),
        not_run=(*contract.not_run, *skipped),
    )


def _text(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def _as_lists(source: Any, target: Any, at: str) -> tuple[list[str], list[str]]:
    if target is None:
        raise ContractError("a relationship needs `to`", where=at)
    if isinstance(source, list) != isinstance(target, list):
        raise ContractError(
            f"relationship {_text(source)} -> {_text(target)}: `from` and `to` must both be "
            "a reference or both lists (composite keys)",
            where=at,
        )
    sources = source if isinstance(source, list) else [source]
    targets = target if isinstance(target, list) else [target]
    if len(sources) != len(targets) or not sources:
        raise ContractError(
            f"relationship {_text(source)} -> {_text(target)}: `from` has {len(sources)} "
            f"properties and `to` {len(targets)}",
            where=at,
            hint="a composite key lists the same number of properties on both sides",
        )
    return [str(s) for s in sources], [str(t) for t in targets]


def _reference(ref: str, ids: dict[str, dict[str, Any]]) -> tuple[str, str] | Skip:
    """(object name, property name), or why the reference is not followed."""
    if "#" in ref or "://" in ref:
        return f"{ref} refers to another contract: not checked by assay"
    if ref.startswith("schema/"):
        parts = ref.split("/")
        if len(parts) != 4 or parts[2] != "properties":
            return f"{ref} is not a schema/<id>/properties/<id> reference to a column"
        obj = ids.get(parts[1])
        props = {str(p.get("id")): p for p in (obj or {}).get("properties") or []}
        if obj is None or parts[3] not in props:
            return f"{ref} names no object and property of this contract by id"
        return str(obj["name"]), str(props[parts[3]]["name"])
    obj_name, dot, prop = ref.rpartition(".")
    if not dot or not obj_name or not prop:
        return f"{ref} is not an object.property reference"
    return obj_name, prop


def _own_column(ref: tuple[str, str], contract: Contract, obj: dict[str, Any], at: str) -> str:
    names = {contract.object_name, str(obj.get("physicalName") or ""), str(obj.get("id") or "")}
    if ref[0] not in names:
        raise ContractError(
            f"relationship `from` {ref[0]}.{ref[1]} names another object than "
            f"{contract.object_name!r}",
            where=at,
            hint="state a relationship on the object whose rows hold the foreign key",
        )
    column = contract.raw["props"].get(ref[1])
    if column is None:
        raise ContractError(
            f"relationship `from` names property {ref[1]!r}, which {contract.object_name!r} "
            "does not have",
            where=at,
        )
    return str(column)
