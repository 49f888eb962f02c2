"""The catalog over SQLAlchemy: the same run recorded in SQLite and in a real PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

import assay
from assay.catalog import store
from tests.conftest import MakeProject
from tests.helpers import EVENTS_PIPELINES, event, jsonl, versions

DATA = [
    event(1, 1, 1.0, "2026-01-01 10:00:00"),
    event(2, 2, 2.0, "2026-01-02 10:00:00"),
    event(3, 1, 3.0, "2026-01-03 10:00:00"),
]


@pytest.fixture(params=["sqlite", "postgres"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    return request.getfixturevalue("pg_url")


def query(url: str, sql: str, **params: object) -> list[dict]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as con:
            return [dict(r) for r in con.execute(sa.text(sql), params).mappings()]
    finally:
        engine.dispose()


def test_run_is_recorded_in_the_catalog_database(
    make_project: MakeProject, catalog_url: str
) -> None:
    root = make_project(
        {**EVENTS_PIPELINES, "data/events/a.jsonl": jsonl(DATA)}, {"catalog": catalog_url}
    )
    project = assay.Project(root)

    result = project.run()

    assert result.ok
    assert not (root / ".assay" / "catalog.db").exists()  # the configured database is used
    runs = query(catalog_url, "SELECT run_id, command, status, finished_at FROM assay_runs")
    assert [(r["run_id"], r["command"], r["status"]) for r in runs] == [
        (result.run_id, "run", "success")
    ]
    assert runs[0]["finished_at"] is not None
    dataset_runs = query(
        catalog_url,
        "SELECT dataset, status, rows_in, rows_written, rows_quarantined, version "
        "FROM assay_dataset_runs WHERE run_id = :run ORDER BY id",
        run=result.run_id,
    )
    assert [(r["dataset"], r["status"], r["rows_in"], r["rows_written"]) for r in dataset_runs] == [
        ("bronze.events", "success", 3, 3),
        ("silver.events", "success", 3, 3),
        ("gold.user_daily", "success", 3, 3),
    ]
    assert {r["dataset"]: r["version"] for r in dataset_runs} == versions(project)
    # typed columns (SQLite keeps datetimes as text), through the catalog's own table
    engine = sa.create_engine(catalog_url)
    with engine.connect() as con:
        intervals = [
            dict(r)
            for r in con.execute(
                sa.select(store.intervals)
                .where(store.intervals.c.dataset == "silver.events")
                .order_by(store.intervals.c.start)
            ).mappings()
        ]
    engine.dispose()
    assert [(r["start"], r["end"]) for r in intervals] == [
        (datetime(2026, 1, d), datetime(2026, 1, d + 1)) for d in (1, 2, 3)
    ]
    assert {r["fingerprint"] for r in intervals} == {project.dag["silver.events"].fingerprint}
    files = query(catalog_url, "SELECT dataset, path, size FROM assay_ingested_files")
    assert files == [
        {
            "dataset": "bronze.events",
            "path": "data/events/a.jsonl",
            "size": (root / "data/events/a.jsonl").stat().st_size,
        }
    ]


def test_second_run_commits_nothing_and_is_recorded(
    make_project: MakeProject, catalog_url: str
) -> None:
    root = make_project(
        {**EVENTS_PIPELINES, "data/events/a.jsonl": jsonl(DATA)}, {"catalog": catalog_url}
    )
    assay.Project(root).run()
    before = versions(assay.Project(root))

    again = assay.Project(root).run()

    assert again.ok and again.commits == 0
    assert versions(assay.Project(root)) == before
    records = query(
        catalog_url,
        "SELECT dataset, status FROM assay_dataset_runs WHERE run_id = :run ORDER BY id",
        run=again.run_id,
    )
    assert [(r["dataset"], r["status"]) for r in records] == [
        ("bronze.events", "up_to_date"),
        ("silver.events", "up_to_date"),
        ("gold.user_daily", "up_to_date"),
    ]
    assert len(query(catalog_url, "SELECT run_id FROM assay_runs")) == 2
    status = {s.name: s for s in assay.Project(root).status()}
    assert status["silver.events"].intervals_done == 3
    assert status["silver.events"].intervals_missing == 0
    assert status["bronze.events"].rows == 3
    assert status["gold.user_daily"].last_status == "success"


def test_postgres_catalog_survives_a_wiped_state_folder(
    make_project: MakeProject, pg_url: str
) -> None:
    root = make_project(
        {**EVENTS_PIPELINES, "data/events/a.jsonl": jsonl(DATA)}, {"catalog": pg_url}
    )
    assert assay.Project(root).run().ok
    for path in sorted((root / ".assay").iterdir(), reverse=True):
        if path.is_file():
            path.unlink()

    assert assay.Project(root).run().commits == 0
