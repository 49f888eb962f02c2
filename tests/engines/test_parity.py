"""The same project, run on DuckDB and on Spark from the same files, gives the same tables
after every run: appends, incremental intervals recomputed when late data arrives (Spark's
replaceWhere), merges that update and insert (Spark's MERGE), contract quarantine, full
refreshes and no-op re-runs. Tables are compared row by row (order-insensitive checksums)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import assay
from tests.conftest import MakeProject
from tests.helpers import EVENTS_INGEST, VOLATILE, checksum, event, jsonl

pytestmark = pytest.mark.usefixtures("spark_jars")

SILVER = """
-- name: silver.events
-- kind: incremental
-- time_column: event_time
-- grain: day
SELECT event_id, user_id, amount, event_time
FROM {{ ref('bronze.events') }}
WHERE event_time >= {{ start }} AND event_time < {{ end }}
QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY _ingested_at DESC, _line DESC) = 1
"""
USERS = """
-- name: silver.users
-- kind: merge
-- keys: user_id
SELECT user_id, count(*) AS events, max(amount) AS top, max(event_time) AS last_seen
FROM {{ ref('silver.events') }}
GROUP BY ALL
"""
DAILY = """
-- name: gold.daily
-- kind: full
SELECT CAST(event_time AS DATE) AS day, count(DISTINCT user_id) AS users,
       sum(amount) AS amount, date_trunc('day', max(event_time)) AS day_start
FROM {{ ref('silver.events') }}
GROUP BY ALL
"""
CONTRACT = """
apiVersion: v3.1.0
kind: DataContract
id: users
version: 1.0.0
status: active
schema:
  - name: users
    physicalName: silver.users
    properties:
      - name: user_id
        logicalType: integer
        required: true
        unique: true
      - name: top
        logicalType: number
        logicalTypeOptions: {minimum: 0, maximum: 1000}
"""

FIRST = [
    event(i, i % 4, float(i * 7 % 50), f"2026-01-0{1 + i % 3} 1{i % 10}:00:00") for i in range(40)
]
# Day 2 gets late events (its interval is recomputed), user 1 changes (merged), user 9 is
# new, and one amount breaks the contract (quarantined on both engines alike).
SECOND = [
    event(100, 1, 49.5, "2026-01-02 23:00:00"),
    event(101, 9, 3.0, "2026-01-04 08:00:00"),
    event(102, 2, 5000.0, "2026-01-02 09:30:00"),
    event(5, 1, 1.0, "2026-01-03 15:00:00"),  # a corrected re-delivery of event 5
]


@pytest.fixture
def projects(make_project: MakeProject, tmp_path: Path) -> dict[str, assay.Project]:
    files = {
        "pipelines/ingest.py": EVENTS_INGEST,
        "pipelines/silver.sql": SILVER,
        "pipelines/users.sql": USERS,
        "pipelines/daily.sql": DAILY,
        "contracts/users.yaml": CONTRACT,
        "data/events/a.jsonl": jsonl(FIRST),
    }
    duck = make_project(files, name="duck")
    spark = tmp_path / "spark"
    shutil.copytree(duck, spark)
    return {"duckdb": assay.Project(duck), "spark": assay.Project(spark, engine="spark")}


#: Columns that differ between runs: ids and when each run wrote a row.
RUN_COLUMNS = frozenset({*VOLATILE, "rejected_at"})


def assert_same_tables(projects: dict[str, assay.Project]) -> None:
    duck, spark = projects["duckdb"], projects["spark"]
    assert duck.warehouse.list_tables() == spark.warehouse.list_tables()
    for name in duck.warehouse.list_tables():
        got, want = spark.table(name), duck.table(name)
        assert checksum(got, RUN_COLUMNS, 9) == checksum(want, RUN_COLUMNS, 9), name


def run_both(projects: dict[str, assay.Project], **options: object) -> dict[str, object]:
    results = {engine: project.run(**options) for engine, project in projects.items()}
    for engine, result in results.items():
        assert result.ok, (engine, [r.error for r in result.failed])
    return {e: {r.dataset: (r.status, r.rows_written, r.rows_quarantined) for r in res.results}
            for e, res in results.items()}  # fmt: skip


def test_both_engines_build_the_same_tables_run_after_run(
    projects: dict[str, assay.Project],
) -> None:
    first = run_both(projects)
    assert first["duckdb"] == first["spark"]
    assert_same_tables(projects)

    for project in projects.values():
        (project.root / "data/events/b.jsonl").write_text(jsonl(SECOND))
    second = run_both(projects)
    assert second["duckdb"] == second["spark"]
    assert second["spark"]["silver.users"][2] == 1  # the 5000.0 top amount, quarantined
    assert_same_tables(projects)
    users = {r["user_id"]: r for r in projects["spark"].table("silver.users").to_pylist()}
    assert users[9]["events"] == 1 and users[1]["top"] == 49.5  # inserted, and updated

    # Spark wrote the transforms' versions, with assay's commit metadata.
    last = projects["spark"].warehouse.last_commit("silver.users")
    assert last is not None and last.operation == "MERGE" and last.metadata["run_id"]

    again = run_both(projects)
    assert {s for s, _, _ in again["spark"].values()} == {"up_to_date"}

    refreshed = run_both(projects, full_refresh=True)
    assert refreshed["duckdb"] == refreshed["spark"]
    assert_same_tables(projects)


USER_DAYS = """
-- name: gold.user_days
-- kind: incremental
-- time_column: day
-- grain: day
SELECT user_id, date_trunc('day', event_time) AS day, count(*) AS n, sum(event_id) AS id_sum
FROM {{ ref('silver.events') }}
WHERE event_time >= {{ start }} AND event_time < {{ end }}
GROUP BY ALL
"""


def test_a_project_built_on_duckdb_continues_on_spark(
    projects: dict[str, assay.Project],
) -> None:
    """Switching engines keeps the tables: Spark writes later intervals and merges into
    tables DuckDB built, in their types (a sum of BIGINTs is a BIGINT on both engines,
    not DuckDB's own HUGEINT)."""
    for project in projects.values():
        (project.root / "pipelines/user_days.sql").write_text(USER_DAYS.lstrip())
    duck_root, moved_root = projects["duckdb"].root, projects["spark"].root
    for root in (duck_root, moved_root):
        assert assay.Project(root, engine="duckdb").run().ok
        (root / "data/events/b.jsonl").write_text(jsonl(SECOND))
    assert assay.Project(duck_root, engine="duckdb").run().ok
    moved = assay.Project(moved_root, engine="spark")
    result = moved.run()
    assert result.ok, [r.error for r in result.failed]
    assert result.result("gold.user_days").intervals >= 2  # written by Spark

    assert str(moved.warehouse.schema("gold.user_days").field("id_sum").type) == "int64"
    assert_same_tables({"duckdb": assay.Project(duck_root), "spark": moved})


# Every kind of value a quarantined row can hold: doubles (2.7), decimals and their averages,
# sums of integers, dates, timestamps with fractions, text and booleans.
TYPED = """
-- name: gold.typed
-- kind: full
SELECT event_id, amount, CAST(amount AS DECIMAL(10, 2)) AS price,
       avg(CAST(amount AS DECIMAL(10, 2))) OVER (PARTITION BY user_id) AS avg_price,
       sum(user_id) OVER () AS users_sum, amount / 4 AS quarter,
       CAST(event_time AS DATE) AS day, event_time + INTERVAL 250 MILLISECOND AS at,
       date_trunc('hour', event_time) AS hour, 'u' || user_id AS label, amount > 2 AS big
FROM {{ ref('bronze.events') }}
"""
TYPED_CONTRACT = """
apiVersion: v3.1.0
kind: DataContract
id: typed
version: 1.0.0
status: active
schema:
  - name: typed
    physicalName: gold.typed
    properties:
      - name: amount
        logicalType: number
        logicalTypeOptions: {maximum: 2}
"""


def test_quarantined_rows_are_recorded_alike_on_both_engines(
    make_project: MakeProject, tmp_path: Path
) -> None:
    rows = [
        event(1, 1, 2.7, "2026-01-01 10:00:00"),
        event(2, 2, 1.5, "2026-01-02 11:30:00"),
        event(3, 1, 12.25, "2026-01-03 12:00:00.5"),
        event(4, 3, 0.1, "2026-01-03 13:00:00"),
    ]
    files = {
        "pipelines/ingest.py": EVENTS_INGEST,
        "pipelines/typed.sql": TYPED,
        "contracts/typed.yaml": TYPED_CONTRACT,
        "data/events/a.jsonl": jsonl(rows),
    }
    duck = make_project(files, name="duck")
    shutil.copytree(duck, tmp_path / "spark")
    spark = assay.Project(tmp_path / "spark", engine="spark")
    projects = {"duckdb": assay.Project(duck), "spark": spark}
    run_both(projects)

    def quarantined(project: assay.Project) -> list[tuple[object, ...]]:
        table = project.table("quarantine.gold_typed").sort_by("raw_record")
        keep = ("raw_record", "rule", "reason", "batch_key")
        return [tuple(r[k] for k in keep) for r in table.to_pylist()]

    expected = quarantined(projects["duckdb"])
    assert len(expected) == 2  # 2.7 and 12.25 break the maximum
    assert '"amount": 2.7,' in expected[0][0] and '"price": "2.70"' in expected[0][0]
    assert quarantined(projects["spark"]) == expected
