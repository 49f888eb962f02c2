"""`/quality` in a real browser on the UI tests' fraud project: its charts draw every rule
outcome and every (rule, day) of quarantine (counted with pandas over the catalog and the
quarantine Delta tables), the latest results are the catalog's, dataset names link to
their pages; and, on a copy whose analyst reads bronze.transactions with card numbers
masked, the analyst sees its quarantined rows counted but without their raw records
(which hold the card numbers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from deltalake import DeltaTable

import assay
from tests.server.ui.conftest import UiPage
from tests.server.ui.pages_helpers import as_builder, copy_project, serve_project, signed_in

MASKED = "bronze.transactions.card_number"


def _quarantined(root: Path) -> dict[str, pd.DataFrame]:
    folder = root / "warehouse" / "quarantine"
    return {f"quarantine.{p.name}": DeltaTable(str(p)).to_pandas() for p in folder.iterdir()}


def test_the_quality_page_charts_every_outcome_and_quarantine_day(
    ui: UiPage, ui_project: Any, screenshot: Any
) -> None:
    with as_builder():
        results = pd.read_sql(
            "SELECT run_id, dataset, rule, status FROM assay_check_results ORDER BY id",
            ui_project.catalog.engine,
        )
    groups = sum(
        rows.groupby([rows["rule"], pd.to_datetime(rows["quarantined_at"]).dt.date]).ngroups
        for rows in _quarantined(Path(ui_project.root)).values()
    )
    ui.goto("/quality")
    rules, counts, quarantine = ui.chart_marks()
    assert (results["dataset"] + results["rule"]).nunique() <= 60  # every rule is charted
    assert rules == len(results)  # a cell per rule and run
    assert counts == results.groupby(["run_id", "status"]).ngroups  # a bar per run and status
    assert quarantine == groups > 0
    # Latest results of silver.transactions: its newest run's rules, in order.
    mine = results[results["dataset"] == "silver.transactions"]
    newest = mine[mine["run_id"] == mine["run_id"].iloc[-1]]
    table = ui.page.locator('table.latest[data-dataset="silver.transactions"] tbody tr')
    assert table.evaluate_all("rows => rows.map(r => r.dataset.rule)") == newest["rule"].tolist()
    # The admin reads raw records: the card numbers of malformed transaction lines.
    assert '"card_number":"4' in ui.page.locator("#quarantine-sample").inner_text()
    ui.page.locator('[id="latest-silver.transactions"] a').click()
    ui.page.wait_for_load_state("load")
    assert ui.page.url.endswith("/datasets/silver.transactions")
    ui.goto("/quality")
    screenshot(ui.page, "quality")


@pytest.fixture(scope="module")
def masked_url(
    ui_project: assay.Project, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    root = copy_project(ui_project, tmp_path_factory.mktemp("quality_page") / "fraud")
    config = yaml.safe_load((root / "assay.yaml").read_text())
    config["roles"]["analyst"]["masks"][MASKED] = "hash"
    (root / "assay.yaml").write_text(yaml.safe_dump(config))
    yield from serve_project(root)


def test_a_masked_reader_sees_counts_without_raw_records(
    browser: Any, masked_url: str, ui_project: assay.Project
) -> None:
    total = sum(len(rows) for rows in _quarantined(Path(ui_project.root)).values())
    with signed_in(browser, masked_url, "analyst") as analyst:
        analyst.goto("/quality")
        withheld = analyst.page.locator("#withheld").inner_text()
        assert "quarantine.bronze_transactions" in withheld
        sample = analyst.page.locator("#quarantine-sample")
        assert "card_number" not in sample.inner_text()
        assert sample.locator(".masked").count() > 0
        shown = analyst.page.locator("#quality-totals .value[data-value]").get_attribute(
            "data-value"
        )
        assert int(shown or 0) == total > 0  # every quarantined row is counted
        assert all(n > 0 for n in analyst.chart_marks())


#: The smallest readable label (the trial saw the heatmap's rule names ~5 px tall).
READABLE_PX = 11
#: The width the heatmap cuts rule names at (quality.RULE_LABEL_LIMIT_PX).
LABEL_LIMIT_PX = 300


def test_the_rule_heatmap_labels_are_readable_and_cells_name_the_rule(
    ui: UiPage, ui_project: Any
) -> None:
    with as_builder():
        results = pd.read_sql(
            "SELECT DISTINCT dataset, rule FROM assay_check_results", ui_project.catalog.engine
        )
    names = {f"{r.dataset} · {r.rule}" for r in results.itertuples()}
    ui.goto("/quality")
    labels = ui.page.evaluate(
        """() => [...window.assayCharts[0].view.container()
                .querySelectorAll('.role-axis-label text')]
            .map(t => ({text: t.textContent, size: parseFloat(t.getAttribute('font-size')),
                        height: t.getBoundingClientRect().height,
                        width: t.getBoundingClientRect().width}))"""
    )
    rows = [
        label for label in labels if any(n.startswith(label["text"].rstrip("…")) for n in names)
    ]
    assert len(rows) == len(names)  # a row label per rule
    for label in rows:
        assert label["size"] >= READABLE_PX and label["height"] >= READABLE_PX, label
        assert label["width"] <= LABEL_LIMIT_PX + 1, label  # long names are cut...
    spec = ui.page.evaluate(
        "JSON.parse(document.querySelector('#rules-chart .chart').dataset.vega)"
    )
    assert "rule" in [tip["field"] for tip in spec["encoding"]["tooltip"]]
    assert {row["rule"] for row in spec["data"]["values"]} == names  # ...the tooltip is whole
