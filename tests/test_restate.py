"""`backfill --restate`: recompute chosen intervals even if done, replacing exactly them."""

from __future__ import annotations

from datetime import datetime

import pytest
import yaml
from typer.testing import CliRunner

import assay
from assay.cli.main import app
from assay.intervals import Interval
from tests.conftest import MakeProject
from tests.helpers import EVENTS_INGEST, event, jsonl

# Engine-generic: every test runs on DuckDB and on Spark (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("engine_name")

SILVER = """
-- name: silver.events
-- kind: incremental
-- time_column: event_time
-- grain: day
SELECT event_id, user_id, amount * {{ var('factor') }} AS amount, event_time
FROM {{ ref('bronze.events') }}
"""


def _project(make_project: MakeProject) -> assay.Project:
    data = jsonl(
        event(d * 10 + k, k, float(d), f"2026-01-{d:02d} 1{k}:00:00")
        for d in range(1, 6)
        for k in range(3)
    )
    root = make_project(
        {
            "pipelines/ingest.py": EVENTS_INGEST,
            "pipelines/silver.sql": SILVER,
            "data/events/all.jsonl": data,
        },
        {"vars": {"factor": 1}},
    )
    project = assay.Project(root)
    assert project.run().ok
    return project


def _set_factor(project: assay.Project, factor: int) -> assay.Project:
    path = project.root / "assay.yaml"
    settings = yaml.safe_load(path.read_text())
    settings["vars"]["factor"] = factor
    path.write_text(yaml.safe_dump(settings))
    return assay.Project(project.root)


def _amounts(project: assay.Project) -> dict[int, set[float]]:
    by_day: dict[int, set[float]] = {}
    for row in project.table("silver.events").to_pylist():
        by_day.setdefault(row["event_time"].day, set()).add(row["amount"])
    return by_day


def test_restate_replaces_exactly_the_chosen_interval(make_project: MakeProject) -> None:
    project = _set_factor(_project(make_project), 10)
    assert project.run().commits == 0  # vars are not code: a plain run sees nothing to do

    result = project.backfill("silver.events", "2026-01-03", "2026-01-04", restate=True)

    assert result.result("silver.events").intervals == 1
    assert result.result("silver.events").reasons == ["restated: 1 interval(s) rebuilt"]
    assert result.result("silver.events").rows_written == 3
    assert _amounts(project) == {1: {1.0}, 2: {2.0}, 3: {30.0}, 4: {4.0}, 5: {5.0}}
    last = project.history("silver.events", limit=1)[0]
    assert last.metadata["intervals"] == [
        Interval(datetime(2026, 1, 3), datetime(2026, 1, 4)).key()
    ]
    assert project.table("silver.events").num_rows == 15


def test_backfill_without_restate_leaves_done_intervals_alone(make_project: MakeProject) -> None:
    project = _set_factor(_project(make_project), 10)

    result = project.backfill("silver.events", "2026-01-01", "2026-01-06")

    assert result.commits == 0
    assert _amounts(project)[3] == {3.0}


def test_cli_restate_flag(make_project: MakeProject) -> None:
    project = _set_factor(_project(make_project), 10)

    out = CliRunner().invoke(
        app,
        [
            "backfill",
            "silver.events",
            "--start",
            "2026-01-05",
            "--end",
            "2026-01-06",
            "--restate",
            "--project",
            str(project.root),
        ],
    )

    assert out.exit_code == 0, out.output
    assert _amounts(assay.Project(project.root))[5] == {50.0}
