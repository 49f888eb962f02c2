"""Delta has no TIME type: a time of day is stored as its ISO text, not a Rust error."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import assay
from tests.helpers import write_project


def test_time_columns_from_sql_and_parquet_are_stored_as_iso_text(tmp_path: Path) -> None:
    root = write_project(
        tmp_path / "p",
        {
            "pipelines/ingest.py": """
                import assay
                assay.files("bronze.shifts", path="data/*.parquet", format="parquet")
                """,
            "pipelines/gold.sql": """
                -- name: gold.starts
                SELECT name, CAST(starts AS TIME) AS starts_at,
                       starts AS as_text FROM {{ ref('bronze.shifts') }}
                """,
        },
    )
    (root / "data").mkdir()
    shifts = pa.table(
        {
            "name": ["day", "night"],
            "starts": pa.array([time(7, 0), time(22, 30, 15, 250)], pa.time64("us")),
        }
    )
    pq.write_table(shifts, root / "data/shifts.parquet")
    project = assay.Project(root)
    result = project.run()
    assert result.ok, [r.error for r in result.failed]
    bronze = project.table("bronze.shifts")
    assert bronze.schema.field("starts").type == pa.string()
    assert bronze.column("starts").to_pylist() == ["07:00:00", "22:30:15.00025"]
    gold = sorted(project.table("gold.starts").to_pylist(), key=lambda r: r["name"])
    # one text form whichever way the time arrived (a source's values, a SQL TIME)
    assert [(g["starts_at"], g["as_text"]) for g in gold] == [
        ("07:00:00", "07:00:00"),
        ("22:30:15.00025", "22:30:15.00025"),
    ]
