"""The scheduler in-process, with its clock moved by the test: sensors flowing through the
DAG in one tick, cron data intervals, catch-up limits, collapsing of full datasets, the
project lock, and the on_tick hook."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

import assay
from assay.lock import project_lock
from assay.orchestration.scheduler import Scheduler
from tests.conftest import MakeProject
from tests.orchestration.sched_helpers import (
    events,
    interval_rows,
    scheduled_files,
    set_baseline,
    tick_rows,
    write_events,
)

DAY = datetime(2026, 1, 2)


def _scheduler(project: assay.Project, now: datetime, lines: list[str]) -> Scheduler:
    return Scheduler(project, log=lines.append, clock=lambda: now, streams=False)


def _gold_oracle(rows: list[dict]) -> dict[int, tuple[int, float]]:
    frame = pd.DataFrame(rows)
    grouped = frame.groupby("user_id").agg(events=("event_id", "count"), amount=("amount", "sum"))
    return {int(u): (int(r.events), float(r.amount)) for u, r in grouped.iterrows()}


def _gold(project: assay.Project) -> dict[int, tuple[int, float]]:
    return {
        r["user_id"]: (r["events"], r["amount"])
        for r in project.table("gold.user_totals").to_pylist()
    }


def test_arrival_flows_through_upstream_datasets_in_one_tick(make_project: MakeProject) -> None:
    root = make_project(scheduled_files())
    first = events(DAY, 3)
    write_events(root, "a.jsonl", first)
    project = assay.Project(root)
    lines: list[str] = []
    scheduler = _scheduler(project, DAY, lines)

    report = scheduler.tick()

    assert [r.dataset for r in report.ran] == ["bronze.events", "silver.events", "gold.user_totals"]
    assert all(r.outcome == "ok" for r in report.ran), report.ran
    assert "1 new or changed file(s): data/events/a.jsonl" in report.ran[0].why
    assert _gold(project) == _gold_oracle(first)
    assert len(lines) == 1 and lines[0].startswith("tick ")

    assert scheduler.tick().ran == []  # nothing new: nothing due, nothing run

    second = events(DAY + timedelta(hours=3), 2, first_id=100)
    write_events(root, "b.jsonl", second)
    report = scheduler.tick()
    assert [r.dataset for r in report.ran] == ["bronze.events", "silver.events", "gold.user_totals"]
    assert _gold(project) == _gold_oracle(first + second)
    assert project.table("silver.events").num_rows == len(first + second)


def test_first_start_records_a_baseline_and_runs_no_history(make_project: MakeProject) -> None:
    root = make_project(scheduled_files(silver="@hourly"))
    write_events(root, "a.jsonl", events(DAY, 5))
    project = assay.Project(root)
    lines: list[str] = []
    now = DAY + timedelta(hours=5, minutes=10)

    report = _scheduler(project, now, lines).tick()

    assert "silver.events" not in [r.dataset for r in report.ran]
    assert tick_rows(root, "silver.events") == [(DAY + timedelta(hours=5), "baseline")]
    assert any("first start" in line for line in lines)
    assert not project.warehouse.exists("silver.events")


def test_catch_up_runs_the_newest_ticks_and_logs_the_skipped(make_project: MakeProject) -> None:
    root = make_project(scheduled_files(silver="@hourly", gold="@hourly", catchup=3))
    write_events(root, "a.jsonl", events(DAY, 6))
    project = assay.Project(root)
    set_baseline(project, "silver.events", DAY)  # last done tick 5 hours ago
    set_baseline(project, "gold.user_totals", DAY)
    lines: list[str] = []
    now = DAY + timedelta(hours=5, minutes=10)

    report = _scheduler(project, now, lines).tick()

    ticks = tick_rows(root, "silver.events")
    assert ticks == [
        (DAY, "baseline"),
        (DAY + timedelta(hours=1), "skipped"),
        (DAY + timedelta(hours=2), "skipped"),
        (DAY + timedelta(hours=3), "done"),
        (DAY + timedelta(hours=4), "done"),
        (DAY + timedelta(hours=5), "done"),
    ]
    # Each tick T filled exactly its data interval [T - 1h, T): hours 2, 3 and 4.
    assert [s[11:16] for s, _ in interval_rows(root, "silver.events")] == [
        "02:00",
        "03:00",
        "04:00",
    ]
    silver_hours = {r["event_time"].hour for r in project.table("silver.events").to_pylist()}
    assert silver_hours == {2, 3, 4}
    skipped_line = next(line for line in lines if "silver.events: skipped 2" in line)
    assert "2026-01-02 01:00:00, 2026-01-02 02:00:00" in skipped_line
    # gold is a full table (default catch-up 24): its 5 missed ticks collapse into one run.
    gold_runs = [r for r in report.ran if r.dataset == "gold.user_totals"]
    assert len(gold_runs) == 1 and gold_runs[0].why.count("2026-01-02") == 5
    assert [s for _, s in tick_rows(root, "gold.user_totals")] == ["baseline"] + ["done"] * 5


def test_a_done_tick_is_never_run_again(make_project: MakeProject) -> None:
    root = make_project(scheduled_files(silver="@hourly"))
    write_events(root, "a.jsonl", events(DAY, 3))
    project = assay.Project(root)
    set_baseline(project, "silver.events", DAY)
    now = DAY + timedelta(hours=2, minutes=1)
    scheduler = _scheduler(project, now, [])
    assert len([r for r in scheduler.tick().ran if r.dataset == "silver.events"]) == 2
    assert [r.dataset for r in scheduler.tick().ran] == []
    later = _scheduler(project, now + timedelta(hours=1), [])
    ran = [r for r in later.tick().ran if r.dataset == "silver.events"]
    assert len(ran) == 1 and "[2026-01-02 02:00:00, 2026-01-02 03:00:00)" in ran[0].why


def test_a_held_lock_keeps_the_tick_due_for_the_next_tick(make_project: MakeProject) -> None:
    root = make_project(scheduled_files(silver="@hourly"), {"lock_timeout": 0.3})
    write_events(root, "a.jsonl", events(DAY, 3))
    project = assay.Project(root)
    assert project.run(["bronze.events"]).ok
    set_baseline(project, "silver.events", DAY)
    now = DAY + timedelta(hours=1, minutes=1)
    lines: list[str] = []
    scheduler = _scheduler(project, now, lines)

    with project_lock(project.state_dir, 0):  # a CLI backfill holds the lock
        report = scheduler.tick()
    assert [r.outcome for r in report.ran] == ["waiting for lock"]
    assert tick_rows(root, "silver.events")[-1] == (DAY + timedelta(hours=1), "claimed")
    assert any("stays due for the next tick" in line for line in lines)

    report = scheduler.tick()
    assert [(r.dataset, r.outcome) for r in report.ran] == [
        ("silver.events", "ok"),
        ("gold.user_totals", "ok"),  # on_upstream: follows silver in the same tick
    ]
    assert tick_rows(root, "silver.events")[-1] == (DAY + timedelta(hours=1), "done")
    assert [s[11:16] for s, _ in interval_rows(root, "silver.events")] == ["00:00"]


def test_on_tick_hooks_get_the_tick_time_and_cannot_kill_it(make_project: MakeProject) -> None:
    root = make_project(scheduled_files())
    project = assay.Project(root)
    seen: list[datetime] = []

    def broken(at: datetime) -> None:
        raise RuntimeError("the pager is down")

    lines: list[str] = []
    scheduler = Scheduler(
        project, on_tick=[broken, seen.append], log=lines.append, clock=lambda: DAY, streams=False
    )
    scheduler.tick()
    assert seen == [DAY]
    assert any("the pager is down" in line for line in lines)


def test_list_shows_schedules_and_next_runs(make_project: MakeProject) -> None:
    from typer.testing import CliRunner

    from assay.cli.main import app

    root = make_project(scheduled_files(silver="@hourly", catchup=3))
    result = CliRunner().invoke(app, ["schedule", "--list", "--project", str(root)])
    assert result.exit_code == 0, result.output
    for text in (
        "bronze.events",
        "on_arrival",
        "silver.events",
        "@hourly",
        "gold.user_totals",
        "when an input changes",
        "next run",
        "catch-up",
    ):
        assert text in result.output


def test_changed_code_of_a_sensed_dataset_runs_on_the_first_tick(
    make_project: MakeProject,
) -> None:
    root = make_project(scheduled_files())
    write_events(root, "a.jsonl", events(DAY, 2))
    assert [r.outcome for r in _scheduler(assay.Project(root), DAY, []).tick().ran] == ["ok"] * 3
    gold = root / "pipelines" / "gold.sql"
    gold.write_text(gold.read_text().replace("count(*) AS events", "count(*) AS n_events"))

    report = _scheduler(assay.Project(root), DAY, []).tick()  # a restart with the new code

    assert [(r.dataset, r.why) for r in report.ran] == [
        ("gold.user_totals", "code or declaration changed since its table was built")
    ]
    assert "n_events" in assay.Project(root).table("gold.user_totals").column_names


FLAKY = """
from pathlib import Path

import assay

@assay.transform("silver.flaky", inputs=["bronze.events"], schedule="@hourly")
def flaky(ctx, events):
    if Path(ctx.project_root, "broken").exists():
        raise ValueError("the upstream API is down")
    return events
"""


def test_a_failed_tick_runs_again_until_it_succeeds(make_project: MakeProject) -> None:
    root = make_project(
        {**scheduled_files(), "pipelines/flaky.py": FLAKY}, {"retries": {"attempts": 1}}
    )
    write_events(root, "a.jsonl", events(DAY, 2))
    (root / "broken").write_text("x")
    project = assay.Project(root)
    set_baseline(project, "silver.flaky", DAY)
    now = DAY + timedelta(hours=1, minutes=1)
    lines: list[str] = []
    scheduler = _scheduler(project, now, lines)

    report = scheduler.tick()
    assert [r.dataset for r in report.failed] == ["silver.flaky"]
    assert "the upstream API is down" in (report.failed[0].error or "")
    assert tick_rows(root, "silver.flaky")[-1] == (DAY + timedelta(hours=1), "failed")

    (root / "broken").unlink()
    report = scheduler.tick()
    assert [(r.dataset, r.outcome) for r in report.ran] == [("silver.flaky", "ok")]
    assert tick_rows(root, "silver.flaky")[-1] == (DAY + timedelta(hours=1), "done")


def test_an_unscheduled_dataset_follows_its_scheduled_upstream(make_project: MakeProject) -> None:
    """gold declares no schedule: it runs after silver commits, in the same tick, as the
    Airflow DAGs hold it in silver's DAG; `--list` says it follows its upstream."""
    files = scheduled_files()
    files["pipelines/gold.sql"] = files["pipelines/gold.sql"].replace(
        "-- schedule: on_upstream\n", ""
    )
    root = make_project(files)
    rows = events(DAY, 2)
    write_events(root, "a.jsonl", rows)
    project = assay.Project(root)
    assert project.datasets["gold.user_totals"].automation.schedule is None

    report = _scheduler(project, DAY, []).tick()

    assert [r.dataset for r in report.ran] == ["bronze.events", "silver.events", "gold.user_totals"]
    assert _gold(project) == _gold_oracle(rows)
    from assay.orchestration.listing import schedule_rows

    (gold,) = [r for r in schedule_rows(project) if r.dataset == "gold.user_totals"]
    assert (gold.schedule, gold.trigger) == ("(follows upstream)", "on_upstream")
