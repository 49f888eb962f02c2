"""`/datasets/{name}`: one dataset or registered table, its schema, quality, anomalies,
intervals, versions, sample rows (as the signed-in key sees them) and neighbours."""

from __future__ import annotations

import difflib

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from assay.catalog.registered import list_registered
from assay.catalog_views.dataset_page import DatasetPage, dataset_page
from assay.errors import UsageError
from assay.runtime import Runtime
from assay.server.ui import charts
from assay.server.ui.snapshot import snapshot
from assay.server.ui.web import NotFound, as_principal, chart, project_of, render

router = APIRouter()


@router.get("/datasets/{name}", response_class=HTMLResponse)
def dataset(request: Request, name: str) -> HTMLResponse:
    rt = snapshot(project_of(request).runtime)
    with as_principal(request):
        try:
            page = dataset_page(rt, name)
        except UsageError as exc:
            if exc.where != name:
                raise
            raise NotFound(
                f"No dataset or registered table is named {name}.", close_names(rt, name)
            ) from exc
    return render(
        request, "dataset.html", name, page=page, about=page.about, charts=dataset_charts(page)
    )


def close_names(rt: Runtime, name: str) -> list[str]:
    """Names like `name` (as `assay describe` suggests them)."""
    known = [*rt.dag.specs, *(t.name for t in list_registered(rt.catalog))]
    return difflib.get_close_matches(name, known, n=3, cutoff=0.5)


def dataset_charts(page: DatasetPage) -> dict[str, Markup]:
    """The page's charts, by section; a section without data has none."""
    drawn: dict[str, Markup] = {}
    if page.check_runs:
        drawn["checks"] = chart(
            charts.bars(
                page.check_runs,
                "run",
                "rules",
                color="outcome",
                colors=charts.STATE_COLORS,
                title="Contract rules per checked run",
                tooltip=["run_id"],
            )
        )
    rows_metric = [p for p in page.metric_series if p["metric"] == "batch.rows"]
    if rows_metric:
        spec = charts.line(
            rows_metric, "at", "value", title="Rows per batch", tooltip=["anomaly", "low", "high"]
        )
        spec["encoding"]["color"] = {
            "field": "anomaly",
            "type": "nominal",
            "title": "anomaly",
            "scale": {"domain": [False, True], "range": ["#4c8bd6", "#d64545"]},
        }
        drawn["metrics"] = chart(spec)
    if page.intervals and page.intervals.cells:
        found = page.intervals
        spec = charts.heatmap(
            found.cells,
            "column",
            "row",
            "state",
            colors=charts.STATE_COLORS,
            title=f"Intervals ({found.grain})",
            tooltip=["interval"],
            height=22 * max(1, len({c["row"] for c in found.cells})) + 40,
        )
        spec["encoding"]["x"]["title"] = found.column_title
        spec["encoding"]["y"]["title"] = found.row_title
        drawn["intervals"] = chart(spec)
    if page.versions:
        drawn["versions"] = chart(
            charts.bars(
                page.versions,
                "version",
                "rows_added",
                title="Rows added per version",
                tooltip=["at", "operation"],
            )
        )
    return drawn
