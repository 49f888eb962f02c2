"""logicalTypeOptions of arrays (minItems, maxItems, uniqueItems: list columns) and
objects (required, minProperties, maxProperties: struct columns, or JSON text)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from sqlglot import exp

from assay import sqlbuild
from assay.contracts.errors import ContractError
from assay.contracts.sql import any_of, col, lit

_ARRAY = ("minItems", "maxItems", "uniqueItems")


def collection_violation(
    option: str, bound: Any, name: str, column_kind: str, dtype: pa.DataType, where: str
) -> tuple[exp.Expr, str] | None:
    """(condition true for a breaking row, reason) for one array or object option."""
    if option in _ARRAY:
        if column_kind != "list":
            raise ContractError(
                f"{option}({name}): the column is {column_kind}, not an array (list)",
                where=where,
                hint="array options apply to list columns",
            )
        return _array(option, bound, name)
    if column_kind == "struct":
        keys = [f.name for f in dtype]
        present: list[exp.Expr] = [
            exp.Dot(this=col(name), expression=sqlbuild.identifier(k)) for k in keys
        ]
        return _object(
            option, bound, name, _struct_count(present), lambda k: _struct_has(name, keys, k)
        )
    if column_kind == "text":
        keys_expr = exp.func("json_keys", col(name))
        count = exp.ArraySize(this=keys_expr)
        return _object(
            option,
            bound,
            name,
            count,
            lambda k: exp.ArrayContains(this=keys_expr.copy(), expression=lit(k)),
        )
    raise ContractError(
        f"{option}({name}): the column is {column_kind}, not an object",
        where=where,
        hint="object options apply to struct columns or JSON text",
    )


def _array(option: str, bound: Any, name: str) -> tuple[exp.Expr, str] | None:
    size = exp.ArraySize(this=col(name))
    if option == "minItems":
        return exp.LT(this=size, expression=lit(int(bound))), f"{name} has fewer than {bound} items"
    if option == "maxItems":
        return exp.GT(this=size, expression=lit(int(bound))), f"{name} has more than {bound} items"
    if not bound:
        return None
    # Null items are left out on both sides (DuckDB's list_distinct drops them).
    items = exp.func(
        "list_filter",
        col(name),
        exp.Lambda(
            this=exp.column("x").is_(exp.not_(exp.null())), expressions=[exp.to_identifier("x")]
        ),
    )
    distinct = exp.ArraySize(this=exp.ArrayDistinct(this=items.copy()))
    return exp.LT(this=distinct, expression=exp.ArraySize(this=items)), f"{name} has repeated items"


def _object(option: str, bound: Any, name: str, count: exp.Expr, has: Any) -> tuple[exp.Expr, str]:
    if option == "minProperties":
        return exp.LT(
            this=count, expression=lit(int(bound))
        ), f"{name} has fewer than {bound} properties"
    if option == "maxProperties":
        return exp.GT(
            this=count, expression=lit(int(bound))
        ), f"{name} has more than {bound} properties"
    required = [str(k) for k in (bound or [])]
    lacking = any_of([exp.not_(exp.func("coalesce", has(k), exp.false())) for k in required])
    return lacking, f"{name} lacks a required property of {', '.join(required)}"


def _struct_count(fields: list[exp.Expr]) -> exp.Expr:
    """How many of a struct's fields are set (not null)."""
    total: exp.Expr = lit(0)
    for f in fields:
        one = exp.Case(ifs=[exp.If(this=f.is_(exp.not_(exp.null())), true=lit(1))], default=lit(0))
        total = exp.Add(this=total, expression=one)
    return total


def _struct_has(name: str, keys: list[str], key: str) -> exp.Expr:
    if key not in keys:
        return exp.false()
    field = exp.Dot(this=col(name), expression=sqlbuild.identifier(key))
    return field.is_(exp.not_(exp.null()))
