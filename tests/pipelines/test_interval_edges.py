"""Interval edges on real time types: nothing is lost at a grain's boundary (hypothesis).

After any sequence of deliveries, runs, full refreshes and backfills, and for DATE, TIMESTAMP
and TIMESTAMPTZ columns with midnight-only values and values on interval boundaries, every
upstream row lies in exactly one done interval, and a pass-through transform holds exactly
the upstream rows whenever `plan` calls the project up to date.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import assay
from assay.intervals import Grain, to_naive_utc
from assay.pipelines.runner import RunResult
from tests.helpers import write_project

TYPES = ("DATE", "TIMESTAMP", "TIMESTAMPTZ")
FIRST = datetime(2023, 12, 25)


def moment_text(kind: str, moment: datetime, offset_hours: int) -> str:
    """A CSV value of `kind` for `moment` (TIMESTAMPTZ written in a local offset)."""
    if kind == "DATE":
        return moment.date().isoformat()
    if kind == "TIMESTAMP":
        return moment.isoformat(" ")
    local = moment.replace(tzinfo=UTC).astimezone(timezone(timedelta(hours=offset_hours)))
    return local.isoformat()


@st.composite
def moments(draw: Any, grain: Grain) -> datetime:
    """Midnights, exact interval starts (and the instant before) or arbitrary times."""
    day = FIRST + timedelta(days=draw(st.integers(0, 120)))
    shape = draw(st.sampled_from(["midnight", "boundary", "before_boundary", "any"]))
    if shape == "midnight":
        return day
    if shape == "boundary":
        return grain.floor(day)
    if shape == "before_boundary":
        return grain.next(grain.floor(day)) - timedelta(microseconds=1)
    return day + timedelta(seconds=draw(st.integers(0, 86_399)))


@st.composite
def scenarios(draw: Any) -> dict[str, Any]:
    kind = draw(st.sampled_from(TYPES))
    grains = [Grain.DAY, Grain.WEEK, Grain.MONTH] + ([Grain.HOUR] if kind != "DATE" else [])
    grain = draw(st.sampled_from(grains))
    deliveries = draw(
        st.lists(st.lists(moments(grain), min_size=0, max_size=6), min_size=1, max_size=3)
    )
    actions = draw(
        st.lists(
            st.sampled_from(["run", "full_refresh", "backfill", "none"]),
            min_size=len(deliveries),
            max_size=len(deliveries),
        )
    )
    window = sorted(draw(st.lists(st.integers(0, 130), min_size=2, max_size=2, unique=True)))
    return {
        "kind": kind,
        "grain": grain,
        "deliveries": deliveries,
        "actions": actions,
        "window": [FIRST + timedelta(days=d) for d in window],
        "offset": draw(st.integers(-11, 12)),
        "batch_size": draw(st.integers(1, 3)),
    }


def project_files(kind: str, grain: Grain, batch_size: int) -> dict[str, str]:
    return {
        "pipelines/ingest.py": f"""
            import assay
            assay.files("bronze.obs", path="data/*.csv", format="csv",
                        columns={{"t": "{kind}", "id": "INTEGER"}}, time_column="t")
            """,
        "pipelines/silver.sql": f"""
            -- name: silver.obs
            -- kind: incremental
            -- time_column: t
            -- grain: {grain.value}
            -- batch_size: {batch_size}
            SELECT id, t FROM {{{{ ref('bronze.obs') }}}}
            """,
    }


def deliver(root: Path, number: int, rows: list[tuple[int, str]]) -> None:
    text = "id,t\n" + "".join(f"{i},{t}\n" for i, t in rows)
    (root / "data" / f"delivery_{number}.csv").write_text(text)


def check_complete(project: assay.Project, grain: Grain) -> None:
    """Every bronze row is in exactly one done interval, and silver holds exactly them."""
    bronze = project.table("bronze.obs").to_pylist()
    done = project.intervals("silver.obs")
    for row in bronze:
        holding = [i for i in done if i.contains(to_naive_utc(row["t"]))]
        assert len(holding) == 1, (row, holding)
    for interval in done:
        assert grain.floor(interval.start) == interval.start
        assert interval.end == grain.next(interval.start)
    silver = (
        project.table("silver.obs").to_pylist() if project.warehouse.exists("silver.obs") else []
    )
    assert sorted((r["id"], r["t"]) for r in silver) == sorted((r["id"], r["t"]) for r in bronze)


def plan_is_up_to_date(project: assay.Project) -> bool:
    return not any(work.needed for work in project.plan())


def ok(result: RunResult) -> None:
    assert result.ok, [(r.dataset, r.error) for r in result.failed]


def act(project: assay.Project, action: str, window: list[datetime]) -> None:
    if action == "run":
        ok(project.run())
    elif action == "full_refresh":
        ok(project.run(full_refresh=True))
    elif action == "backfill":
        ok(project.run(select=["bronze.obs"]))
        if project.warehouse.exists("bronze.obs") and project.table("bronze.obs").num_rows:
            ok(project.backfill("silver.obs", window[0], window[1]))


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios())
def test_every_upstream_row_lands_in_exactly_one_done_interval(case: dict[str, Any]) -> None:
    kind, grain = case["kind"], case["grain"]
    with tempfile.TemporaryDirectory() as folder:
        root = write_project(Path(folder) / "p", project_files(kind, grain, case["batch_size"]))
        (root / "data").mkdir()
        project = assay.Project(root)
        ids = iter(range(1_000_000))
        for number, (moments_, action) in enumerate(
            zip(case["deliveries"], case["actions"], strict=True)
        ):
            rows = [(next(ids), moment_text(kind, m, case["offset"])) for m in moments_]
            deliver(root, number, rows)
            act(project, action, case["window"])
            if project.warehouse.exists("silver.obs") and plan_is_up_to_date(project):
                check_complete(project, grain)  # "up to date" must mean complete
        ok(project.run())
        assert plan_is_up_to_date(project)
        statuses = {s.name: s for s in project.status()}
        assert statuses["silver.obs"].intervals_missing == 0
        if project.warehouse.exists("silver.obs"):
            check_complete(project, grain)
            assert project.row_count("silver.obs") == project.row_count("bronze.obs")


def test_dates_newest_day_reaches_silver_and_status(tmp_path: Path) -> None:
    """The defect as reported: rows on 2024-01-01, -02 and -03 lost the third day."""
    root = write_project(tmp_path / "p", project_files("DATE", Grain.DAY, 30))
    (root / "data").mkdir()
    deliver(root, 0, [(1, "2024-01-01"), (2, "2024-01-02"), (3, "2024-01-03")])
    project = assay.Project(root)
    assert project.run().ok
    assert sorted(r["t"] for r in project.table("silver.obs").to_pylist()) == [
        date(2024, 1, 1),
        date(2024, 1, 2),
        date(2024, 1, 3),
    ]
    deliver(root, 1, [(4, "2024-01-04")])  # a second delivery adds a new newest day
    plan = {w.dataset: w for w in project.plan()}
    assert plan["silver.obs"].needed
    assert project.run().ok
    assert project.table("silver.obs").num_rows == 4
    assert project.run(full_refresh=True).ok
    assert project.table("silver.obs").num_rows == 4
    assert {s.name: s.intervals_missing for s in project.status()}["silver.obs"] == 0
