"""`/cost` in a real browser: it loads without console errors, its charts drew data, its
numbers are `assay cost --format json`'s, budgets show their usage, and the storage table
counts the files delta-rs lists. The project is a copy of the UI tests' fraud project with
budgets added (one owner over, one within)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from deltalake import DeltaTable
from typer.testing import CliRunner

import assay
from assay import intervals
from assay.catalog_views import cost_view
from assay.cli.main import app
from assay.intervals import utcnow
from assay.server.ui.app import create_ui_app
from tests.server.ui.conftest import BUILDER, KEYS, UiPage, _watch, serve, sign_in

BUDGETS = {"risk-team": 1e-9, "crm": 1e6}


@pytest.fixture(scope="module")
def budgeted(ui_project: assay.Project, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cost_page") / "fraud"
    shutil.copytree(ui_project.root, root)
    path = root / "assay.yaml"
    settings = yaml.safe_load(path.read_text())
    settings["cost"] = {"budgets": BUDGETS, "currency": "EUR"}
    path.write_text(yaml.safe_dump(settings))
    return root


@pytest.fixture(scope="module")
def cost_server(budgeted: Path) -> Iterator[str]:
    yield from serve(create_ui_app(assay.Project(budgeted)))


@pytest.fixture
def page(browser: Any, cost_server: str) -> Iterator[UiPage]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    ui = _watch(context.new_page(), cost_server)
    sign_in(ui.page, cost_server, KEYS["admin"])
    yield ui
    problems = ui.problems()
    context.close()
    assert not problems, "the browser saw problems:\n" + "\n".join(problems)


def cost_json(root: Path, by: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("ASSAY_USER", BUILDER)  # roles are on in this project
    args = ["cost", "-p", str(root), "--by", by, "--since", "30d", "--format", "json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    body: dict[str, Any] = json.loads(result.stdout)
    return body


def rows_of(ui: UiPage, table_id: str, key: str) -> dict[str, dict[str, float]]:
    """{row key: {column index: data-value}} of a table on the page."""
    found: dict[str, dict[str, float]] = ui.page.evaluate(
        """([id, key]) => Object.fromEntries([...document.querySelectorAll(`#${id} tbody tr`)]
            .map(tr => [tr.dataset[key], Object.fromEntries([...tr.cells]
                .map((td, i) => [i, td.dataset.value === undefined || td.dataset.value === ''
                                     ? null : Number(td.dataset.value)]))]))""",
        [table_id, key],
    )
    return found


def freeze_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """One "now" for the page and the command: storage accrues by the second from each
    table's creation, and the tables are minutes old."""
    now = utcnow()
    monkeypatch.setattr(intervals, "utcnow", lambda: now)
    monkeypatch.setattr(cost_view, "utcnow", lambda: now)


def test_the_cost_page_shows_what_assay_cost_says(
    page: UiPage, budgeted: Path, screenshot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    freeze_now(monkeypatch)
    page.goto("/cost")
    # Both charts drew marks: the daily bars (stacked by owner) and the dataset bars.
    marks = page.chart_marks()
    assert len(marks) == 2 and all(n > 0 for n in marks), marks
    for by in ("owner", "tag", "dataset"):
        expected = cost_json(budgeted, by, monkeypatch)
        shown = rows_of(page, f"cost-by-{by}", "key")
        assert set(shown) == {line["key"] for line in expected["lines"]}
        for line in expected["lines"]:
            cells = shown[line["key"]]
            for index, field in enumerate(("compute", "scan", "storage", "total", "share"), 1):
                assert cells[str(index)] == pytest.approx(line[field], rel=1e-9, abs=1e-15), (
                    by,
                    line["key"],
                    field,
                )
    owners = cost_json(budgeted, "owner", monkeypatch)
    assert {line["key"] for line in owners["lines"]} >= {"risk-team", "crm"}

    budgets = rows_of(page, "budgets", "owner")
    assert set(budgets) == set(BUDGETS)
    status = {b["owner"]: b for b in owners["budgets"]}
    for owner in BUDGETS:
        assert budgets[owner]["2"] == pytest.approx(status[owner]["spent"], rel=1e-9)
    over = page.page.locator('#budgets tr[data-owner="risk-team"]')
    assert over.locator(".badge").inner_text() == "over budget"
    assert over.locator("meter").get_attribute("value") == "1"
    within = page.page.locator('#budgets tr[data-owner="crm"]')
    assert within.locator(".badge").inner_text() in ("within", "projected over")

    # Storage per table: the file counts are the tables' current files per delta-rs.
    storage = rows_of(page, "storage", "table")
    warehouse = assay.Project(budgeted).runtime.warehouse
    assert set(storage) == set(warehouse.list_tables())
    for name, cells in storage.items():
        assert cells["3"] == len(DeltaTable(warehouse.uri(name)).file_uris()), name
    # A dataset name links to its page.
    link = page.page.locator('#cost-by-dataset a[href="/datasets/silver.transactions"]')
    assert link.count() == 1
    screenshot(page.page, "cost")


#: Money as the tables show it: 2 decimals at or above 1, else 6, or 0.00.
MONEY = r"(\d{1,3}(,\d{3})*\.\d{2}|0\.\d{6})"


def test_amounts_and_chart_tooltips_are_rounded_with_their_currency(page: UiPage) -> None:
    page.goto("/cost")
    cells = page.page.eval_on_selector_all(
        "table.cost td.num[data-value], #budgets td.num", "tds => tds.map(td => td.innerText)"
    )
    money_cells = [c for c in cells if c[:1].isdigit() and "." in c and c[-1].isdigit()]
    assert money_cells and all(re.fullmatch(MONEY, c) for c in money_cells), money_cells
    assert "0.000000" not in cells
    # Hover the widest bar of each chart: its tooltip is the tables' money, in EUR.
    tips = []
    for index in range(2):
        x, y = page.page.evaluate(
            """i => { const marks = [...window.assayCharts[i].view.container()
                        .querySelectorAll('.role-mark path')];
                      const box = marks.map(m => m.getBoundingClientRect())
                        .sort((a, b) => b.width * b.height - a.width * a.height)[0];
                      return [box.x + box.width / 2, box.y + box.height / 2]; }""",
            index,
        )
        page.page.mouse.move(x, y)
        tip = page.page.locator("#vg-tooltip-element.visible")
        tip.wait_for(state="visible", timeout=5000)
        tips.append(tip.inner_text())
        page.page.mouse.move(0, 0)
    daily, datasets = tips
    assert re.search(rf"cost\s+{MONEY} EUR", daily), daily
    assert re.search(r"day \(UTC\)\s+\d{4}-\d{2}-\d{2}\s", daily + "\n"), daily
    assert "00:00:00" not in daily
    assert re.search(rf"cost\s+{MONEY} EUR", datasets), datasets
    # What the part is the price of, in people's units.
    assert re.search(r"for\s+(\d+(\.\d)? (B|KiB|MiB|GiB) (read|stored)|.+ CPU)", datasets), datasets
    assert not re.search(r"\d\.\d{7,}", daily + datasets), tips
