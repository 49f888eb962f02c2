"""`/streams` in a real browser. On a copy of the UI tests' fraud project whose live folder
stream took four arrivals (the last two poisoned, with stragglers): lag, dead letters and
late events are what the Delta tables hold (deltalake and pandas) and the folder's lines
say, and the throughput, late-rows and watermark charts drew data. On the UI project
itself, where the stream never ran, the page says how to start it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from deltalake import DeltaTable

import assay
from tests.server.ui.conftest import EXAMPLE, UiPage
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


def test_a_stream_that_never_ran_says_how_to_start_it(ui: UiPage) -> None:
    ui.goto("/streams")
    section = ui.page.locator(f'section.stream[data-stream="{STREAM}"]')
    assert f"assay stream {STREAM}" in section.inner_text()
    assert ui.chart_marks() == []
