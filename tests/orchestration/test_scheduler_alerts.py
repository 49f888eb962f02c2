"""`assay schedule` checks SLA deadlines on every tick (the CLI wires the alert check into
the scheduler's on_tick hook): a daily dataset whose recent days are not done alerts, named
with the command that fixes it."""

from __future__ import annotations

from datetime import datetime

from typer.testing import CliRunner

from assay.cli.main import app
from tests.conftest import MakeProject
from tests.orchestration.receivers import Webhook, webhook_receiver  # noqa: F401 - fixture
from tests.orchestration.sched_helpers import events, scheduled_files, write_events


def test_a_scheduler_tick_alerts_on_a_missed_sla(
    make_project: MakeProject, webhook: Webhook
) -> None:
    files = scheduled_files()
    files["pipelines/silver.sql"] = (
        files["pipelines/silver.sql"]
        .replace("-- grain: hour", "-- grain: day")
        .replace("-- schedule: on_upstream", "-- schedule: on_upstream\n-- sla: within 1h")
    )
    root = make_project(files, {"alerts": [{"type": "webhook", "url": webhook.url}]})
    write_events(root, "a.jsonl", events(datetime(2026, 1, 2), 3))

    result = CliRunner().invoke(app, ["schedule", "--once", "--project", str(root)])

    assert result.exit_code == 0, result.output
    # The data is from January: the days before this tick were never done.
    missed = [b for b in webhook.bodies if b["event"] == "sla"]
    assert missed, webhook.bodies
    assert {b["dataset"] for b in missed} == {"silver.events"}
    assert all(b["status"] == "firing" for b in missed)
    assert all(b["fix"].startswith("assay backfill silver.events --start ") for b in missed)
