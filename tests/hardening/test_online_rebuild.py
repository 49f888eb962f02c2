"""An online store deleted or emptied after a materialization (the SQLite file deleted, its
table dropped or emptied, Redis flushed) is noticed and rebuilt by the next
`assay features materialize`, instead of 0 rows written and every entity "missing"."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from typer.testing import CliRunner

import assay
from assay.cli.main import app
from assay.features.online import SQLiteOnlineStore
from tests.conftest import MakeProject
from tests.features.test_training_sets import FEATURES, GOLD
from tests.helpers import EVENTS_INGEST, event, jsonl

NOW = datetime(2026, 1, 6)
USERS = [{"user_id": u} for u in range(4)]
# User u's latest day is 2026-01-05 (gold stamps a day's rows at its end): 1 event of 5u.
EXPECTED = [(1, 5.0 * u) for u in range(4)]


def build(make_project: MakeProject, store: dict[str, object]) -> Path:
    """A project materialized once (4 users) and served."""
    root = unmaterialized(make_project, store)
    project = assay.Project(root)
    first = project.features.materialize(end=NOW)
    assert [(m.rows, m.rebuilt) for m in first] == [(4, False)]
    assert served(project) == EXPECTED
    return root


def unmaterialized(make_project: MakeProject, store: dict[str, object]) -> Path:
    data = jsonl(
        event(d * 10 + k, k, float(d * k), f"2026-01-{d:02d} 1{k}:00:00")
        for d in range(1, 6)
        for k in range(4)
    )
    root = make_project(
        {
            "pipelines/ingest.py": EVENTS_INGEST,
            "pipelines/gold.sql": GOLD,
            "features/users.py": FEATURES.replace("{ttl}", "3d"),
            "data/events/a.jsonl": data,
        },
        {"online_store": store},
    )
    assert assay.Project(root).run().ok
    return root


def served(project: assay.Project) -> list[tuple[Any, Any]]:
    vectors = project.features.online(USERS, "model", as_of=NOW)
    return [(v["events"]["value"], v["amount"]["value"]) for v in vectors]


def statuses(project: assay.Project) -> set[str]:
    return {v["events"]["status"] for v in project.features.online(USERS, "model", as_of=NOW)}


def rematerialize(root: Path) -> assay.Project:
    """Materialize again from a new process's point of view; check what it reports."""
    project = assay.Project(root)
    again = project.features.materialize(end=NOW)
    assert [(m.view, m.rows, m.incremental, m.rebuilt) for m in again] == [
        ("user_daily", 4, False, True)
    ]
    assert served(project) == EXPECTED
    return project


def test_an_intact_store_is_not_rebuilt(make_project: MakeProject) -> None:
    root = build(make_project, {"type": "sqlite"})
    again = assay.Project(root).features.materialize(end=NOW)
    assert [(m.rows, m.incremental, m.rebuilt) for m in again] == [(0, True, False)]


def test_a_deleted_sqlite_file_is_rebuilt_by_the_cli(make_project: MakeProject) -> None:
    root = build(make_project, {"type": "sqlite"})
    (root / ".assay" / "online.db").unlink()
    assert statuses(assay.Project(root)) == {"missing"}
    done = CliRunner().invoke(
        app, ["features", "materialize", "--end", "2026-01-06", "--project", str(root)]
    )
    assert done.exit_code == 0, done.output
    assert "user_daily" in done.output and "full" in done.output
    assert served(assay.Project(root)) == EXPECTED


@pytest.mark.parametrize("damage", ["DROP TABLE fv_user_daily", "DELETE FROM fv_user_daily"])
def test_a_dropped_or_emptied_sqlite_table_is_rebuilt(
    make_project: MakeProject, damage: str
) -> None:
    root = build(make_project, {"type": "sqlite"})
    with sqlite3.connect(root / ".assay" / "online.db") as con:
        con.execute(damage)
    assert statuses(assay.Project(root)) == {"missing"}
    rematerialize(root)


def test_a_running_server_sees_the_rebuilt_file(make_project: MakeProject) -> None:
    """A process that had the store open (the feature server) reads the new file, not
    the deleted one it still held open."""
    root = build(make_project, {"type": "sqlite"})
    server = assay.Project(root)
    assert served(server) == EXPECTED
    (root / ".assay" / "online.db").unlink()
    assert statuses(server) == {"missing"}
    rematerialize(root)
    assert served(server) == EXPECTED
    # Materializing from the same process that served works as well.
    (root / ".assay" / "online.db").unlink()
    again = server.features.materialize(end=NOW)
    assert [(m.rows, m.rebuilt) for m in again] == [(4, True)]
    assert served(server) == EXPECTED


def test_a_replaced_file_is_reopened(tmp_path: Path) -> None:
    """The store follows its path: a file swapped in under it is the one read."""
    path = str(tmp_path / "online.db")
    store = SQLiteOnlineStore(path)
    other = tmp_path / "other.db"
    sqlite3.connect(other).close()
    assert store._current() is store._con
    opened = store._con
    other.replace(path)
    assert store._current() is not opened


def test_a_flushed_redis_is_rebuilt(make_project: MakeProject, redis_url: str) -> None:
    root = build(make_project, {"type": "redis", "url": redis_url})
    again = assay.Project(root).features.materialize(end=NOW)
    assert [(m.rows, m.incremental, m.rebuilt) for m in again] == [(0, True, False)]
    redis.Redis.from_url(redis_url).flushdb()
    assert statuses(assay.Project(root)) == {"missing"}
    rematerialize(root)


def test_a_view_that_never_had_values_is_not_called_lost(make_project: MakeProject) -> None:
    """Materialized before any entity was within its TTL: an empty store is expected, and
    the next run stays incremental."""
    root = unmaterialized(make_project, {"type": "sqlite"})
    early = datetime(2020, 1, 1)
    for run in range(2):
        done = assay.Project(root).features.materialize(end=early)
        assert [(m.rows, m.incremental, m.rebuilt) for m in done] == [(0, run == 1, False)]
