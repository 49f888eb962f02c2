"""Cost accounting never costs a run its result: a recording that fails is logged and the
run stands; budgets that cannot be evaluated leave the run's other alerts alone."""

from __future__ import annotations

import logging

import pytest

import assay
import assay.catalog_views.cost_view as cost_view
import assay.cost.record as record
from assay.catalog.alert_state import AlertStore
from assay.catalog.run_costs import usage_between
from assay.orchestration.evaluate import alert_run
from assay.pipelines.runner import DatasetResult, RunResult
from tests.conftest import MakeProject
from tests.cost.test_run_usage import PIPELINES


def test_a_failed_recording_is_logged_and_the_run_stands(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object) -> None:
        raise OSError("catalog disk gone")

    monkeypatch.setattr(record, "record_usage", broken)
    project = assay.Project(make_project(PIPELINES))
    with caplog.at_level(logging.ERROR, logger="assay.cost.record"):
        result = project.run()
    assert result.ok and result.result("silver.events").rows_written == 301
    assert project.table("gold.totals").num_rows == 1
    assert usage_between(project.runtime.catalog) == []
    assert "resource use of silver.events in run" in caplog.text


def test_budgets_that_cannot_be_evaluated_leave_other_alerts(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    sql = {"pipelines/x.sql": "-- name: silver.x\n-- owner: ana\nSELECT 1 AS a\n"}
    root = make_project(sql, {"cost": {"budgets": {"ana": 1.0}}})
    rt = assay.Project(root).runtime

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("table folder unreadable")

    monkeypatch.setattr(cost_view, "budgets_of", broken)
    failed = DatasetResult("silver.x", "failed", error="boom", cause="failure")
    with caplog.at_level(logging.ERROR, logger="assay.alerts"):
        alert_run(rt, RunResult("r1", [failed], 1.0))
    assert [a.key.event for a in AlertStore(rt.catalog).open_alerts()] == ["failure"]
    assert "budgets could not be evaluated" in caplog.text
