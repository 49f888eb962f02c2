"""Every chart builder draws in a real browser, in both themes, with the data it was given:
the marks drawn match the rows (public data: vega_datasets' seattle-weather and cars)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

import assay
from assay.server.ui import charts
from assay.server.ui.app import create_ui_app
from assay.server.ui.web import chart, render
from tests.server.ui.conftest import KEYS, _watch, serve, sign_in


def weather() -> list[dict[str, Any]]:
    from vega_datasets import data

    frame = data.seattle_weather().head(60)
    return [
        {"date": row.date.isoformat(), "temp_max": float(row.temp_max), "weather": row.weather}
        for row in frame.itertuples()
    ]


def specs() -> list[dict[str, Any]]:
    rows = weather()
    per_kind: dict[str, int] = {}
    for row in rows:
        per_kind[row["weather"]] = per_kind.get(row["weather"], 0) + 1
    counts = [{"weather": k, "days": v} for k, v in per_kind.items()]
    cells = [
        {"day": row["date"], "hour": i % 3, "state": "done" if i % 2 else "missing"}
        for i, row in enumerate(rows[:21])
    ]
    spans = [
        {
            "start": rows[i]["date"],
            "end": rows[i + 1]["date"],
            "dataset": f"d{i % 3}",
            "status": "success",
        }
        for i in range(9)
    ]
    return [
        charts.line(rows, "date", "temp_max", color="weather", title="Max temperature"),
        charts.bars(counts, "weather", "days", title="Days per weather"),
        charts.heatmap(cells, "day", "hour", "state", colors=charts.STATE_COLORS),
        charts.timeline(
            spans, "start", "end", "dataset", color="status", colors=charts.STATE_COLORS
        ),
    ]


@pytest.fixture(scope="module")
def chart_server(ui_project: assay.Project) -> Iterator[str]:
    app = create_ui_app(ui_project)
    test_router = APIRouter()

    @test_router.get("/test-charts", response_class=HTMLResponse)
    def test_charts(request: Request) -> HTMLResponse:
        body = Markup("".join(str(chart(spec)) for spec in specs()))
        return render(request, "error.html", "Charts", message=body, suggestions=[])

    app.include_router(test_router)
    yield from serve(app)


def test_every_builder_draws_its_rows_in_both_themes(
    browser: Any, chart_server: str, screenshot: Any
) -> None:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        ui = _watch(context.new_page(), chart_server)
        sign_in(ui.page, chart_server, KEYS["admin"])
        ui.goto("/test-charts")
        rows = weather()
        kinds = len({row["weather"] for row in rows})
        # line: one path per weather kind plus a point per row; bars: one per kind;
        # heatmap: one cell per row; timeline: one bar per span.
        assert ui.chart_marks() == [kinds + len(rows), kinds, 21, 9]
        tooltips = ui.page.evaluate("window.assayCharts.map(r => r.spec.encoding.tooltip.length)")
        assert all(n >= 2 for n in tooltips)
        screenshot(ui.page, "charts")
        assert ui.chart_marks() == [kinds + len(rows), kinds, 21, 9]  # redrawn, same data
        assert not ui.problems(), ui.problems()
    finally:
        context.close()
