"""Feature views in a project: registry versions, training sets saved and rebuilt by time
travel, feature services, CLI."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import assay
from assay.cli.main import app
from assay.errors import UsageError
from assay.features.registry import history
from tests.conftest import MakeProject
from tests.helpers import EVENTS_INGEST, event, jsonl

# Engine-generic: every test runs on DuckDB and on Spark (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("engine_name")

GOLD = """
-- name: gold.user_daily
SELECT user_id, date_trunc('day', event_time) + INTERVAL 1 DAY AS event_time,
       count(*) AS events, sum(amount) AS amount
FROM {{ ref('bronze.events') }} GROUP BY ALL
"""
FEATURES = """
from assay import Entity, FeatureService, FeatureView

user = Entity("user", join_keys=["user_id"])
user_daily = FeatureView(name="user_daily", entities=[user], source="gold.user_daily",
                         timestamp="event_time", ttl="{ttl}", features=["events", "amount"])
service = FeatureService(name="model", features=["user_daily:events", "user_daily:amount"])
"""


@pytest.fixture
def project(make_project: MakeProject) -> assay.Project:
    data = jsonl(
        event(d * 10 + k, k % 2, float(d + k), f"2026-01-{d:02d} 1{k}:00:00")
        for d in range(1, 5)
        for k in range(3)
    )
    root = make_project(
        {
            "pipelines/ingest.py": EVENTS_INGEST,
            "pipelines/gold.sql": GOLD,
            "features/users.py": FEATURES.replace("{ttl}", "2d"),
            "data/events/a.jsonl": data,
        }
    )
    p = assay.Project(root)
    assert p.run().ok
    return p


def labels() -> pa.Table:
    return pa.table(
        {
            "user_id": [0, 1, 0, 7],
            "event_timestamp": pa.array(
                ["2026-01-03 09:00", "2026-01-04 00:00", "2026-01-09 00:00", "2026-01-03 00:00"]
            ).cast(pa.timestamp("us")),
            "label": [1, 0, 1, 0],
        }
    )


def test_training_set_values_and_service(project: assay.Project) -> None:
    result = project.features.training_set(labels(), "model")
    # user 0 on Jan 3 09:00 sees Jan 2's day (known at Jan 3 00:00): events k=0,2 on day 2.
    assert result.column_names == ["user_id", "event_timestamp", "label", "events", "amount"]
    assert result["events"].to_pylist() == [2, 1, None, None]  # Jan 9: beyond the 2d TTL
    assert result["amount"].to_pylist() == [2.0 + 4.0, 4.0, None, None]
    assert result["label"].to_pylist() == [1, 0, 1, 0]


def test_saved_training_set_rebuilds_identically_after_the_source_changes(
    project: assay.Project,
) -> None:
    first = project.features.training_set(labels(), ["user_daily:*"], save_as="users")
    # New late data changes gold.user_daily; the saved set recorded the old version.
    late = jsonl([event(999, 0, 100.0, "2026-01-02 23:00:00")])
    (project.root / "data" / "events" / "late.jsonl").write_text(late)
    assert assay.Project(project.root).run().ok
    fresh = assay.Project(project.root)
    assert fresh.features.training_set(labels(), ["user_daily:*"]) != first
    rebuilt = fresh.features.rebuild_training_set("users")
    assert rebuilt == first
    assert fresh.table("training.users") == first


def test_registry_versions_each_definition_change(project: assay.Project) -> None:
    project.features.register()
    project.features.register()
    assert [v.version for v in history(project.catalog, "user_daily")] == [1]
    (project.root / "features" / "users.py").write_text(FEATURES.replace("{ttl}", "3d"))
    assay.Project(project.root).features.register()
    versions = history(project.catalog, "user_daily")
    assert [(v.version, v.definition["ttl"]) for v in versions] == [
        (1, "2 days, 0:00:00"),
        (2, "3 days, 0:00:00"),
    ]


def test_unknown_features_are_clear_errors(project: assay.Project) -> None:
    with pytest.raises(UsageError, match="no feature 'nope'"):
        project.features.training_set(labels(), ["user_daily:nope"])
    with pytest.raises(UsageError, match="unknown feature service"):
        project.features.training_set(labels(), "nope")
    with pytest.raises(UsageError, match="timestamp column"):
        project.features.training_set(labels().drop_columns(["event_timestamp"]), "model")


def test_cli_training_set_list_and_show(project: assay.Project, tmp_path: Path) -> None:
    entities = tmp_path / "labels.parquet"
    pq.write_table(labels(), entities)
    out = tmp_path / "train.parquet"
    runner = CliRunner()
    made = runner.invoke(
        app,
        [
            "features",
            "training-set",
            "--entities",
            str(entities),
            "-f",
            "model",
            "--out",
            str(out),
            "--project",
            str(project.root),
        ],
    )
    assert made.exit_code == 0, made.output
    assert pq.read_table(out)["events"].to_pylist() == [2, 1, None, None]
    listed = runner.invoke(app, ["features", "list", "--project", str(project.root)])
    assert listed.exit_code == 0 and "user_daily" in listed.output and "model" in listed.output
    shown = runner.invoke(app, ["features", "show", "user_daily", "--project", str(project.root)])
    assert shown.exit_code == 0 and "gold.user_daily" in shown.output
    missing = runner.invoke(app, ["features", "show", "nope", "--project", str(project.root)])
    assert missing.exit_code == 2
