"""`/streams` in a real browser. On a copy of the UI tests' fraud project whose live folder
stream took four arrivals (the last two poisoned, with stragglers): lag, dead letters and
late events are what the Delta tables hold (deltalake and pandas) and the folder's lines
say, and the throughput, late-rows and watermark charts drew data. On the UI project
itself, where the stream never ran, the page says how to start it."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from deltalake import DeltaTable

import assay
from tests.server.ui.conftest import EXAMPLE, KEYS, UiPage, _watch, sign_in
from tests.server.ui.pages_helpers import as_builder, copy_project, serve_project, signed_in

STREAM = "bronze.live_transactions"
LATE = ("late/silver_card_activity_10m", "late/silver_card_activity_1h")


@pytest.fixture(scope="module")
def streamed_root(ui_project: assay.Project, tmp_path_factory: pytest.TempPathFactory) -> Path:
    sys.path.insert(0, str(EXAMPLE))
    import live

    root = copy_project(ui_project, tmp_path_factory.mktemp("streams_page") / "fraud")
    with as_builder():
        project = assay.Project(root)
        for arrival in range(4):
            live.write_arrival(root, 300, minute=10 * arrival, seed=arrival, poison=arrival >= 2)
            project.stream(STREAM, until_idle=True)
    return root


@pytest.fixture(scope="module")
def streams_url(streamed_root: Path) -> Iterator[str]:
    yield from serve_project(streamed_root)


def _table(root: Path, path: str) -> pd.DataFrame:
    return DeltaTable(str(root / "warehouse" / path)).to_pandas()


def test_a_running_stream_shows_its_numbers_and_history(
    browser: Any, streams_url: str, streamed_root: Path, screenshot: Any
) -> None:
    dead = _table(streamed_root, "deadletter/bronze_live_transactions")
    late = pd.concat([_table(streamed_root, p) for p in LATE])
    late_events = len(late[["_partition", "_offset"]].drop_duplicates())
    with signed_in(browser, streams_url) as ui:
        ui.goto("/streams")
        section = ui.page.locator(f'section.stream[data-stream="{STREAM}"]')

        def kpi(name: str) -> str:
            return str(section.locator(f'[data-kpi="{name}"]').inner_text()).replace(",", "")

        assert int(kpi("dead")) == len(dead) > 0
        assert int(kpi("late")) == late_events > 0
        assert int(kpi("lag")) == 0  # every line of the folder is in the table
        marks = ui.chart_marks()
        assert len(marks) == 3 and all(n > 0 for n in marks), marks
        assert section.locator(f'h2 a[href="/datasets/{STREAM}"]').count() == 1
        screenshot(ui.page, "streams")


#: A browser far from UTC: the page must still show UTC times.
FAR_FROM_UTC = "America/Los_Angeles"


def _chart_spec(ui: UiPage, title: str) -> dict[str, Any]:
    specs = ui.page.evaluate(
        "[...document.querySelectorAll('.chart')].map(c => JSON.parse(c.dataset.vega))"
    )
    titles = [
        spec["title"] if isinstance(spec["title"], str) else spec["title"]["text"] for spec in specs
    ]
    return specs[titles.index(title)]


def test_numbers_and_times_read_as_the_cli_prints_them(
    browser: Any, streams_url: str, streamed_root: Path
) -> None:
    """rows/s as `assay status` prints it, late events counted once in the card and the
    chart, and times in UTC and 24-hour in a browser whose clock is not on UTC."""
    from rich.console import Console

    from assay.cli.render import streams_table

    with as_builder():
        (status,) = assay.Project(streamed_root).stream_status()
    console = Console(record=True, width=400)
    console.print(streams_table([status]))
    cli_row = next(line for line in console.export_text().splitlines() if STREAM in line)
    late = pd.concat([_table(streamed_root, p) for p in LATE])
    context = browser.new_context(viewport={"width": 1400, "height": 900}, timezone_id=FAR_FROM_UTC)
    try:
        ui = _watch(context.new_page(), streams_url)
        sign_in(ui.page, streams_url, KEYS["admin"])
        ui.goto("/streams")
        section = ui.page.locator(f'section.stream[data-stream="{STREAM}"]')
        rate = section.locator('[data-kpi="rate"]').inner_text().strip()
        assert rate == f"{status.rows_per_second:,.0f}" and f" {rate} " in f" {cli_row} "
        assert "e+" not in rate
        # The card and the chart count the same thing: events, each once.
        chart = _chart_spec(ui, "Late events per micro-batch")
        charted = sum(row["late events"] for row in chart["data"]["values"])
        card = int(section.locator('[data-kpi="late"]').inner_text().replace(",", ""))
        events = len(late[["_partition", "_offset"]].drop_duplicates())
        assert charted == card == events == status.late > 0
        caption = section.locator(".late-caption").inner_text()
        for path in LATE:
            rows = len(_table(streamed_root, path))
            assert f"late.{path.split('/')[1]} {rows:,} rows" in caption
        # The watermark axis: 24-hour UTC hours of the watermarks themselves.
        labels = ui.page.evaluate(
            """() => [...window.assayCharts[2].view.container()
                    .querySelectorAll('.role-axis-label text')].map(t => t.textContent)"""
        )
        hours = {int(label[:2]) for label in labels if re.fullmatch(r"\d\d:\d\d", label)}
        wm = pd.Series([m.value for m in status_marks(streamed_root)])
        span = pd.date_range(wm.min().floor("h"), wm.max().ceil("h"), freq="h")
        assert hours and hours <= {t.hour for t in span}, (labels, wm)
        spec = _chart_spec(ui, "Watermark after each window commit")
        assert spec["encoding"]["y"]["scale"]["type"] == "utc"
        if wm.min().date() == wm.max().date():  # the day is in the title
            assert spec["encoding"]["y"]["title"] == f"{wm.min().date()} UTC"
        for tip in spec["encoding"]["tooltip"] + chart["encoding"]["tooltip"]:
            if tip["type"] == "temporal":  # tooltips: UTC times, rounded numbers
                assert (tip["formatType"], tip["format"]) == ("utc", "%Y-%m-%d %H:%M:%S")
            else:
                assert tip["type"] != "quantitative" or tip["format"] == ",.3~f"
        assert not ui.problems(), ui.problems()
    finally:
        context.close()


def status_marks(root: Path) -> list[Any]:
    """The watermarks after each window commit, as the streams view reads them."""
    from assay.catalog_views.streams_view import streams_view

    with as_builder():
        (view,) = streams_view(assay.Project(root).runtime)
    return view.watermarks


def test_a_stream_that_never_ran_says_how_to_start_it(ui: UiPage) -> None:
    ui.goto("/streams")
    section = ui.page.locator(f'section.stream[data-stream="{STREAM}"]')
    assert f"assay stream {STREAM}" in section.inner_text()
    assert ui.chart_marks() == []
