"""`/`: every dataset with status, freshness, last run, SLA state and quarantined share."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from assay.catalog_views.overview import CHART_DAYS, by_layer, overview
from assay.intervals import utcnow
from assay.server.ui import charts
from assay.server.ui.snapshot import snapshot, status_and_plan
from assay.server.ui.web import as_principal, chart, project_of, render

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def overview_page(request: Request) -> HTMLResponse:
    project = project_of(request)
    now = utcnow()
    rt = snapshot(project.runtime)
    with as_principal(request):
        statuses, plan = status_and_plan(rt)
        found = overview(rt, statuses, plan, now)
    runs_chart = (
        chart(
            charts.bars(
                found.runs_per_day,
                "day",
                "runs",
                color="status",
                title="Dataset runs per day",
                colors=charts.STATE_COLORS,
                span=((now - timedelta(days=CHART_DAYS)).date(), (now + timedelta(days=1)).date()),
                height=160,
            )
        )
        if found.runs_per_day
        else None
    )
    return render(
        request,
        "overview.html",
        "Overview",
        overview=found,
        layers=by_layer(found.datasets),
        runs_chart=runs_chart,
        now=now,
    )
