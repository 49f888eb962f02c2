"""Mapping between Arrow types, SQL type names and JSON value types, for schema checks."""

from __future__ import annotations

import pyarrow as pa

INTEGRAL = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UBIGINT"}
NUMERIC = INTEGRAL | {"DOUBLE", "FLOAT", "REAL"}

_JSON_TO_SQL = {
    "UBIGINT": "BIGINT",
    "BIGINT": "BIGINT",
    "DOUBLE": "DOUBLE",
    "BOOLEAN": "BOOLEAN",
    "VARCHAR": "VARCHAR",
    "OBJECT": "JSON",
    "ARRAY": "JSON",
}


def arrow_to_sql(dtype: pa.DataType) -> str:
    """The DuckDB SQL type that holds an Arrow type.

    Example:
        >>> arrow_to_sql(pa.timestamp("us"))
        'TIMESTAMP'
    """
    if pa.types.is_boolean(dtype):
        return "BOOLEAN"
    if pa.types.is_integer(dtype):
        return {8: "TINYINT", 16: "SMALLINT", 32: "INTEGER"}.get(dtype.bit_width, "BIGINT")
    if pa.types.is_floating(dtype):
        return "DOUBLE" if dtype.bit_width == 64 else "FLOAT"
    if pa.types.is_decimal(dtype):
        return f"DECIMAL({dtype.precision},{dtype.scale})"
    if pa.types.is_timestamp(dtype):
        return "TIMESTAMPTZ" if dtype.tz else "TIMESTAMP"
    if pa.types.is_date(dtype):
        return "DATE"
    return "VARCHAR"


def json_types_to_sql(counts: dict[str, int]) -> str:
    """Pick the SQL type of a JSON field from how often each JSON type was seen.

    Numbers win as DOUBLE if any value had a fraction; otherwise the most common type wins.

    Example:
        >>> json_types_to_sql({"UBIGINT": 90, "DOUBLE": 5, "VARCHAR": 2})
        'DOUBLE'
    """
    families: dict[str, int] = {}
    for json_type, n in counts.items():
        if json_type == "NULL":
            continue
        sql = _JSON_TO_SQL.get(json_type, "VARCHAR")
        family = "NUMBER" if sql in NUMERIC else sql
        families[family] = families.get(family, 0) + n
    if not families:
        return "VARCHAR"
    dominant = max(sorted(families), key=lambda f: families[f])
    if dominant == "NUMBER":
        return "DOUBLE" if counts.get("DOUBLE") else "BIGINT"
    return dominant


def compatible(observed: str, target: str) -> bool:
    """Whether values observed as `observed` may be stored in a `target` column.

    Strings are cast value by value (bad values are quarantined); other types must match
    or widen safely.

    Example:
        >>> compatible("BIGINT", "DOUBLE"), compatible("DOUBLE", "BIGINT")
        (True, False)
    """
    if observed == target or target == "VARCHAR" or observed == "VARCHAR":
        return True
    if observed in INTEGRAL and target in NUMERIC:
        return True
    if observed == "FLOAT" and target == "DOUBLE":
        return True
    return observed in {"DATE", "TIMESTAMP"} and target in {"TIMESTAMP", "TIMESTAMPTZ"}


def storage_type(observed: str) -> str:
    """The column type a newly seen field gets: nested JSON is stored as its text.

    Example:
        >>> storage_type("JSON"), storage_type("BIGINT")
        ('VARCHAR', 'BIGINT')
    """
    return "VARCHAR" if observed == "JSON" else observed


def widens(observed: str, target: str) -> bool:
    """Whether storing `observed` values means widening a `target` column's type.

    Example:
        >>> widens("DOUBLE", "BIGINT"), widens("VARCHAR", "BIGINT")
        (True, False)
    """
    if target in INTEGRAL and observed in ("DOUBLE", "FLOAT"):
        return True
    return (target, observed) in {("FLOAT", "DOUBLE"), ("DATE", "TIMESTAMP")}
