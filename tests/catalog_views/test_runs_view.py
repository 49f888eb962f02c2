"""The runs page's read model against the catalog's tables read directly with pandas, on
the fraud example (a failed first run, then a successful one)."""

from __future__ import annotations

import pandas as pd
import pytest

import assay
from assay.catalog_views.runs_view import fix_command, runs_view


def _frame(project: assay.Project, sql: str) -> pd.DataFrame:
    return pd.read_sql(sql, project.catalog.engine)


def test_bars_are_the_dataset_runs_with_their_durations(fraud: assay.Project) -> None:
    view = runs_view(fraud.runtime)
    expected = _frame(
        fraud,
        "SELECT d.run_id, d.dataset, d.status, d.started_at, d.finished_at, r.command "
        "FROM assay_dataset_runs d JOIN assay_runs r USING (run_id) ORDER BY d.id",
    )
    assert len(view.bars) == len(expected) > 10
    assert [(b.run_id, b.dataset, b.status) for b in view.bars] == list(
        expected[["run_id", "dataset", "status"]].itertuples(index=False, name=None)
    )
    seconds = (
        pd.to_datetime(expected["finished_at"]) - pd.to_datetime(expected["started_at"])
    ).dt.total_seconds()
    assert [b.seconds for b in view.bars] == pytest.approx(seconds.tolist())
    assert {b.command for b in view.bars} == set(expected["command"])
    assert set(view.datasets) == set(expected["dataset"])


def test_a_failure_shows_its_message_and_the_fix_its_alert_printed(fraud: assay.Project) -> None:
    view = runs_view(fraud.runtime)
    failed = _frame(
        fraud, "SELECT run_id, dataset, error FROM assay_dataset_runs WHERE status = 'failed'"
    )
    assert [(f.run_id, f.dataset) for f in view.failures] == list(
        failed[["run_id", "dataset"]].itertuples(index=False, name=None)
    )
    (failure,) = view.failures
    assert failure.dataset == "silver.transactions"
    assert failure.error == failed["error"][0]
    assert failure.message.startswith("SQL failed: Binder Error")
    assert "device_id" in failure.message
    # The alert that fired for this run, as the catalog stored it.
    alert = _frame(
        fraud,
        "SELECT fix FROM assay_alerts WHERE event = 'failure' "
        f"AND dataset = 'silver.transactions' AND run_id = '{failure.run_id}'",
    )
    assert failure.fix == alert["fix"][0]
    assert failure.fix.startswith("assay backfill silver.transactions --start 2026-06-01")
    assert failure.recovered  # the second run built it


def test_without_an_alert_the_fix_is_what_the_alert_would_say_now(fraud: assay.Project) -> None:
    rt = fraud.runtime
    # Every interval of silver.transactions is done now: no backfill is pending, a re-run.
    assert fix_command(rt, "silver.transactions", "r0", "boom") == (
        "assay run --select silver.transactions"
    )
    assert fix_command(rt, "silver.gone", "r0", "boom") == "assay run --select silver.gone"


def test_a_dataset_filter_keeps_its_runs_only(fraud: assay.Project) -> None:
    view = runs_view(fraud.runtime, "gold.card_daily")
    expected = _frame(
        fraud, "SELECT run_id FROM assay_dataset_runs WHERE dataset = 'gold.card_daily' ORDER BY id"
    )
    assert [b.run_id for b in view.bars] == expected["run_id"].tolist()
    assert view.datasets == ["gold.card_daily"]
    assert view.failures == []


def test_an_empty_project_has_no_runs(tmp_path: object) -> None:
    root = assay.init_project(str(tmp_path))
    view = runs_view(assay.Project(root).runtime)
    assert (view.bars, view.failures, view.datasets) == ([], [], [])


def test_each_datasets_last_build_is_the_one_status_shows(fraud: assay.Project) -> None:
    from assay.catalog_views.runs_view import last_builds

    builds = runs_view(fraud.runtime).builds
    worked = _frame(
        fraud,
        "SELECT dataset, run_id, status, started_at FROM assay_dataset_runs "
        "WHERE status IN ('success', 'failed') ORDER BY id",
    ).drop_duplicates("dataset", keep="last")
    for row in worked.itertuples():
        assert (builds[row.dataset].run_id, builds[row.dataset].status) == (row.run_id, row.status)
    # `assay status` shows the same last run (its finish time) for every dataset built.
    for status in fraud.status():
        if status.name in set(worked["dataset"]):
            assert builds[status.name].finished_at == status.last_run
            assert builds[status.name].status == status.last_status
    # The stream wrote no run records: its last build is its newest micro-batch commit.
    stream = "bronze.live_transactions"
    newest = next(c for c in fraud.history(stream) if "stream" in c.metadata)
    assert stream not in set(worked["dataset"])
    assert builds[stream].status == "streamed"
    assert (builds[stream].started_at, builds[stream].version) == (newest.timestamp, newest.version)
    assert builds[stream].rows_written == newest.rows_added > 0
    assert set(last_builds(fraud.runtime, stream)) == {stream}


def test_a_one_line_error_is_not_repeated_as_details(fraud: assay.Project) -> None:
    (failure,) = runs_view(fraud.runtime).failures
    rest = failure.error.strip().partition("\n")[2]
    assert failure.details == rest.strip()
    assert failure.message not in failure.details
