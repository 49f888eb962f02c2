"""The Spark engine's own behaviour: SQL translation errors, Python transforms that declare
their engines, settings and local defaults, and clear errors when Java or pyspark is missing.
(Pipelines, contracts and training sets run on Spark through the engine-generic tests.)"""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pytest

import assay
from assay.engines import TableRef, get_engine
from assay.engines.spark import session
from assay.errors import AssayError, UsageError
from assay.tables import Warehouse, WriteMode
from tests.conftest import MakeProject
from tests.helpers import EVENTS_INGEST, event, jsonl, rows

pytestmark = pytest.mark.usefixtures("spark_jars")

DATA = jsonl(event(i, i % 3, float(i), f"2026-01-0{1 + i % 3} 10:00:00") for i in range(12))


def spark_project(make_project: MakeProject, files: dict[str, str], **config: object) -> Path:
    return make_project(
        {"pipelines/ingest.py": EVENTS_INGEST, "data/events/a.jsonl": DATA, **files},
        {"engine": "spark", **config},
    )


def test_untranslatable_sql_names_the_dataset_and_the_construct(make_project: MakeProject) -> None:
    sql = "-- name: silver.odd\nSELECT my_udf(amount) AS x FROM {{ ref('bronze.events') }}\n"
    project = assay.Project(spark_project(make_project, {"pipelines/odd.sql": sql}))

    result = project.run()

    failed = result.result("silver.odd")
    assert failed.status == "failed"
    assert "odd.sql" in (failed.error or "")
    assert "cannot translate to spark: my_udf() is not known outside DuckDB" in (failed.error or "")
    assert result.result("bronze.events").status == "success"  # the rest of the run went on


def test_spark_errors_show_the_translated_sql(make_project: MakeProject) -> None:
    sql = "-- name: silver.bad\nSELECT no_such_column FROM {{ ref('bronze.events') }}\n"
    project = assay.Project(spark_project(make_project, {"pipelines/bad.sql": sql}))

    error = project.run().result("silver.bad").error or ""

    assert "no_such_column" in error and "as Spark SQL: SELECT no_such_column" in error


SPARK_TRANSFORM = """
import assay

@assay.transform("gold.per_user", inputs=["bronze.events"], engines=["duckdb", "spark"])
def per_user(ctx, events):
    from pyspark.sql import DataFrame

    assert isinstance(events, DataFrame) and ctx.spark is not None
    counted = events.groupBy("user_id").count()
    via_sql = ctx.sql("SELECT user_id, sum(amount) AS total FROM bronze.events GROUP BY ALL")
    return counted.join(via_sql, "user_id")
"""

DUCKDB_TRANSFORM = """
import assay

@assay.transform("gold.per_user", inputs=["bronze.events"])
def per_user(ctx, events):
    return events.aggregate("user_id, count(*) AS n")
"""


def test_a_spark_capable_python_transform_gets_spark_dataframes(
    make_project: MakeProject,
) -> None:
    project = assay.Project(spark_project(make_project, {"pipelines/gold.py": SPARK_TRANSFORM}))

    assert project.run().ok
    got = sorted(rows(project.table("gold.per_user")), key=lambda r: r["user_id"])
    assert got == [
        {"user_id": u, "count": 4, "total": float(sum(i for i in range(12) if i % 3 == u))}
        for u in range(3)
    ]


def test_a_duckdb_only_transform_on_spark_says_how_to_declare_engines(
    make_project: MakeProject,
) -> None:
    project = assay.Project(spark_project(make_project, {"pipelines/gold.py": DUCKDB_TRANSFORM}))

    error = project.run().result("gold.per_user").error or ""

    assert "supports duckdb, and the project runs on spark" in error
    assert "gold.py" in error and "engines=[...]" in error


def test_arrow_transforms_run_on_any_engine(make_project: MakeProject) -> None:
    body = DUCKDB_TRANSFORM.replace('inputs=["bronze.events"]', 'inputs=["bronze.events"], '
                                    "as_arrow=True").replace(
        'return events.aggregate("user_id, count(*) AS n")',
        "return events.group_by('user_id').aggregate([('amount', 'count')])",
    )  # fmt: skip
    project = assay.Project(spark_project(make_project, {"pipelines/gold.py": body}))

    assert project.run().ok
    assert project.table("gold.per_user").num_rows == 3


def test_the_session_has_the_local_defaults(tmp_path: Path) -> None:
    engine = get_engine("spark", Warehouse(str(tmp_path)))
    conf = engine.spark.conf  # type: ignore[attr-defined]

    assert conf.get("spark.sql.session.timeZone") == "UTC"
    assert conf.get("spark.sql.timestampType") == "TIMESTAMP_NTZ"
    assert conf.get("spark.sql.execution.arrow.pyspark.enabled") == "true"
    assert "DeltaSparkSessionExtension" in conf.get("spark.sql.extensions")
    assert engine.spark.sparkContext.master.startswith("local")  # type: ignore[attr-defined]
    import os

    assert os.environ["PYSPARK_PYTHON"] == sys.executable


def test_shuffle_partitions_follow_the_input_unless_set(tmp_path: Path) -> None:
    warehouse = Warehouse(str(tmp_path))
    warehouse.write(
        "bronze.t", pa.table({"a": list(range(10))}), mode=WriteMode.OVERWRITE, metadata={}
    )
    engine = get_engine("spark", warehouse)
    engine.query(
        "SELECT a, count(*) AS n FROM bronze.t GROUP BY a", {"bronze.t": TableRef("bronze.t")}
    )
    small = int(engine.spark.conf.get("spark.sql.shuffle.partitions"))  # type: ignore[attr-defined]
    assert small == engine.spark.sparkContext.defaultParallelism  # type: ignore[attr-defined]

    fixed = get_engine("spark", warehouse, {"spark.sql.shuffle.partitions": "7"})
    assert fixed._sized_by_user  # type: ignore[attr-defined]


def test_assay_yaml_spark_settings_reach_the_engine(make_project: MakeProject) -> None:
    root = spark_project(make_project, {}, spark={"spark.master": "local[2]", "spark.x.y": 1})
    engine = assay.Project(root).engine
    assert engine.name == "spark"
    assert engine.settings == {"spark.master": "local[2]", "spark.x.y": 1}
    defaults = session.session_defaults({"spark.master": "local[2]"})
    assert defaults["spark.sql.shuffle.partitions"] == "4"


def test_missing_java_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAVA_HOME", "/nonexistent/jdk")
    with pytest.raises(UsageError, match="needs Java") as info:
        session._require_java()
    assert "JAVA_HOME=/nonexistent/jdk" in str(info.value)
    assert "openjdk-17" in (info.value.hint or "")


def test_a_jars_folder_without_jars_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ASSAY_SPARK_JARS", str(tmp_path))
    with pytest.raises(UsageError, match="holds no jars"):
        session.delta_jars()


def test_qualify_over_star_returns_only_the_tables_columns(tmp_path: Path) -> None:
    engine = get_engine("spark", Warehouse(str(tmp_path)))
    table = pa.table({"k": [1, 1, 2], "v": [3, 4, 5]})
    sql = "SELECT * FROM t QUALIFY row_number() OVER (PARTITION BY k ORDER BY v DESC) = 1"

    got = engine.query(sql + " ORDER BY k", {"t": table})

    assert got.column_names == ["k", "v"]
    assert got.to_pylist() == [{"k": 1, "v": 4}, {"k": 2, "v": 5}]


def test_a_failed_first_write_names_the_root_cause_and_leaves_no_table(tmp_path: Path) -> None:
    warehouse = Warehouse(str(tmp_path))
    engine = get_engine("spark", warehouse)
    bad = "SELECT CAST(concat('x', CAST(a AS VARCHAR)) AS INTEGER) AS b FROM t"
    frame = engine.relation(bad, {"t": pa.table({"a": [1, 2]})})

    with pytest.raises(AssayError) as info:
        engine.writer().write("silver.bad", frame, mode=WriteMode.OVERWRITE, metadata={})

    assert "An error occurred while calling" not in info.value.message
    assert "CAST_INVALID_INPUT" in info.value.message  # the JVM's root cause
    assert not warehouse.exists("silver.bad")
    assert not (tmp_path / "silver" / "bad" / "_delta_log").exists()


def test_an_empty_batch_that_commits_nothing_counts_no_rows(tmp_path: Path) -> None:
    """Delta commits nothing for an empty replaceWhere that removes no rows: the batch wrote
    0 rows (not the rows of the commit before it, which the table's last metrics are)."""
    from datetime import date, datetime

    from assay.tables.predicates import interval_predicate

    warehouse = Warehouse(str(tmp_path))
    engine = get_engine("spark", warehouse)
    writer = engine.writer()
    days = pa.table({"day": [date(2024, 1, d) for d in (1, 2, 3)]})
    first = engine.relation("SELECT * FROM t", {"t": days})
    version = writer.write("silver.days", first, mode=WriteMode.OVERWRITE, metadata={})
    assert first.num_rows == 3
    empty = engine.relation("SELECT * FROM t WHERE day > DATE '2024-06-01'", {"t": days})
    february = interval_predicate("day", datetime(2024, 2, 1), datetime(2024, 3, 1), pa.date32())

    again = writer.write(
        "silver.days", empty, mode=WriteMode.OVERWRITE, metadata={}, predicate=february
    )

    assert empty.num_rows == 0
    assert again == version  # Delta committed nothing
    assert warehouse.read("silver.days").num_rows == 3
