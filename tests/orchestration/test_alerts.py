"""Alerts from `assay run` and `assay backfill` (typer's CliRunner on the real CLI), sent to
real receivers on loopback: one message per channel per open alert (dedup), a resolve
message after the fixed run, and a dead channel that never fails the run."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import assay
from assay.cli.main import app
from assay.orchestration.evaluate import check_periodic
from tests.conftest import MakeProject
from tests.helpers import EVENTS_INGEST, EVENTS_SILVER, catalog_rows, event, jsonl
from tests.orchestration.receivers import (  # noqa: F401 - fixtures
    Mailbox,
    Webhook,
    dead_url,
    smtp_receiver,
    webhook_receiver,
)

OWNER = "growth@example.com"
GOOD_GOLD = f"""
-- name: gold.user_daily
-- kind: full
-- owner: {OWNER}
SELECT user_id, count(*) AS events FROM {{{{ ref('silver.events') }}}} GROUP BY ALL
"""
BROKEN_GOLD = GOOD_GOLD.replace("count(*) AS events", "error('gold is broken: ' || user_id)")
BROKEN_SILVER = EVENTS_SILVER.replace(
    "-- grain: day", "-- grain: day\n-- owner: events-team"
).replace("SELECT event_id,", "SELECT error('bad silver ' || event_id) AS boom, event_id,")
FIXED_SILVER = EVENTS_SILVER.replace("-- grain: day", "-- grain: day\n-- owner: events-team")

EVENTS = jsonl([event(1, 1, 5.0, "2026-01-01 08:00:00"), event(2, 2, 7.5, "2026-01-02 09:30:00")])


def channels(webhook: Webhook, smtp: Mailbox | None = None, **extra: Any) -> dict[str, Any]:
    alerts: list[dict[str, Any]] = [{"type": "webhook", "url": webhook.url, **extra}]
    if smtp is not None:
        alerts.append(
            {
                "type": "email",
                "to": ["oncall@example.com"],
                "smtp": {"host": "127.0.0.1", "port": smtp.port},
            }
        )
    return {"alerts": alerts}


def events_project(
    make_project: MakeProject, config: dict[str, Any], silver: str, gold: str
) -> Path:
    return make_project(
        {
            "pipelines/ingest.py": EVENTS_INGEST,
            "pipelines/silver_events.sql": silver,
            "pipelines/gold_user_daily.sql": gold,
            "data/events/all.jsonl": EVENTS,
        },
        config,
    )


def cli(*args: str) -> int:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code


def last_run_id(root: Path) -> str:
    runs = catalog_rows(assay.Project(root), "assay_runs")
    return str(max(runs, key=lambda r: r["started_at"])["run_id"])


def test_a_failed_run_alerts_once_per_channel_and_resolves_after_the_fix(
    make_project: MakeProject, webhook: Webhook, smtp_server: Mailbox
) -> None:
    root = events_project(make_project, channels(webhook, smtp_server), FIXED_SILVER, BROKEN_GOLD)

    assert cli("run", "--project", str(root)) == 1
    (firing,) = webhook.bodies
    assert firing["event"] == "failure" and firing["status"] == "firing"
    assert firing["dataset"] == "gold.user_daily" and firing["owner"] == OWNER
    assert firing["summary"].startswith("gold.user_daily failed: ")
    assert "gold is broken: " in firing["summary"]
    assert "gold is broken" in firing["details"]["error"]
    assert firing["fix"] == "assay run --select gold.user_daily"
    assert firing["run_id"] == last_run_id(root)
    ((_, recipients, mail),) = smtp_server.mails
    assert recipients == ["oncall@example.com"]
    assert mail["Subject"].startswith("[assay] [FIRING] failure: gold.user_daily failed")

    # Failing again within the throttle: the same open alert, no second message.
    assert cli("run", "--project", str(root)) == 1
    assert len(webhook.bodies) == 1 and len(smtp_server.mails) == 1
    (stored,) = catalog_rows(assay.Project(root), "assay_alerts")
    assert (stored["status"], stored["times_seen"]) == ("open", 2)

    (root / "pipelines" / "gold_user_daily.sql").write_text(GOOD_GOLD)
    assert cli("run", "--project", str(root)) == 0
    resolved = webhook.bodies[1]
    assert (resolved["event"], resolved["status"], resolved["dataset"]) == (
        "failure",
        "resolved",
        "gold.user_daily",
    )
    assert resolved["summary"] == firing["summary"]
    assert smtp_server.mails[1][2]["Subject"].startswith("[assay] [RESOLVED] failure:")
    assert len(webhook.bodies) == 2 and len(smtp_server.mails) == 2

    # Nothing left open, nothing sent again.
    assert cli("run", "--project", str(root)) == 0
    assert len(webhook.bodies) == 2
    assert [r["status"] for r in catalog_rows(assay.Project(root), "assay_alerts")] == ["resolved"]


def test_a_failed_backfill_names_the_backfill_that_fixes_it(
    make_project: MakeProject, webhook: Webhook
) -> None:
    root = events_project(make_project, channels(webhook), BROKEN_SILVER, GOOD_GOLD)
    assert cli("run", "--project", str(root), "--select", "bronze.events") == 0
    assert webhook.bodies == []

    code = cli(
        "backfill", "silver.events", "--start", "2026-01-01", "--end", "2026-01-03",
        "--project", str(root),
    )  # fmt: skip

    assert code == 1
    (firing,) = webhook.bodies
    assert firing["event"] == "failure" and firing["dataset"] == "silver.events"
    assert firing["owner"] == "events-team"
    assert firing["fix"] == "assay backfill silver.events --start 2026-01-01 --end 2026-01-03"
    assert firing["details"]["intervals"] == [
        "2026-01-01T00:00:00/2026-01-02T00:00:00",
        "2026-01-02T00:00:00/2026-01-03T00:00:00",
    ]
    assert firing["details"]["skipped_downstream"] == ["gold.user_daily"]
    assert "bad silver" in firing["summary"]

    (root / "pipelines" / "silver_events.sql").write_text(FIXED_SILVER)
    code = cli(
        "backfill", "silver.events", "--start", "2026-01-01", "--end", "2026-01-03",
        "--project", str(root),
    )  # fmt: skip
    assert code == 0
    assert [(b["status"], b["dataset"]) for b in webhook.bodies] == [
        ("firing", "silver.events"),
        ("resolved", "silver.events"),
    ]


def test_dead_channels_never_fail_the_run_and_are_retried(
    make_project: MakeProject, webhook: Webhook, caplog: pytest.LogCaptureFixture
) -> None:
    refused = dead_url()
    config = {
        "alerts": [
            {"type": "webhook", "url": refused, "timeout_seconds": 5},
            {"type": "webhook", "url": webhook.url},
        ]
    }
    root = events_project(make_project, config, FIXED_SILVER, BROKEN_GOLD)
    webhook.status = 500

    with caplog.at_level(logging.ERROR, logger="assay.alerts"):
        result = assay.Project(root).run()

    # The run's own outcome stands: the silver data is in, gold failed for its own reason.
    assert result.result("silver.events").status == "success"
    assert result.result("gold.user_daily").status == "failed"
    logged = caplog.text
    assert f"webhook:{refused}: webhook unreachable" in logged
    assert f"webhook:{webhook.url}: webhook answered HTTP 500" in logged
    project = assay.Project(root)
    errors = {
        r["channel"]: r["last_error"] for r in catalog_rows(project, "assay_alert_deliveries")
    }
    assert "HTTP 500" in errors[f"webhook:{webhook.url}"]
    assert len(webhook.requests) == 1  # tried once, refused with a 500

    webhook.status = 200  # the receiver is back: the next evaluation delivers
    from assay.intervals import utcnow

    check_periodic(project.runtime, utcnow())
    assert len(webhook.requests) == 2
    assert webhook.bodies[1]["event"] == "failure"
    delivered = {r["channel"]: r for r in catalog_rows(project, "assay_alert_deliveries")}
    assert delivered[f"webhook:{webhook.url}"]["firing_sent_at"] is not None
    assert delivered[f"webhook:{webhook.url}"]["last_error"] is None
    assert delivered[f"webhook:{refused}"]["firing_sent_at"] is None

    check_periodic(project.runtime, utcnow())
    assert len(webhook.requests) == 2  # delivered once: not again


def test_the_log_hears_of_every_alert_without_any_channel(
    make_project: MakeProject, caplog: pytest.LogCaptureFixture
) -> None:
    root = events_project(make_project, {}, FIXED_SILVER, BROKEN_GOLD)

    with caplog.at_level(logging.INFO, logger="assay.alerts"):
        assay.Project(root).run()
        (root / "pipelines" / "gold_user_daily.sql").write_text(GOOD_GOLD)
        assay.Project(root).run()

    lines = [r.getMessage() for r in caplog.records if r.name == "assay.alerts"]
    assert len(lines) == 2
    assert lines[0].startswith("[FIRING] failure: gold.user_daily failed")
    assert f"owner {OWNER}; fix: assay run --select gold.user_daily" in lines[0]
    assert lines[1].startswith("[RESOLVED] failure: gold.user_daily failed")
