"""SLA deadlines on a frozen clock (`check_periodic(rt, now)`, as the scheduler calls it),
resolved by the run or backfill that meets them; ODCS slaProperties (the official example)
breached in a run; deadline arithmetic against hand-worked cases."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

import assay
from assay.cli.main import app
from assay.intervals import Interval, utcnow
from assay.orchestration.evaluate import check_periodic
from assay.orchestration.slas import interval_deadline, run_reference
from assay.pipelines.automation import Automation, Sla
from assay.pipelines.spec import DatasetSpec, Kind
from assay.pipelines.transforms import SqlTransform
from tests.conftest import MakeProject
from tests.helpers import EVENTS_INGEST, EVENTS_SILVER, event, jsonl
from tests.orchestration.receivers import Webhook, webhook_receiver  # noqa: F401 - fixture

SPECS = Path("/work/shared/specs/odcs/examples")
SILVER_WITH_SLA = EVENTS_SILVER.replace(
    "-- grain: day",
    "-- grain: day\n-- start: 2026-01-01\n-- owner: events-team\n"
    "-- sla: interval done by 06:00 UTC",
)
GOLD = """
-- name: gold.user_daily
-- kind: full
-- owner: growth
{sla}
SELECT user_id, count(*) AS events FROM {{{{ ref('silver.events') }}}} GROUP BY ALL
"""


def two_days() -> str:
    return jsonl([event(1, 1, 5.0, "2026-01-01 08:00:00"), event(2, 2, 7.5, "2026-01-02 09:30")])


def sla_project(make_project: MakeProject, webhook: Webhook, silver: str, gold_sla: str) -> Path:
    return make_project(
        {
            "pipelines/ingest.py": EVENTS_INGEST,
            "pipelines/silver_events.sql": silver,
            "pipelines/gold_user_daily.sql": GOLD.format(sla=gold_sla),
            "data/events/a.jsonl": two_days(),
        },
        {"alerts": [{"type": "webhook", "url": webhook.url}]},
    )


def test_a_missed_interval_fires_at_its_deadline_and_resolves_when_backfilled(
    make_project: MakeProject, webhook: Webhook
) -> None:
    root = sla_project(make_project, webhook, SILVER_WITH_SLA, "")
    project = assay.Project(root)
    assert project.run().ok
    done = [str(i) for i in project.intervals("silver.events")]
    assert done == ["2026-01-01", "2026-01-02"]  # the data's days; 2026-01-03 is not in yet

    check_periodic(project.runtime, datetime(2026, 1, 4, 5, 59))
    assert webhook.bodies == []  # before 06:00 on the day after: not late yet

    check_periodic(project.runtime, datetime(2026, 1, 4, 6, 0))
    (late,) = webhook.bodies
    assert (late["event"], late["status"], late["dataset"], late["owner"]) == (
        "sla",
        "firing",
        "silver.events",
        "events-team",
    )
    assert late["summary"] == (
        "silver.events: interval 2026-01-03 not done by its deadline 2026-01-04 06:00 UTC (0m late)"
    )
    assert late["fix"] == "assay backfill silver.events --start 2026-01-03 --end 2026-01-04"
    assert late["details"]["deadline"] == "2026-01-04T06:00:00"

    (root / "data" / "events" / "b.jsonl").write_text(
        jsonl([event(3, 1, 1.0, "2026-01-03 10:00:00")])
    )
    assert (
        CliRunner().invoke(app, ["run", "--project", str(root), "-s", "bronze.events"]).exit_code
        == 0
    )
    backfill = ["backfill", "silver.events", "--start", "2026-01-03", "--end", "2026-01-04"]
    assert CliRunner().invoke(app, [*backfill, "--project", str(root)]).exit_code == 0

    assert [(b["status"], b["summary"]) for b in webhook.bodies][1] == ("resolved", late["summary"])
    check_periodic(project.runtime, datetime(2026, 1, 4, 7, 0))
    assert len(webhook.bodies) == 2


def test_a_full_dataset_needs_a_successful_run_after_its_deadline_day_began(
    make_project: MakeProject, webhook: Webhook
) -> None:
    root = sla_project(make_project, webhook, EVENTS_SILVER, "-- sla: done by 06:00 UTC")
    project = assay.Project(root)

    check_periodic(project.runtime, datetime(2026, 1, 4, 7, 0))

    (late,) = webhook.bodies
    assert (late["event"], late["dataset"], late["owner"]) == ("sla", "gold.user_daily", "growth")
    assert late["summary"] == (
        "gold.user_daily: no successful run since 2026-01-04 00:00 UTC, due by "
        "2026-01-04 06:00 UTC (never)"
    )
    assert late["fix"] == "assay run --select gold.user_daily"
    # The next tick: still late, within the throttle: not sent again.
    check_periodic(project.runtime, datetime(2026, 1, 4, 7, 30))
    assert len(webhook.bodies) == 1

    assert project.run().ok  # a successful run now (after the reference): met
    assert [b["status"] for b in webhook.bodies] == ["firing", "resolved"]
    check_periodic(project.runtime, datetime(2026, 1, 4, 8, 0))
    assert len(webhook.bodies) == 2


def test_the_official_odcs_latency_sla_alerts_from_a_run(
    make_project: MakeProject, webhook: Webhook
) -> None:
    """The ODCS example's `latency` of 4 days on tab1.txn_ref_dt, on a dataset gold.tab1."""
    stale = utcnow() - timedelta(days=5)
    root = make_project(
        {"pipelines/tab1.sql": tab1(stale)},
        {"alerts": [{"type": "webhook", "url": webhook.url}]},
    )
    (root / "contracts").mkdir()
    shutil.copy(SPECS / "sla" / "database-table-sla.odcs.yaml", root / "contracts" / "sla.yaml")

    assert assay.Project(root).run().ok  # latency SLAs warn: the data is published

    (late,) = webhook.bodies
    assert (late["event"], late["dataset"]) == ("sla", "gold.tab1")
    assert late["summary"].startswith("gold.tab1: latency(txn_ref_dt) = ")
    assert late["details"]["rule"] == "latency(txn_ref_dt)"
    assert late["details"]["observed"] > 4 * 86400
    assert late["fix"] == "assay run --select gold.tab1"

    (root / "pipelines" / "tab1.sql").write_text(tab1(utcnow() - timedelta(days=1)))
    assert assay.Project(root).run().ok
    assert [b["status"] for b in webhook.bodies] == ["firing", "resolved"]


def tab1(newest: datetime) -> str:
    return f"-- name: gold.tab1\nSELECT TIMESTAMP '{newest:%Y-%m-%d %H:%M:%S}' AS txn_ref_dt\n"


def test_interval_deadlines() -> None:
    done_by = Sla.parse("interval done by 06:00 UTC")
    hour = Interval(datetime(2026, 1, 3, 13), datetime(2026, 1, 3, 14))
    assert interval_deadline(done_by, hour) == datetime(2026, 1, 4, 6)
    early = Interval(datetime(2026, 1, 3, 4), datetime(2026, 1, 3, 5))
    assert interval_deadline(done_by, early) == datetime(2026, 1, 3, 6)
    midnight = Sla.parse("done by 00:00")
    day = Interval(datetime(2026, 1, 3), datetime(2026, 1, 4))
    assert interval_deadline(midnight, day) == datetime(2026, 1, 4)
    assert interval_deadline(Sla.parse("within 90m"), day) == datetime(2026, 1, 4, 1, 30)


def test_run_references() -> None:
    def spec(**automation: str) -> DatasetSpec:
        declared = Automation.declare("gold.x", **automation)
        return DatasetSpec("gold.x", Kind.FULL, SqlTransform("SELECT 1 AS x"), automation=declared)

    def reference(dataset: DatasetSpec, now: datetime) -> tuple[datetime | None, datetime]:
        assert dataset.automation.sla is not None
        return run_reference(dataset, dataset.automation.sla, now)

    now = datetime(2026, 1, 4, 7, 0)
    by_six = spec(sla="done by 06:00 UTC")
    assert reference(by_six, now) == (datetime(2026, 1, 4), datetime(2026, 1, 4, 6))
    # Before today's 06:00, yesterday's deadline is the one that passed.
    assert reference(by_six, datetime(2026, 1, 4, 5)) == (
        datetime(2026, 1, 3),
        datetime(2026, 1, 3, 6),
    )
    # Hourly runs within 2 h: the newest tick at least 2 h old at 07:00 is 05:00.
    hourly = spec(sla="within 2h", schedule="0 * * * *")
    assert reference(hourly, now) == (datetime(2026, 1, 4, 5), datetime(2026, 1, 4, 7))
    assert reference(hourly, datetime(2026, 1, 4, 7, 59)) == (
        datetime(2026, 1, 4, 5),
        datetime(2026, 1, 4, 7),
    )
    # No schedule: a successful run in the last 2 h.
    assert reference(spec(sla="within 2h"), now) == (datetime(2026, 1, 4, 5), now)
