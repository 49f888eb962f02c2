"""Times no reader can hold are quarantined at ingest, with a reason naming the value."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import assay
from tests.helpers import write_project

ROWS = [
    # (time column, another timestamp column, expected quarantine reason or None)
    ("2026-01-01 10:00:00", "9999-12-31 00:00:00", None),  # an open-ended valid_to is fine
    ("infinity", "2026-01-01 00:00:00", "is too far out for intervals"),
    ("294247-01-01 00:00:00", "2026-01-01 00:00:00", "is too far out for intervals"),
    ("9999-12-31 00:00:00", "2026-01-01 00:00:00", "is too far out for intervals"),
    ("2026-01-02 10:00:00", "infinity", "is out of range (years 1 to 9999)"),
    ("2026-01-03 10:00:00", "-infinity", "is out of range (years 1 to 9999)"),
]


def test_infinite_and_far_times_are_quarantined_and_tables_stay_readable(tmp_path: Path) -> None:
    csv = "t,valid_to,n\n" + "".join(f"{t},{v},{i}\n" for i, (t, v, _) in enumerate(ROWS))
    root = write_project(
        tmp_path / "p",
        {
            "data/a.csv": csv,
            "pipelines/ingest.py": """
                import assay
                assay.files("bronze.x", path="data/*.csv", format="csv",
                            columns={"t": "TIMESTAMP", "valid_to": "TIMESTAMP"}, time_column="t")
                """,
            "pipelines/silver.sql": """
                -- name: silver.x
                -- kind: incremental
                -- time_column: t
                SELECT * FROM {{ ref('bronze.x') }}
                """,
        },
    )
    project = assay.Project(root)
    result = project.run()
    assert result.ok, [r.error for r in result.failed]
    bronze = result.result("bronze.x")
    expected_bad = [i for i, (_, _, why) in enumerate(ROWS) if why]
    assert (bronze.rows_in, bronze.rows_written, bronze.rows_quarantined) == (
        len(ROWS),
        len(ROWS) - len(expected_bad),
        len(expected_bad),
    )
    quarantine = {q["line"]: q["reason"] for q in project.table("quarantine.bronze_x").to_pylist()}
    for i, (_, _, why) in enumerate(ROWS):
        if why:
            assert why in quarantine[i + 2], quarantine  # line 1 is the header
    # Every table reads back in Python (infinities used to raise OverflowError here)
    assert project.sql("SELECT * FROM silver.x").num_rows == len(ROWS) - len(expected_bad)
    assert project.table("silver.x").column("valid_to").to_pylist()[0] == datetime(9999, 12, 31)
    assert len(project.intervals("silver.x")) == 1


def test_a_far_future_time_is_named_by_plan_and_costs_no_empty_commits(tmp_path: Path) -> None:
    """A year-2200 row used to cost 2,152 commits, silently; empty batches now commit
    nothing, and plan says how wide the range is and why."""
    root = write_project(
        tmp_path / "p",
        {
            "data/a.csv": "t,n\n2026-01-01 10:00:00,1\n2200-01-01 10:00:00,2\n",
            "pipelines/ingest.py": """
                import assay
                assay.files("bronze.x", path="data/*.csv", format="csv",
                            columns={"t": "TIMESTAMP"}, time_column="t")
                """,
            "pipelines/silver.sql": """
                -- name: silver.x
                -- kind: incremental
                -- time_column: t
                -- batch_size: 1000
                SELECT * FROM {{ ref('bronze.x') }}
                """,
        },
    )
    project = assay.Project(root)
    assert project.run(select=["bronze.x"]).ok
    work = {w.dataset: w for w in project.plan()}["silver.x"]
    assert any("2026-01-01..2200-01-02" in r and "outlier" in r for r in work.reasons), work
    result = project.run()
    assert result.ok
    assert result.result("silver.x").commits == 2
    assert project.table("silver.x").num_rows == 2
