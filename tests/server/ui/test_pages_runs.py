"""`/runs` in a real browser, on a copy of the UI tests' project whose gold.card_daily was
then broken (its SQL reads a column that does not exist) and run again: the timeline and
durations charts draw every dataset run, the failure shows its message and the fix
command its alert printed (read from the catalog with pandas), and a click on the
dataset's name opens its page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import assay
from tests.server.ui.pages_helpers import as_builder, copy_project, serve_project, signed_in

BROKEN = "gold.card_daily"


@pytest.fixture(scope="module")
def failed_root(ui_project: assay.Project, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_project(ui_project, tmp_path_factory.mktemp("runs_page") / "fraud")
    sql = root / "pipelines" / "gold_card_daily.sql"
    sql.write_text(sql.read_text().replace("count(*)", "count(no_such_column)", 1))
    with as_builder():
        result = assay.Project(root).run()
    assert [r.dataset for r in result.failed] == [BROKEN]
    return root


@pytest.fixture(scope="module")
def runs_url(failed_root: Path) -> Iterator[str]:
    yield from serve_project(failed_root)


def _catalog(root: Path, sql: str) -> pd.DataFrame:
    with as_builder():
        return pd.read_sql(sql, assay.Project(root).catalog.engine)


def test_the_timeline_and_durations_draw_every_run(
    browser: Any, runs_url: str, failed_root: Path, screenshot: Any
) -> None:
    runs = _catalog(failed_root, "SELECT dataset FROM assay_dataset_runs")
    with signed_in(browser, runs_url) as ui:
        ui.goto("/runs")
        timeline, durations = ui.chart_marks()
        assert timeline == len(runs)  # a bar per dataset run
        assert durations > 0
        shown = ui.page.locator("#run-summary tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.dataset)"
        )
        assert sorted(shown) == sorted(set(runs["dataset"]))
        # Every dataset is in the durations legend, inside the chart (not cut off).
        legend = ui.page.evaluate(
            """() => { const box = window.assayCharts[1].view.container()
                           .querySelector('svg').getBoundingClientRect();
                       return [...window.assayCharts[1].view.container()
                           .querySelectorAll('.role-legend-label text')].map(t => {
                           const r = t.getBoundingClientRect();
                           return {text: t.textContent,
                                   inside: r.top >= box.top && r.bottom <= box.bottom + 1}; }); }"""
        )
        assert sorted(label["text"] for label in legend) == sorted(set(runs["dataset"]))
        assert len(legend) > 10 and all(label["inside"] for label in legend), legend
        screenshot(ui.page, "runs")


def test_a_failure_shows_its_message_and_fix_and_links_its_dataset(
    browser: Any, runs_url: str, failed_root: Path
) -> None:
    alert = _catalog(
        failed_root,
        f"SELECT fix, run_id FROM assay_alerts WHERE dataset = '{BROKEN}' AND event = 'failure'",
    )
    with signed_in(browser, runs_url) as ui:
        ui.goto("/runs")
        row = ui.page.locator(f'#failures tr[data-dataset="{BROKEN}"]')
        assert row.count() == 1
        assert row.get_attribute("data-run") == alert["run_id"][0]
        message = row.locator("td.message")
        assert "no_such_column" in message.inner_text()
        if message.locator("summary").count():  # open the details: still said once
            message.locator("summary").click()
        error = _catalog(
            failed_root,
            f"SELECT error FROM assay_dataset_runs WHERE dataset = '{BROKEN}' "
            "AND status = 'failed'",
        )["error"][0]
        first_line = error.strip().splitlines()[0]
        said = message.inner_text()
        assert said.count(first_line.split(": ", 1)[-1][:60]) == 1, said
        fix = row.locator("td.fix code").inner_text()
        assert fix == alert["fix"][0]
        assert fix.startswith(f"assay backfill {BROKEN} --start ")
        assert row.locator(".badge").inner_text() == "still failing"
        row.locator(f'a[href="/datasets/{BROKEN}"]').click()
        ui.page.wait_for_load_state("load")
        assert ui.page.url.endswith(f"/datasets/{BROKEN}")
        assert BROKEN in ui.page.locator("h1").inner_text()


def test_a_dataset_filter_and_an_unknown_name(
    browser: Any, runs_url: str, failed_root: Path
) -> None:
    runs = _catalog(failed_root, f"SELECT id FROM assay_dataset_runs WHERE dataset = '{BROKEN}'")
    with signed_in(browser, runs_url) as ui:
        ui.goto(f"/runs?dataset={BROKEN}")
        assert ui.chart_marks()[0] == len(runs)
        assert ui.page.locator("#run-summary tbody tr").count() == 1
        ui.allow(r"HTTP 404: .*/runs\?dataset=silver\.nope")
        ui.allow(r"console error: Failed to load resource: .* 404")
        response = ui.goto("/runs?dataset=silver.nope")
        assert response.status == 404
        assert "No dataset named" in ui.page.locator("#unknown-dataset").inner_text()


def test_each_dataset_shows_its_last_run_and_its_last_build(
    browser: Any, runs_url: str, failed_root: Path
) -> None:
    """The summary's last build is `assay status`' last run: the catalog's newest run that
    did work or failed, with its time, duration and rows written (the run just before
    was an up-to-date check for most datasets, which the last run column shows)."""
    from assay.server.ui.web import duration, when

    builds = _catalog(
        failed_root,
        "SELECT dataset, status, started_at, finished_at, rows_written FROM assay_dataset_runs "
        "WHERE status IN ('success', 'failed') ORDER BY id",
    ).drop_duplicates("dataset", keep="last")
    with as_builder():
        statuses = {s.name: s for s in assay.Project(failed_root).status()}
    with signed_in(browser, runs_url) as ui:
        ui.goto("/runs")
        for build in builds.itertuples():
            row = ui.page.locator(f'#run-summary tr[data-dataset="{build.dataset}"]')
            started = pd.Timestamp(build.started_at).to_pydatetime()
            finished = pd.Timestamp(build.finished_at).to_pydatetime()
            assert row.locator("td.build").inner_text().split() == [
                *when(started).split(),
                build.status,
            ]
            assert row.locator("td.build-duration").inner_text() == duration(
                (finished - started).total_seconds()
            )
            rows = "" if pd.isna(build.rows_written) else f"{int(build.rows_written):,}"
            assert row.locator("td.build-rows").inner_text() == rows
            assert statuses[build.dataset].last_status == build.status
            assert statuses[build.dataset].last_run == finished
