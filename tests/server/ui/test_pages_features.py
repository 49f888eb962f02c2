"""`/features` in a real browser. On the UI tests' fraud project: every feature view is
listed with its source (a link to its page) and the freshness of its source (the Delta
table's version and newest event, read with deltalake and pandas), drift charts draw PSI
and KS for the views over gold tables, and a project without request logging or models
says how to get them. On a copy that materializes and serves logged requests: skew per
feature counts what the request log holds (pandas)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from deltalake import DeltaTable
from fastapi.testclient import TestClient

import assay
from assay.catalog_views.features_view import MAX_WINDOWS, MIN_ROWS
from assay.server.app import create_app
from tests.server.ui.conftest import KEYS, UiPage
from tests.server.ui.pages_helpers import as_builder, copy_project, serve_project, signed_in

#: Views over gold tables: their features are columns, so their drift can be charted.
COLUMN_VIEWS = ("card_daily", "merchant_daily")


def charted_views(root: Path, views: dict[str, Any]) -> list[str]:
    """The column views whose source has two windows or more of `MIN_ROWS` values, in
    windows of a day, else a week, else a month (the finest whose median window holds
    `MIN_ROWS`), counted with pandas."""
    found = []
    for name in COLUMN_VIEWS:
        layer, table = views[name].source.split(".")
        column = views[name].timestamp
        stamps = pd.to_datetime(
            DeltaTable(str(root / "warehouse" / layer / table)).to_pandas(columns=[column])[column]
        )
        counts = stamps.dt.to_period("M").value_counts()
        for period in ("D", "W-SUN"):
            per_window = stamps.dt.to_period(period).value_counts()
            if len(per_window) <= MAX_WINDOWS and per_window.median() >= MIN_ROWS:
                counts = per_window
                break
        if (counts >= MIN_ROWS).sum() >= 2:
            found.append(name)
    return found


def test_the_views_their_freshness_and_drift(ui: UiPage, ui_project: Any, screenshot: Any) -> None:
    ui.goto("/features")
    views = ui_project.features.views
    rows = ui.page.locator("#feature-views tbody tr")
    assert sorted(rows.evaluate_all("rows => rows.map(r => r.dataset.view)")) == sorted(views)
    for name in COLUMN_VIEWS:
        source = views[name].source
        layer, table = source.split(".")
        delta = DeltaTable(str(Path(ui_project.root) / "warehouse" / layer / table))
        row = ui.page.locator(f'#feature-views tr[data-view="{name}"]')
        assert f"v{delta.version()}" in row.inner_text()
        newest = delta.to_pandas(columns=["event_time"])["event_time"].max()
        assert pd.Timestamp(newest).strftime("%Y-%m-%d %H:%M:%S") in row.inner_text()
        assert "assay features materialize" in row.locator("td.online").inner_text()
    charted = charted_views(Path(ui_project.root), views)
    assert "card_daily" in charted
    drift = ui.page.locator(".drift")
    assert sorted(drift.evaluate_all("d => d.map(e => e.dataset.view)")) == charted
    marks = ui.chart_marks()
    assert len(marks) == 2 * len(charted) and all(n > 0 for n in marks), marks
    assert "server.log_sample_rate" in ui.page.locator("#no-skew").inner_text()
    assert "@assay.model" in ui.page.locator("#no-models").inner_text()
    screenshot(ui.page, "features")
    ui.page.locator(
        '#feature-views tr[data-view="card_daily"] a[href="/datasets/gold.card_daily"]'
    ).click()
    ui.page.wait_for_load_state("load")
    assert ui.page.url.endswith("/datasets/gold.card_daily")


@pytest.fixture(scope="module")
def served_root(ui_project: assay.Project, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_project(ui_project, tmp_path_factory.mktemp("features_page") / "fraud")
    config = yaml.safe_load((root / "assay.yaml").read_text())
    config["server"]["log_sample_rate"] = 1.0
    (root / "assay.yaml").write_text(yaml.safe_dump(config))
    with as_builder():
        project = assay.Project(root)
        project.features.materialize()
        entities = [{"card_id": n, "merchant_id": n % 40 + 1} for n in range(1, 31)]
        with TestClient(create_app(project)) as client:  # leaving it flushes the log
            for start in range(0, len(entities), 10):
                body = {"entities": entities[start : start + 10], "service": "fraud_model"}
                answer = client.post("/features", json=body, headers={"X-API-Key": KEYS["admin"]})
                assert answer.status_code == 200, answer.text
    return root


@pytest.fixture(scope="module")
def served_url(served_root: Path) -> Iterator[str]:
    yield from serve_project(served_root)


def test_skew_and_online_freshness_of_a_serving_project(
    browser: Any, served_url: str, served_root: Path
) -> None:
    logged = DeltaTable(str(served_root / "warehouse" / "logs" / "feature_requests")).to_pandas()
    with signed_in(browser, served_url) as ui:
        ui.goto("/features")
        rows = ui.page.locator("#skew tbody tr")
        shown = dict(
            rows.evaluate_all(
                "rows => rows.map(r => [r.dataset.feature,"
                " Number(r.cells[1].innerText.replace(/,/g, ''))])"
            )
        )
        assert shown == logged.groupby("feature").size().to_dict()
        online = ui.page.locator('#feature-views tr[data-view="card_daily"] td.online').inner_text()
        assert "rows from v" in online
