"""`assay contract infer`: a starting ODCS contract from a table's data: types, nullability,
observed ranges and, for low-cardinality text columns, the accepted values."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from assay.contracts.compile import q
from assay.engines import Engine, TableRef
from assay.engines.types import NUMERIC, arrow_to_sql

#: Text columns with at most this many distinct values get a validValues rule.
MAX_ACCEPTED_VALUES = 20

_LOGICAL = {
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMPTZ": "timestamp",
    "VARCHAR": "string",
}


def logical_type(dtype: pa.DataType) -> str:
    """The ODCS logicalType of an Arrow type.

    Example:
        >>> logical_type(pa.int64()), logical_type(pa.float64()), logical_type(pa.string())
        ('integer', 'number', 'string')
    """
    sql = arrow_to_sql(dtype)
    if sql in NUMERIC:
        return "integer" if pa.types.is_integer(dtype) else "number"
    return _LOGICAL.get(sql, "string")


def infer_contract(engine: Engine, dataset: str, schema: pa.Schema) -> dict[str, Any]:
    """An ODCS v3.1 document describing `dataset` as it is now."""
    columns = [f for f in schema if not f.name.startswith("_")]
    exprs = ["count(*) AS rows"]
    for i, f in enumerate(columns):
        c = q(f.name)
        exprs.append(f"count(*) FILTER (WHERE {c} IS NULL) AS n{i}")
        exprs.append(f"count(DISTINCT {c}) AS d{i}")
        if logical_type(f.type) in ("integer", "number"):
            exprs.append(f"min({c}) AS lo{i}, max({c}) AS hi{i}")
        if logical_type(f.type) == "string":
            exprs.append(f"max(length({c})) AS len{i}")
    stats = engine.query(f"SELECT {', '.join(exprs)} FROM t", {"t": TableRef(dataset)})
    row = stats.to_pylist()[0]
    properties = []
    for i, f in enumerate(columns):
        prop: dict[str, Any] = {
            "name": f.name,
            "logicalType": logical_type(f.type),
            "physicalType": arrow_to_sql(f.type).lower(),
        }
        if row["rows"] and row[f"n{i}"] == 0:
            prop["required"] = True
        if row["rows"] and row[f"d{i}"] == row["rows"]:
            prop["unique"] = True
        if f"lo{i}" in row and row[f"lo{i}"] is not None:
            prop["logicalTypeOptions"] = {"minimum": row[f"lo{i}"], "maximum": row[f"hi{i}"]}
        if f"len{i}" in row and row[f"len{i}"] is not None:
            prop["logicalTypeOptions"] = {"maxLength": int(row[f"len{i}"])}
            if 0 < row[f"d{i}"] <= MAX_ACCEPTED_VALUES and row["rows"] >= 50:
                values = engine.query(
                    f"SELECT DISTINCT {q(f.name)} AS v FROM t WHERE {q(f.name)} IS NOT NULL "
                    "ORDER BY 1",
                    {"t": TableRef(dataset)},
                )["v"].to_pylist()
                prop["quality"] = [
                    {"metric": "invalidValues", "arguments": {"validValues": values}, "mustBe": 0}
                ]
        properties.append(prop)
    name = dataset.replace(".", "_")
    return {
        "apiVersion": "v3.1.0",
        "kind": "DataContract",
        "id": name,
        "name": name,
        "version": "0.1.0",
        "status": "draft",
        "description": {
            "purpose": f"Inferred by `assay contract infer` from {dataset}; "
            "review before relying on it."
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
