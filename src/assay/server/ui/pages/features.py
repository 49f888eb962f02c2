"""`/features`: every feature view (entities, source, TTL, features) with the freshness of
its offline source and its online store, drift over time per feature (PSI and KS of each
window of the source against its first window; see `assay.catalog_views.features_view`),
training/serving skew of logged requests, and the project's models (version, metric,
champion). Values are read as the request's principal."""

from __future__ import annotations

from collections import defaultdict

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from assay.catalog_views.features_view import MIN_ROWS, DriftPoint, features_view
from assay.features.drift import PSI_MODERATE, PSI_SHIFT
from assay.server.ui import charts
from assay.server.ui.snapshot import snapshot
from assay.server.ui.web import as_principal, chart, project_of, render

router = APIRouter()


@router.get("/features", response_class=HTMLResponse)
def features_page(request: Request) -> HTMLResponse:
    runtime = snapshot(project_of(request).runtime)  # each Delta log opened once
    with as_principal(request):
        view = features_view(runtime)
    by_view: dict[str, list[DriftPoint]] = defaultdict(list)
    for point in view.drift:
        by_view[point.view].append(point)
    return render(
        request,
        "features.html",
        "Features",
        view=view,
        declared=set(runtime.dag.specs),
        drift_charts={name: drift_charts(name, points) for name, points in by_view.items()},
        psi_moderate=PSI_MODERATE,
        psi_shift=PSI_SHIFT,
        min_rows=MIN_ROWS,
    )


def drift_charts(view: str, points: list[DriftPoint]) -> tuple[Markup, Markup]:
    """PSI and KS per window of one view's features, a line per feature.

    Example:
        >>> from datetime import datetime
        >>> point = DriftPoint("v", "amount", datetime(2026, 1, 5), 40, 0.12, 0.2)
        >>> psi, ks = drift_charts("v", [point])
        >>> str(psi).startswith('<div class="chart"'), "KS statistic" in str(ks)
        (True, True)
    """
    rows = [
        {
            "window": p.window_start,
            "feature": p.feature,
            "PSI": round(p.psi, 6),
            "KS": round(p.ks, 6),
            "rows": p.rows,
        }
        for p in points
    ]
    psi = charts.line(
        rows,
        "window",
        "PSI",
        color="feature",
        title=f"{view}: PSI vs the first window",
        tooltip=("KS", "rows"),
    )
    ks = charts.line(
        rows,
        "window",
        "KS",
        color="feature",
        title=f"{view}: KS statistic vs the first window",
        tooltip=("PSI", "rows"),
    )
    return chart(psi), chart(ks)
