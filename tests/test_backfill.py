"""`Project.backfill`: exactly the missing intervals, idempotent, repaired from the Delta log
after a crash, and the same result with parallel workers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

import assay
from assay.catalog.store import intervals as intervals_table
from assay.catalog.store import sync_state
from assay.errors import UsageError
from assay.intervals import Interval
from tests.conftest import MakeProject
from tests.helpers import EVENTS_PIPELINES, checksum, copy_project, event, jsonl

# Engine-generic: every test runs on DuckDB and on Spark (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("engine_name")

DAYS = 10


def days(first: int, last: int) -> list[Interval]:
    """Day intervals of January 2026, `first` to `last` inclusive."""
    return [
        Interval(datetime(2026, 1, d), datetime(2026, 1, d + 1)) for d in range(first, last + 1)
    ]


def ten_days() -> str:
    return jsonl(
        event(d * 10 + k, k, d + k / 10, f"2026-01-{d:02d} {8 + k:02d}:30:00")
        for d in range(1, DAYS + 1)
        for k in range(3)
    )


@pytest.fixture
def bronze_only(make_project: MakeProject) -> assay.Project:
    """The events project with bronze built and silver/gold not yet."""
    root = make_project({**EVENTS_PIPELINES, "data/events/all.jsonl": ten_days()})
    project = assay.Project(root)
    assert project.run(select=["bronze.events"]).ok
    assert project.warehouse.list_tables() == ["bronze.events"]
    return project


def silver_days(project: assay.Project) -> list[int]:
    return sorted({r["event_time"].day for r in project.table("silver.events").to_pylist()})


def test_backfill_fills_exactly_the_missing_intervals(bronze_only: assay.Project) -> None:
    project = bronze_only

    result = project.backfill("silver.events", "2026-01-03", "2026-01-07")

    assert result.ok
    assert result.result("silver.events").intervals == 4
    assert project.intervals("silver.events") == days(3, 6)
    assert silver_days(project) == [3, 4, 5, 6]
    assert project.table("silver.events").num_rows == 12
    assert result.result("gold.user_daily").status == "success"  # downstream follows
    assert project.table("gold.user_daily").num_rows == 12

    wider = project.backfill("silver.events", "2026-01-01", "2026-01-11")

    assert wider.result("silver.events").intervals == 6  # 1, 2 and 7..10; not 3..6 again
    assert project.intervals("silver.events") == days(1, 10)
    assert project.table("silver.events").num_rows == 3 * DAYS
    assert sorted(r["event_id"] for r in project.table("silver.events").to_pylist()) == sorted(
        d * 10 + k for d in range(1, DAYS + 1) for k in range(3)
    )


def test_second_backfill_does_nothing(bronze_only: assay.Project) -> None:
    project = bronze_only
    project.backfill("silver.events", "2026-01-02", "2026-01-09")
    version = project.warehouse.version("silver.events")
    gold_version = project.warehouse.version("gold.user_daily")

    again = project.backfill("silver.events", "2026-01-02", "2026-01-09")

    assert again.ok
    assert again.commits == 0
    assert again.result("silver.events").intervals == 0
    assert project.warehouse.version("silver.events") == version
    assert project.warehouse.version("gold.user_daily") == gold_version
    assert project.intervals("silver.events") == days(2, 8)


def test_backfill_with_datetimes_and_a_window_past_the_data(bronze_only: assay.Project) -> None:
    result = bronze_only.backfill("silver.events", datetime(2026, 1, 9), datetime(2026, 1, 13))

    assert result.ok
    assert bronze_only.intervals("silver.events") == days(9, 12)
    assert silver_days(bronze_only) == [9, 10]


def test_lost_ledger_rows_are_repaired_from_the_delta_log(bronze_only: assay.Project) -> None:
    project = bronze_only
    project.backfill("silver.events", "2026-01-03", "2026-01-07")
    synced_version = project.warehouse.version("silver.events")
    project.backfill("silver.events", "2026-01-01", "2026-01-11")
    final_version = project.warehouse.version("silver.events")
    content = checksum(project.table("silver.events"))
    assert final_version > synced_version
    # A crash between the Delta commits and the catalog write: the catalog still says
    # what it said after the first backfill.
    with project.catalog.engine.begin() as con:
        con.execute(
            intervals_table.delete().where(
                intervals_table.c.dataset == "silver.events",
                intervals_table.c.version > synced_version,
            )
        )
        con.execute(
            sa.update(sync_state)
            .where(sync_state.c.dataset == "silver.events")
            .values(version=synced_version)
        )
    project = assay.Project(project.root)

    result = project.backfill("silver.events", "2026-01-01", "2026-01-11")

    assert result.result("silver.events").intervals == 0  # nothing recomputed
    assert result.result("silver.events").commits == 0
    assert project.warehouse.version("silver.events") == final_version
    assert project.intervals("silver.events") == days(1, 10)
    assert checksum(project.table("silver.events")) == content


def test_wiped_ledger_is_rebuilt_from_the_delta_log(bronze_only: assay.Project) -> None:
    project = bronze_only
    project.backfill("silver.events", "2026-01-01", "2026-01-11")
    version = project.warehouse.version("silver.events")
    with project.catalog.engine.begin() as con:
        for table in (intervals_table, sync_state):
            con.execute(table.delete().where(table.c.dataset == "silver.events"))
    project = assay.Project(project.root)
    fingerprint = project.dag["silver.events"].fingerprint
    assert project.catalog.done_intervals("silver.events", fingerprint) == []

    assert project.run().result("silver.events").status == "up_to_date"
    assert project.warehouse.version("silver.events") == version
    assert project.intervals("silver.events") == days(1, 10)


def test_parallel_workers_give_identical_tables(bronze_only: assay.Project, tmp_path: Path) -> None:
    serial = bronze_only
    parallel = assay.Project(copy_project(serial.root, tmp_path / "parallel"))
    assert parallel.run(select=["bronze.events"]).ok

    one = serial.backfill("silver.events", "2026-01-01", "2026-01-11", workers=1)
    two = parallel.backfill("silver.events", "2026-01-01", "2026-01-11", workers=2)

    assert one.ok and two.ok
    assert one.result("silver.events").intervals == two.result("silver.events").intervals == 10
    assert parallel.intervals("silver.events") == serial.intervals("silver.events") == days(1, 10)
    for name in ("silver.events", "gold.user_daily"):
        assert checksum(parallel.table(name)) == checksum(serial.table(name))
    assert parallel.table("silver.events").num_rows == 3 * DAYS


@pytest.mark.parametrize(
    ("name", "start", "end", "message"),
    [
        ("gold.user_daily", "2026-01-01", "2026-01-02", "not incremental"),
        ("bronze.events", "2026-01-01", "2026-01-02", "not incremental"),
        ("silver.events", "2026-01-05", "2026-01-05", "before --end"),
        ("silver.events", "2026-01-05", "2026-01-01", "before --end"),
        ("silver.events", "January", "2026-01-02", "invalid date"),
        ("silver.nothing", "2026-01-01", "2026-01-02", "unknown dataset"),
    ],
)
def test_backfill_usage_errors(
    bronze_only: assay.Project, name: str, start: str, end: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        bronze_only.backfill(name, start, end)
    assert bronze_only.warehouse.list_tables() == ["bronze.events"]


def test_run_with_a_window_fills_only_that_window(bronze_only: assay.Project) -> None:
    """A scheduler tick or an Airflow data interval: `run(window=...)` builds the window's
    intervals of the selected incremental datasets and nothing else."""
    project = bronze_only

    result = project.run(["silver.events"], window=("2026-01-04", "2026-01-06"), command="airflow")

    assert result.ok and result.result("silver.events").intervals == 2
    assert silver_days(project) == [4, 5]
    assert project.intervals("silver.events") == days(4, 5)
    again = project.run(["silver.events"], window=(datetime(2026, 1, 4), datetime(2026, 1, 6)))
    assert again.result("silver.events").status == "up_to_date"
    with pytest.raises(UsageError, match="start must be before"):
        project.run(["silver.events"], window=("2026-01-06", "2026-01-04"))
