"""DuckDB-dialect SQL to Spark SQL: what translates, and clear errors for what does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.engines.translate import translate
from assay.errors import DefinitionError
from assay.pipelines.sqlfile import load_sql_file
from assay.pipelines.transforms import SqlTransform, render_sql

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fraud" / "pipelines"


@pytest.mark.parametrize(
    ("duckdb", "spark"),
    [
        ("SELECT a FROM t GROUP BY ALL", "SELECT a FROM t GROUP BY ALL"),
        ("SELECT * EXCLUDE (a) FROM t", "SELECT * EXCEPT (a) FROM t"),
        ("SELECT TIMESTAMP '2026-01-01'", "SELECT CAST('2026-01-01' AS TIMESTAMP_NTZ)"),
        # DuckDB's date_trunc keeps a naive TIMESTAMP; Spark's would return a zoned one.
        ("SELECT date_trunc('day', t) FROM x",
         "SELECT CAST(DATE_TRUNC('DAY', t) AS TIMESTAMP_NTZ) FROM x"),
        ("SELECT arg_max(a, b) FROM t", "SELECT MAX_BY(a, b) FROM t"),
        # QUALIFY becomes a filtered subquery; `*` must not pick up its helper column.
        ("SELECT * FROM t QUALIFY row_number() OVER (ORDER BY a) = 1",
         "SELECT * EXCEPT (_w) FROM (SELECT *, ROW_NUMBER() OVER (ORDER BY a NULLS LAST) = 1 AS _w "
         "FROM t) AS _t WHERE _w"),
        ("SELECT count(*) FILTER (WHERE a) FROM t", "SELECT COUNT(*) FILTER(WHERE a) FROM t"),
    ],
)  # fmt: skip
def test_constructs_both_engines_know_translate(duckdb: str, spark: str) -> None:
    assert translate(duckdb, "spark") == spark


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT my_macro(a) FROM t", "my_macro() is not known outside DuckDB"),
        ("SELECT a FROM t ASOF JOIN u ON t.a >= u.a", "Spark SQL has no ASOF JOIN"),
        ("SELECT * REPLACE (1 AS a) FROM t", "Spark SQL has no SELECT * REPLACE"),
        ("SELECT a::UBIGINT FROM t", "Spark SQL has no type UBIGINT"),
        ("SELECT FROM WHERE (", "cannot parse the SQL as DuckDB SQL"),
    ],
)
def test_untranslatable_sql_is_named_with_its_file(sql: str, message: str) -> None:
    with pytest.raises(DefinitionError, match="cannot") as info:
        translate(sql, "spark", where="pipelines/gold.sql")
    assert message in info.value.message
    assert info.value.where == "pipelines/gold.sql"
    assert info.value.hint


def test_duckdb_to_duckdb_checks_only_the_syntax() -> None:
    assert translate("SELECT my_macro(a) FROM t", "duckdb") == "SELECT MY_MACRO(a) FROM t"


@pytest.mark.parametrize("path", sorted(EXAMPLE.glob("*.sql")), ids=lambda p: p.name)
def test_the_demo_sql_translates(path: Path) -> None:
    spec = load_sql_file(path)
    assert isinstance(spec.producer, SqlTransform)
    values = {"start": "2026-01-01 00:00:00", "end": "2026-01-02 00:00:00", "vars": {}}
    spark = translate(render_sql(spec.producer.sql, values, spec.where), "spark")
    assert "QUALIFY" not in spark.upper()  # rewritten as a filtered subquery
