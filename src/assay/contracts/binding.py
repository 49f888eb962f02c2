"""Bind contracts to a project's datasets. A schema object binds by its `physicalName`,
else by its `name`: to the dataset of exactly that name (`layer.name`), else to the one
dataset of that name in any layer (case-insensitively if need be); several or none is an
error naming the candidates. SQL rules and relationships bind the tables they name the
same way (an object of the same file first)."""

from __future__ import annotations

import difflib
from collections.abc import Collection
from dataclasses import replace
from functools import partial

from assay.contracts.errors import ContractError
from assay.contracts.model import BatchRule, Contract, ForeignKey
from assay.contracts.sqlrules import bind_query


def resolve_dataset(name: str, datasets: Collection[str], what: str, where: str) -> str:
    """The dataset `name` denotes.

    Example:
        >>> resolve_dataset("orders", ["bronze.orders", "gold.totals"], "object", "c.yaml")
        'bronze.orders'
    """
    if name in datasets:
        return name
    lower = name.lower()
    for matches in (
        [d for d in datasets if _short(d) == name],
        [d for d in datasets if d.lower() == lower],
        [d for d in datasets if _short(d).lower() == lower],
    ):
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise ContractError(
                f"{what}: {name!r} matches several datasets: {', '.join(sorted(matches))}",
                where=where,
                hint="set physicalName to the one meant, as layer.name",
            )
    names = sorted(datasets)
    close = difflib.get_close_matches(
        lower, [d.lower() for d in names] + [_short(d).lower() for d in names], n=3, cutoff=0.6
    )
    guess = f"did you mean {', '.join(close)}? " if close else ""
    raise ContractError(
        f"{what}: {name!r} is not a dataset of this project",
        where=where,
        hint=f"{guess}datasets: {', '.join(names) or 'none'}; set physicalName to one of them",
    )


def _short(dataset: str) -> str:
    return dataset.split(".", 1)[-1]


def bind_file(contracts: list[Contract], datasets: Collection[str]) -> list[Contract]:
    """The contracts of one file, bound to `datasets` with their SQL rules and relationships."""
    bound = [
        replace(c, dataset=resolve_dataset(c.dataset, datasets, _what(c), c.path))
        for c in contracts
    ]
    objects: dict[str, Contract] = {}
    for c in bound:
        for key in (c.object_name, c.raw.get("physicalName"), c.raw.get("id")):
            if key:
                objects.setdefault(str(key).lower(), c)
    return [_bind_rules(c, objects, datasets) for c in bound]


def _what(contract: Contract) -> str:
    if contract.object_name:
        return f"schema object {contract.object_name!r}"
    return "SLA element"


def _bind_rules(
    contract: Contract, objects: dict[str, Contract], datasets: Collection[str]
) -> Contract:
    where = f"{contract.path} ({contract.object_name or contract.dataset})"

    def own(name: str) -> bool:
        names = {contract.object_name, contract.raw.get("physicalName"), contract.dataset}
        return name in {str(n).lower() for n in names if n}

    def table(name: str, rule: str) -> str:
        other = objects.get(name)
        if other is not None:
            return other.dataset
        return resolve_dataset(name, datasets, f"rule {rule!r} reads a table", where)

    rules: list[BatchRule] = []
    for rule in contract.batch_rules:
        if rule.query is not None:
            query = bind_query(rule.query, own, partial(table, rule=rule.name))
            rules.append(replace(rule, query=query))
        elif rule.foreign_key is not None:
            rules.append(replace(rule, foreign_key=_bind_key(rule, objects, datasets, where)))
        else:
            rules.append(rule)
    return replace(contract, batch_rules=tuple(rules))


def _bind_key(
    rule: BatchRule, objects: dict[str, Contract], datasets: Collection[str], where: str
) -> ForeignKey:
    key = rule.foreign_key
    assert key is not None
    other = objects.get(key.target.lower())
    if other is None:
        dataset = resolve_dataset(key.target, datasets, f"{rule.name}: `to`", where)
        return replace(key, target=dataset)
    props = other.raw.get("props", {})
    missing = [p for p in key.target_columns if p not in props]
    if missing and other.columns:
        raise ContractError(
            f"{rule.name}: {other.object_name!r} has no property {missing[0]!r}",
            where=where,
            hint=f"its properties: {', '.join(props)}",
        )
    columns = tuple(str(props.get(p, p)) for p in key.target_columns)
    return ForeignKey(key.columns, other.dataset, columns)
