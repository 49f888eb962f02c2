"""`assay contract infer`: a starting ODCS contract from a table's data: types (every Delta
type: decimals, binaries, timestamps with and without zone, arrays, maps, structs),
nullability, and, from samples large enough to say so, uniqueness, observed ranges and
accepted values. The contract is `status: draft`: its rules warn instead of block until
someone reviews it and sets `status: active`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pyarrow as pa
from sqlglot import exp

from assay.contracts.sql import SCALAR, col, count_where, kind, sql
from assay.engines import Engine, Source, TableRef
from assay.engines.types import arrow_to_sql

#: Text columns with at most this many distinct values get a validValues rule.
MAX_ACCEPTED_VALUES = 20
#: Fewer rows than this say nothing about uniqueness, ranges or accepted values.
MIN_SAMPLE = 1000

_LOGICAL = {
    "text": "string",
    "boolean": "boolean",
    "integer": "integer",
    "number": "number",
    "date": "date",
    "timestamp": "timestamp",
    "timestamptz": "timestamp",
    "time": "time",
    "list": "array",
    "struct": "object",
    "map": "object",
    "binary": "string",
}


def logical_type(dtype: pa.DataType) -> str:
    """The ODCS logicalType of an Arrow type.

    Example:
        >>> logical_type(pa.int64()), logical_type(pa.decimal128(10, 2)), logical_type(pa.string())
        ('integer', 'number', 'string')
    """
    return _LOGICAL.get(kind(dtype), "string")


def physical_type(dtype: pa.DataType) -> str:
    """The column's type as the warehouse stores it (SQL name, or Arrow's for nested ones)."""
    if kind(dtype) in SCALAR:
        return arrow_to_sql(dtype).lower()
    return str(dtype)


def infer_contract(
    engine: Engine, dataset: str, schema: pa.Schema, source: Source | None = None
) -> dict[str, Any]:
    """An ODCS v3.1 document describing `dataset` as it is now (`status: draft`).

    `source`: what to read (the reader's governed source, so a role's masks and row
    filters shape the values that go into the file); default: the table itself."""
    columns = [f for f in schema if not f.name.startswith("_")]
    table = source or TableRef(dataset)
    row = _statistics(engine, table, columns)
    rows = int(row["rows"] or 0)
    properties = [_property(engine, table, f, i, row, rows) for i, f in enumerate(columns)]
    name = dataset.replace(".", "_")
    sample = (
        f"{rows} rows were read"
        if rows >= MIN_SAMPLE
        else f"only {rows} rows were read (fewer than {MIN_SAMPLE}): no uniqueness, ranges "
        "or accepted values are claimed"
    )
    return {
        "apiVersion": "v3.1.0",
        "kind": "DataContract",
        "id": name,
        "name": name,
        "version": "0.1.0",
        "status": "draft",
        "description": {
            "purpose": f"Inferred by `assay contract infer` from {dataset}; {sample}.",
            "usage": "A draft: its rules warn instead of block. Review them (observed ranges "
            "are the data's, not the business's), then set status: active.",
        },
        "schema": [
            {
                "name": name.split("_", 1)[-1],
                "physicalName": dataset,
                "logicalType": "object",
                "physicalType": "table",
                "properties": properties,
                "quality": [{"metric": "rowCount", "mustBeGreaterThan": 0}],
            }
        ],
    }


def _statistics(engine: Engine, table: Source, columns: list[pa.Field]) -> dict[str, Any]:
    exprs: list[exp.Expr] = [exp.alias_(exp.Count(this=exp.Star()), "rows")]
    for i, f in enumerate(columns):
        c, column_kind = col(f.name), kind(f.type)
        exprs.append(exp.alias_(count_where(c.is_(exp.null())), f"n{i}"))
        if column_kind in SCALAR:
            exprs.append(exp.alias_(exp.Count(this=exp.Distinct(expressions=[c.copy()])), f"d{i}"))
        if column_kind in ("integer", "number"):
            exprs.append(exp.alias_(exp.Min(this=c.copy()), f"lo{i}"))
            exprs.append(exp.alias_(exp.Max(this=c.copy()), f"hi{i}"))
        if column_kind == "text":
            exprs.append(exp.alias_(exp.Max(this=exp.Length(this=c.copy())), f"len{i}"))
    query = sql(exp.select(*exprs).from_("t"))
    return dict(engine.query(query, {"t": table}).to_pylist()[0])


def _property(
    engine: Engine, table: Source, f: pa.Field, i: int, row: dict[str, Any], rows: int
) -> dict[str, Any]:
    prop: dict[str, Any] = {
        "name": f.name,
        "logicalType": logical_type(f.type),
        "physicalType": physical_type(f.type),
    }
    if rows and row[f"n{i}"] == 0:
        prop["required"] = True
    if rows < MIN_SAMPLE:
        return prop
    notes = []
    if row.get(f"d{i}") == rows:
        prop["unique"] = True
        notes.append(f"unique: no value repeats among the {rows} rows read")
    options: dict[str, Any] = {}
    if row.get(f"lo{i}") is not None:
        options = {"minimum": _plain(row[f"lo{i}"]), "maximum": _plain(row[f"hi{i}"])}
        notes.append(f"minimum and maximum: the range observed in {rows} rows; widen them")
    if row.get(f"len{i}") is not None:
        options = {"maxLength": int(row[f"len{i}"])}
        notes.append(f"maxLength: the longest value in {rows} rows")
        if 0 < (row.get(f"d{i}") or 0) <= MAX_ACCEPTED_VALUES:
            prop["quality"] = [_accepted_values(engine, table, f.name)]
            notes.append(f"validValues: the values seen in {rows} rows")
    if options:
        prop["logicalTypeOptions"] = options
    if notes:
        prop["description"] = "Inferred from data: " + "; ".join(notes) + "."
    return prop


def _accepted_values(engine: Engine, table: Source, column: str) -> dict[str, Any]:
    c = col(column)
    query = (
        exp.select(exp.alias_(c, "v"))
        .distinct()
        .from_("t")
        .where(c.copy().is_(exp.not_(exp.null())))
    )
    values = engine.query(sql(query.order_by("v")), {"t": table})["v"].to_pylist()
    return {"metric": "invalidValues", "arguments": {"validValues": values}, "mustBe": 0}


def _plain(value: Any) -> Any:
    """A bound as YAML writes it: a DECIMAL becomes an int or a float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
