"""Coarse grains, time column types, empty batches and changed declarations, end to end."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

import assay
from assay.cli.main import app
from assay.errors import DefinitionError
from assay.intervals import Interval, to_naive_utc
from tests.helpers import write_files, write_project

YEARLY_CSV = "year,country,population\n" + "".join(
    f"{y},{c},{p}\n"
    for y, c, p in [
        (1990, "NOR", 4_241_473),
        (1995, "NOR", 4_359_184),
        (2000, "NOR", 4_490_967),
        (2000, "SWE", 8_872_109),
        (2005, "NOR", 4_623_291),
    ]
)


def yearly_project(root: Path, batch_size: int = 2, derive: bool = True) -> Path:
    derived = ', derive={"period_start": "make_date(year, 1, 1)"}' if derive else ""
    time_column = "period_start" if derive else "year"
    return write_project(
        root,
        {
            "data/population.csv": YEARLY_CSV,
            "pipelines/ingest.py": f"""
                import assay
                assay.files("bronze.population", path="data/*.csv", format="csv",
                            columns={{"year": "INTEGER", "population": "BIGINT"}},
                            time_column="{time_column}"{derived})
                """,
            "pipelines/silver.sql": f"""
                -- name: silver.population
                -- kind: incremental
                -- time_column: period_start
                -- grain: year
                -- batch_size: {batch_size}
                SELECT country, year, period_start, population
                FROM {{{{ ref('bronze.population') }}}}
                """,
        },
    )


def test_year_grain_over_a_derived_date_column(tmp_path: Path) -> None:
    """Five-yearly data: one interval per year from 1990 to 2005 (16), not ~5,500 days;
    batch_size counts years; every row reaches silver."""
    project = assay.Project(yearly_project(tmp_path / "p"))
    result = project.run()
    assert result.ok, [r.error for r in result.failed]
    silver = result.result("silver.population")
    assert silver.intervals == 16
    done = project.intervals("silver.population")
    assert done[0] == Interval(datetime(1990, 1, 1), datetime(1991, 1, 1))
    assert done[-1] == Interval(datetime(2005, 1, 1), datetime(2006, 1, 1))
    assert project.table("silver.population").num_rows == 5
    # batches of 2 years; years without rows commit nothing (12 of the 16 are empty)
    assert silver.commits == 4
    rows = project.table("bronze.population").to_pylist()
    assert {r["period_start"] for r in rows} == {date(y, 1, 1) for y in (1990, 1995, 2000, 2005)}
    assert not any(w.needed for w in project.plan())


def test_an_integer_time_column_is_refused_at_load_naming_what_to_declare(
    tmp_path: Path,
) -> None:
    root = yearly_project(tmp_path / "p", derive=False)
    with pytest.raises(DefinitionError) as caught:
        assay.Project(root)
    text = str(caught.value)
    assert "bronze.population" in text and "'year'" in text and "INTEGER" in text
    assert "make_date(year, 1, 1)" in text and "grain: year" in text


def test_an_integer_time_column_of_a_sql_dataset_is_a_clear_plan_error(tmp_path: Path) -> None:
    """No raw `'int' object has no attribute 'year'`: the error names dataset and column."""
    root = write_project(
        tmp_path / "p",
        {
            "data/population.csv": YEARLY_CSV,
            "pipelines/ingest.py": """
                import assay
                assay.files("bronze.population", path="data/*.csv", format="csv")
                """,
            "pipelines/silver.sql": """
                -- name: silver.population
                -- kind: incremental
                -- time_column: year
                -- grain: year
                SELECT * FROM {{ ref('bronze.population') }}
                """,
        },
    )
    assert assay.Project(root).run(select=["bronze.population"]).ok
    result = CliRunner().invoke(app, ["plan", "-p", str(root)])
    assert result.exit_code != 0
    assert "Traceback" not in result.output and "has no attribute" not in result.output
    assert "silver.population" in result.output and "'year'" in result.output
    assert "make_date" in result.output


def test_week_grain_uses_iso_weeks(tmp_path: Path) -> None:
    rows = "".join(f"{d},{i}\n" for i, d in enumerate(["2026-01-01", "2026-01-04", "2026-01-05"]))
    root = write_project(
        tmp_path / "p",
        {
            "data/a.csv": "day,n\n" + rows,
            "pipelines/ingest.py": """
                import assay
                assay.files("bronze.days", path="data/*.csv", format="csv",
                            columns={"day": "DATE"}, time_column="day")
                """,
            "pipelines/weekly.sql": """
                -- name: silver.weekly
                -- kind: incremental
                -- time_column: week_start
                -- grain: week
                SELECT date_trunc('week', day)::DATE AS week_start, count(*) AS n
                FROM {{ ref('bronze.days') }} GROUP BY ALL
                """,
        },
    )
    project = assay.Project(root)
    assert project.run().ok
    table = sorted(project.table("silver.weekly").to_pylist(), key=lambda r: r["week_start"])
    # Thursday 1 and Sunday 4 January are ISO week 2026-W01 (from Monday 29 December)
    assert table == [
        {"week_start": date(2025, 12, 29), "n": 2},
        {"week_start": date(2026, 1, 5), "n": 1},
    ]
    assert [str(i) for i in project.intervals("silver.weekly")] == ["2026-W01", "2026-W02"]


CONTRACT = """
apiVersion: v3.0.2
kind: DataContract
id: readings
version: 1.0.0
status: active
schema:
  - name: readings
    physicalName: silver.readings
    quality:
      - metric: rowCount
        mustBeGreaterThan: 0
    properties:
      - name: value
        quality:
          - metric: invalidValues
            arguments: {validValues: [1, 2, 3]}
            mustBe: 0
"""


def readings_project(root: Path, rows: str) -> Path:
    return write_project(
        root,
        {
            "data/a.csv": "t,value\n" + rows,
            "contracts/readings.yaml": CONTRACT,
            "pipelines/ingest.py": """
                import assay
                assay.files("bronze.readings", path="data/*.csv", format="csv",
                            columns={"t": "TIMESTAMP", "value": "INTEGER"}, time_column="t")
                """,
            "pipelines/silver.sql": """
                -- name: silver.readings
                -- kind: incremental
                -- time_column: t
                -- batch_size: 3
                SELECT * FROM {{ ref('bronze.readings') }}
                """,
        },
    )


def test_an_empty_interval_batch_commits_nothing_and_is_not_judged_by_row_count(
    tmp_path: Path,
) -> None:
    """Rows on days 1 and 10: the batches of days 4-6 and 7-9 hold no rows. Before, they
    failed `rowCount > 0` ('nothing committed') after day 1's batch had committed."""
    project = assay.Project(
        readings_project(tmp_path / "p", "2026-01-01 10:00:00,1\n2026-01-10 10:00:00,2\n")
    )
    result = project.run()
    assert result.ok, [r.error for r in result.failed]
    silver = result.result("silver.readings")
    assert silver.intervals == 10
    assert silver.commits == 2  # days 1-3 and 10; the empty batches commit nothing
    assert project.warehouse.version("silver.readings") == 1
    assert len(project.intervals("silver.readings")) == 10
    assert not any(w.needed for w in project.plan())


def test_a_blocked_batch_says_what_was_and_was_not_committed(tmp_path: Path) -> None:
    rows = "2026-01-01 10:00:00,1\n2026-01-05 10:00:00,2\n2026-01-08 10:00:00,3\n"
    root = readings_project(tmp_path / "p", rows)
    contract = (root / "contracts/readings.yaml").read_text()
    blocking = contract.replace("mustBe: 0", "mustBe: 0\n            severity: error")
    blocking = blocking.replace("validValues: [1, 2, 3]", "validValues: [1, 3]")
    (root / "contracts/readings.yaml").write_text(
        blocking.replace("- metric: rowCount", "- metric: rowCount\n        severity: error")
    )
    project = assay.Project(root)
    result = project.run()
    failed = result.result("silver.readings")
    assert failed.status == "failed"
    assert failed.error is not None
    # The second batch (days 4-6) holds the value 2; days 1-3 were committed before it.
    assert "2026-01-04..2026-01-07 not committed" in failed.error
    assert "committed and done: 2026-01-01..2026-01-04" in failed.error
    assert [str(i) for i in project.intervals("silver.readings")] == [
        "2026-01-01",
        "2026-01-02",
        "2026-01-03",
    ]


def test_changed_sql_shows_as_changed_code_with_the_intervals_to_rebuild(tmp_path: Path) -> None:
    root = readings_project(tmp_path / "p", "2026-01-01 10:00:00,1\n2026-01-03 10:00:00,2\n")
    project = assay.Project(root)
    assert project.run().ok
    sql = (root / "pipelines/silver.sql").read_text()
    (root / "pipelines/silver.sql").write_text(
        sql.replace("SELECT *", "SELECT t, value * 1 AS value")
    )
    project = assay.Project(root)
    work = {w.dataset: w for w in project.plan()}["silver.readings"]
    assert work.needed
    assert any(
        r.startswith("changed code: 3 interval(s)") and "2026-01-01..2026-01-04" in r
        for r in work.reasons
    ), work.reasons
    assert not any("missing" in r for r in work.reasons)
    assert project.run().result("silver.readings").intervals == 3


def test_changed_column_types_re_ingest_the_files(tmp_path: Path) -> None:
    root = readings_project(tmp_path / "p", "2026-01-01 10:00:00,1\n2026-01-02 10:00:00,2\n")
    project = assay.Project(root)
    assert project.run().ok
    assert project.table("bronze.readings").schema.field("value").type == "int32"
    ingest = (root / "pipelines/ingest.py").read_text()
    (root / "pipelines/ingest.py").write_text(
        ingest.replace('"value": "INTEGER"', '"value": "DOUBLE"')
    )
    project = assay.Project(root)
    work = {w.dataset: w for w in project.plan()}["bronze.readings"]
    assert work.needed and "re-ingesting 1 file(s)" in work.reasons[0]
    result = project.run()
    assert result.ok, [r.error for r in result.failed]
    assert project.table("bronze.readings").schema.field("value").type == "double"
    assert project.table("bronze.readings").num_rows == 2
    assert sorted(r["value"] for r in project.table("silver.readings").to_pylist()) == [1.0, 2.0]
    assert not any(w.needed for w in project.plan())


def test_a_changed_file_whose_name_holds_batch_key_replaces_its_rows(tmp_path: Path) -> None:
    """Predicates were built by text replacement: `data/batch_key_1.csv` became
    `data/_source_file_1.csv`, so a changed file with such a name was appended twice."""
    root = readings_project(tmp_path / "p", "2026-01-01 10:00:00,1\n")
    (root / "data/a.csv").rename(root / "data/batch_key_1.csv")
    project = assay.Project(root)
    assert project.run().ok
    write_files(
        root, {"data/batch_key_1.csv": "t,value\n2026-01-01 10:00:00,3\n2026-01-02 10:00:00,3\n"}
    )
    assert project.run().ok
    assert sorted(r["value"] for r in project.table("bronze.readings").to_pylist()) == [3, 3]


def test_derive_with_a_bad_expression_fails_at_load_naming_the_column(tmp_path: Path) -> None:
    root = write_project(
        tmp_path / "p",
        {
            "pipelines/ingest.py": """
                import assay
                assay.files("bronze.x", path="data/*.csv", format="csv",
                            derive={"period_start": "make_date(year, 1"})
                """
        },
    )
    with pytest.raises(DefinitionError) as caught:
        assay.Project(root)
    assert "derive['period_start']" in str(caught.value) and "bronze.x" in str(caught.value)


@pytest.mark.parametrize("grain", ["hour", "day"])
def test_python_transforms_slice_dates_and_zoned_times_in_utc(tmp_path: Path, grain: str) -> None:
    """Arrow-side interval filters: a DATE is its midnight (no day lost under an hour grain,
    where DATE bounds used to truncate), a zoned time is placed by its UTC instant."""
    rows = [
        ("2026-01-01", "2026-01-01T23:30:00-02:00"),  # 01:30 UTC on 2 January
        ("2026-01-02", "2026-01-02T00:30:00+01:00"),  # 23:30 UTC on 1 January
        ("2026-01-03", "2026-01-03T12:00:00+00:00"),
    ]
    root = write_project(
        tmp_path / "p",
        {
            "data/a.csv": "day,at\n" + "".join(f"{d},{t}\n" for d, t in rows),
            "pipelines/ingest.py": """
                import assay
                assay.files("bronze.x", path="data/*.csv", format="csv",
                            columns={"day": "DATE", "at": "TIMESTAMPTZ"}, time_column="day")
                """,
            "pipelines/silver.py": f"""
                import assay

                @assay.transform("silver.by_day", inputs=["bronze.x"], kind="incremental",
                                 time_column="day", grain="{grain}", as_arrow=True)
                def by_day(ctx, x):
                    return x.select(["day", "at"])

                @assay.transform("silver.by_at", inputs=["bronze.x"], kind="incremental",
                                 time_column="at", grain="{grain}", as_arrow=True)
                def by_at(ctx, x):
                    return x.select(["day", "at"])
                """,
        },
    )
    project = assay.Project(root)
    result = project.run()
    assert result.ok, [r.error for r in result.failed]
    bronze = sorted(
        project.table("bronze.x").select(["day", "at"]).to_pylist(), key=lambda r: r["day"]
    )
    for name in ("silver.by_day", "silver.by_at"):
        assert sorted(project.table(name).to_pylist(), key=lambda r: r["day"]) == bronze
    utc_days = [to_naive_utc(r["at"]).date() for r in bronze]
    assert utc_days == [date(2026, 1, 2), date(2026, 1, 1), date(2026, 1, 3)]
    if grain == "day":
        assert [str(i) for i in project.intervals("silver.by_at")] == [
            "2026-01-01",
            "2026-01-02",
            "2026-01-03",
        ]


def test_rows_without_a_time_are_quarantined_at_ingest_not_lost_downstream(
    tmp_path: Path,
) -> None:
    """A row with an empty time column belongs to no interval: silver used to drop it
    silently; it is quarantined with the raw record, and rows in = written + quarantined."""
    rows = "2026-01-01 10:00:00,1\n,2\nNA,3\n2026-01-02 10:00:00,1\n"
    project = assay.Project(readings_project(tmp_path / "p", rows))
    result = project.run()
    assert result.ok, [r.error for r in result.failed]
    bronze = result.result("bronze.readings")
    assert (bronze.rows_in, bronze.rows_written, bronze.rows_quarantined) == (4, 2, 2)
    quarantine = project.table("quarantine.bronze_readings").to_pylist()
    # lines of the file (the header is line 1); "" and "NA" are no value
    assert sorted((q["line"], q["rule"]) for q in quarantine) == [
        (3, "time_column"),
        (4, "time_column"),
    ]
    assert '"value": 2' in next(q["raw_record"] for q in quarantine if q["line"] == 3)
    assert project.table("silver.readings").num_rows == 2
