"""Contract SQL is written once (DuckDB dialect) and transpiles to Spark SQL via sqlglot."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
import sqlglot

from assay.contracts.compile import (
    compile_contract,
    flag_expression,
    metric_expression,
    row_pass_sql,
)
from assay.contracts.measure import profile_expressions
from assay.contracts.odcs import load_contract_file
from assay.contracts.sql import sql as render
from assay.naming import quote as q

FRAUD = Path(__file__).resolve().parents[2] / "examples" / "fraud" / "contracts"
SCHEMA = pa.schema(
    [
        ("transaction_id", pa.string()),
        ("event_time", pa.timestamp("us")),
        ("amount", pa.float64()),
        ("currency", pa.string()),
        ("card_number", pa.string()),
        ("ip_address", pa.string()),
        ("card_id", pa.int64()),
        ("customer_id", pa.int64()),
        ("merchant_id", pa.int64()),
        ("device_id", pa.string()),
        ("email", pa.string()),
    ]
)


@pytest.mark.parametrize("path", sorted(FRAUD.glob("*.yaml")), ids=lambda p: p.name)
def test_compiled_contract_sql_transpiles_to_spark(path: Path) -> None:
    for contract in load_contract_file(path):
        compiled = compile_contract(contract, SCHEMA)
        exprs = [metric_expression(r) for r in compiled.batch_rules]
        exprs += [flag_expression(r) for r in compiled.row_rules]
        exprs += list(profile_expressions(SCHEMA).values())
        statements = [
            row_pass_sql(compiled.row_rules, "batch"),
            "SELECT "
            + ", ".join(f"{render(e)} AS {q(str(i))}" for i, e in enumerate(exprs) if e)
            + " FROM batch",
        ]
        for sql in statements:
            spark = sqlglot.transpile(
                sql, read="duckdb", write="spark", unsupported_level=sqlglot.ErrorLevel.RAISE
            )[0]
            assert "REGEXP_FULL_MATCH" not in spark.upper()
            sqlglot.parse_one(spark, read="spark")  # and Spark's parser accepts it back
