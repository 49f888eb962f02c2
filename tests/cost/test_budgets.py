"""Budgets per owner: an owner whose month-to-date cost passes its budget gets a `budget`
alert through the alert channels (a real webhook receiver and SMTP server), `assay alerts`
lists it, and it resolves when the owner is back within budget or a new month begins."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

import assay
from assay.catalog.alert_state import AlertStore
from assay.cli.main import app
from assay.cost.budgets import month_window
from assay.intervals import utcnow
from assay.orchestration.evaluate import alert_run, budget_alerts
from assay.pipelines.runner import RunResult
from tests.conftest import MakeProject
from tests.cost.test_run_usage import PIPELINES
from tests.orchestration.receivers import (  # noqa: F401 - fixtures
    Mailbox,
    Webhook,
    smtp_receiver,
    webhook_receiver,
)

# Storage priced at 0: the month-to-date amount then does not grow while the test runs.
PRICES = {"cpu_hour": 3600.0, "gb_scanned": 1000.0, "gb_month": 0.0}


def invoke(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def budgeted(make_project: MakeProject, webhook: Webhook, smtp: Mailbox, analytics: float) -> Path:
    config = {
        "cost": {**PRICES, "budgets": {"analytics": analytics, "ingest": 1e6}},
        "alerts": [
            {"type": "webhook", "url": webhook.url, "on": ["budget"]},
            {
                "type": "email",
                "to": ["finops@example.com"],
                "smtp": {"host": "127.0.0.1", "port": smtp.port},
            },
        ],
    }
    return make_project(PIPELINES, config, name="budgets")


def set_budget(root: Path, owner: str, amount: float) -> None:
    path = root / "assay.yaml"
    settings = yaml.safe_load(path.read_text())
    settings["cost"]["budgets"][owner] = amount
    path.write_text(yaml.safe_dump(settings))


def test_an_owner_over_budget_is_alerted_and_resolves_within_it(
    make_project: MakeProject, webhook: Webhook, smtp_server: Mailbox
) -> None:
    root = budgeted(make_project, webhook, smtp_server, analytics=0.001)
    invoke("run", "-p", str(root))

    # Only analytics is over (ingest's budget is a million).
    (firing,) = webhook.bodies
    month = f"{utcnow():%Y-%m}"
    assert (firing["event"], firing["status"]) == ("budget", "firing")
    assert (firing["dataset"], firing["owner"]) == ("owner:analytics", "analytics")
    assert f"budgeted for {month} (projected " in firing["summary"]
    start, _ = month_window(utcnow())
    assert firing["fix"] == f"assay cost --by dataset --since {start:%Y-%m-%d}"
    # The amount is what `assay cost` says the owner spent this month.
    since = start.isoformat()
    cost = json.loads(invoke("cost", "-p", str(root), "--by", "owner", "--since", since,
                             "--format", "json").stdout)  # fmt: skip
    (line,) = [x for x in cost["lines"] if x["key"] == "analytics"]
    assert firing["details"]["spent"] == line["total"] > 0.001
    assert firing["details"]["budget"] == 0.001 and firing["details"]["over"] is True
    (status,) = [b for b in cost["budgets"] if b["owner"] == "analytics"]
    assert status["over"] is True and status["spent"] == line["total"]
    ((_, recipients, mail),) = smtp_server.mails
    assert recipients == ["finops@example.com"]
    assert mail["Subject"].startswith("[assay] [FIRING] budget: analytics spent ")

    listed = invoke("alerts", "-p", str(root)).output
    assert "owner:analytics" in listed and "budget" in listed

    # A bigger budget: the next evaluation finds analytics within it and resolves.
    set_budget(root, "analytics", 1e6)
    invoke("run", "-p", str(root))
    assert [b["status"] for b in webhook.bodies] == ["firing", "resolved"]
    assert AlertStore(assay.Project(root).catalog).open_alerts() == []


def test_a_new_month_starts_within_budget(
    make_project: MakeProject, webhook: Webhook, smtp_server: Mailbox
) -> None:
    root = budgeted(make_project, webhook, smtp_server, analytics=0.001)
    invoke("run", "-p", str(root))
    rt = assay.Project(root).runtime
    now = utcnow()
    assert [a.key.dataset for a in budget_alerts(rt, now)[0]] == ["owner:analytics"]

    _, next_month = month_window(now)
    later = next_month + timedelta(hours=1)
    assert budget_alerts(rt, later)[0] == []  # nothing spent yet in the new month
    alert_run(rt, RunResult("next", [], 0.0), now=later)
    assert [b["status"] for b in webhook.bodies] == ["firing", "resolved"]
