"""`stream_lag`: a folder stream whose unread lines exceed its limit alerts on the
periodic check, and resolves once the stream has caught up."""

from __future__ import annotations

import json
from datetime import datetime

import assay
from assay.orchestration.evaluate import check_periodic
from tests.conftest import MakeProject
from tests.orchestration.receivers import Webhook, webhook_receiver  # noqa: F401 - fixture

PIPELINE = """
import assay

assay.folder_stream(
    "bronze.clicks", path="incoming/*.jsonl", timestamp="at", key="id",
    columns={"id": "BIGINT"}, max_batch_rows=10, owner="web-team",
)
"""
NOW = datetime(2026, 3, 1, 12)


def lines(first: int, count: int) -> str:
    return "".join(
        json.dumps({"id": i, "at": f"2026-03-01T11:{i % 60:02d}:00"}) + "\n"
        for i in range(first, first + count)
    )


def test_a_stream_behind_its_limit_alerts_and_resolves_when_caught_up(
    make_project: MakeProject, webhook: Webhook
) -> None:
    root = make_project(
        {"pipelines/clicks.py": PIPELINE, "incoming/a.jsonl": lines(0, 10)},
        {"alerts": [{"type": "webhook", "url": webhook.url}]},
    )
    project = assay.Project(root)
    project.stream("bronze.clicks", until_idle=True)
    (root / "incoming" / "b.jsonl").write_text(lines(10, 25))  # 25 lines not read yet

    check_periodic(project.runtime, NOW, {"bronze.clicks": 25})
    assert webhook.bodies == []  # at the limit is fine
    check_periodic(project.runtime, NOW, {"bronze.clicks": 24})

    (behind,) = webhook.bodies
    assert (behind["event"], behind["dataset"], behind["owner"]) == (
        "stream_lag",
        "bronze.clicks",
        "web-team",
    )
    assert (
        behind["summary"] == "bronze.clicks is 25 records behind its folder, over its limit of 24"
    )
    assert (behind["details"]["lag"], behind["details"]["limit"]) == (25, 24)
    assert behind["fix"] == "assay stream bronze.clicks"

    project.stream("bronze.clicks", until_idle=True)
    assert project.row_count("bronze.clicks") == 35
    check_periodic(project.runtime, NOW, {"bronze.clicks": 24})
    assert [b["status"] for b in webhook.bodies] == ["firing", "resolved"]


def test_the_declared_max_lag_is_the_limit(make_project: MakeProject, webhook: Webhook) -> None:
    declared = PIPELINE.replace('owner="web-team",', 'owner="web-team", max_lag=24,')
    root = make_project(
        {"pipelines/clicks.py": declared, "incoming/a.jsonl": lines(0, 10)},
        {"alerts": [{"type": "webhook", "url": webhook.url}]},
    )
    project = assay.Project(root)
    assert project.datasets["bronze.clicks"].automation.max_lag == 24
    project.stream("bronze.clicks", until_idle=True)
    (root / "incoming" / "b.jsonl").write_text(lines(10, 25))

    check_periodic(project.runtime, NOW)

    (behind,) = webhook.bodies
    assert (behind["event"], behind["details"]["limit"]) == ("stream_lag", 24)
