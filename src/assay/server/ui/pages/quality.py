"""`/quality`: each rule's outcome in each run (pass, warn, fail), the rules' counts per
run, rows quarantined by rule per day, the latest results of every dataset (dbt tests'
`dbt:` rules too), and the newest quarantined rows, read as the request's principal (its
masks apply; raw records are withheld from a principal who reads the dataset masked).
`?dataset=NAME` keeps one dataset. The data: `assay.catalog_views.quality_view`."""

from __future__ import annotations

from collections import Counter

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from assay.catalog_views.quality_view import QualityView, quality_view
from assay.server.ui import charts
from assay.server.ui.web import as_principal, chart, project_of, render, when

router = APIRouter()

#: Rule statuses, in the order a legend lists them, with their colours.
STATUS_COLORS = {
    "pass": charts.STATE_COLORS["passed"],
    "warn": charts.STATE_COLORS["warn"],
    "fail": charts.STATE_COLORS["failed"],
    "not_run": charts.STATE_COLORS["skipped"],
}
#: The most rules the per-rule chart draws (the table lists them all).
RULES_CHARTED = 60


@router.get("/quality", response_class=HTMLResponse)
def quality_page(
    request: Request,
    dataset: str | None = Query(None, description="Show one dataset's rules only."),
) -> HTMLResponse:
    runtime = project_of(request).runtime
    declared = set(runtime.dag.specs)
    unknown = bool(dataset) and dataset not in declared
    with as_principal(request):
        view = quality_view(runtime, None if unknown else (dataset or None))
    return render(
        request,
        "quality.html",
        f"Quality of {dataset}" if dataset else "Quality",
        view=view,
        dataset=dataset or None,
        declared=declared,
        unknown=unknown,
        rules_chart=_rules_chart(view),
        counts_chart=_counts_chart(view),
        quarantine_chart=_quarantine_chart(view),
        status_code=404 if unknown else 200,
    )


def _rules_chart(view: QualityView) -> Markup | None:
    """A dot per rule and run, coloured by the rule's status (newest rules first)."""
    if not view.outcomes:
        return None
    labels = list(dict.fromkeys(f"{o.dataset} · {o.rule}" for o in reversed(view.outcomes)))
    shown = set(labels[:RULES_CHARTED])
    rows = [
        {
            "run at": o.measured_at,
            "rule": f"{o.dataset} · {o.rule}",
            "status": o.status,
            "severity": o.severity,
            "run": o.run_id,
        }
        for o in view.outcomes
        if f"{o.dataset} · {o.rule}" in shown
    ]
    spec = charts.heatmap(
        rows,
        "run at",
        "rule",
        "status",
        title="Each rule in each run",
        colors=STATUS_COLORS,
        height=max(120, 16 * len(shown)),
        tooltip=("severity", "run"),
    )
    # One column per run time (not per day): runs of a day stay apart.
    spec["encoding"]["x"] = {
        "field": "run at",
        "type": "ordinal",
        "timeUnit": "yearmonthdatehoursminutesseconds",
        "title": "run (UTC)",
        "axis": {"labelAngle": -40, "format": "%m-%d %H:%M"},
    }
    spec["encoding"]["y"]["sort"] = sorted(shown)
    return chart(spec)


def _counts_chart(view: QualityView) -> Markup | None:
    """Rules passed, warned and failed per run, stacked."""
    if not view.outcomes:
        return None
    counted = Counter((o.run_id, o.status) for o in view.outcomes)
    at = {o.run_id: o.measured_at for o in view.outcomes}
    rows = [
        {"run at": when(at[run]), "status": status, "rules": n, "run": run}
        for (run, status), n in counted.items()
    ]
    spec = charts.bars(
        rows,
        "run at",
        "rules",
        color="status",
        title="Rules per run, by status",
        colors=STATUS_COLORS,
        tooltip=("run",),
    )
    spec["encoding"]["x"] = {
        "field": "run at",
        "type": "ordinal",
        "title": "run (UTC)",
        "axis": {"labelAngle": -40},
    }
    return chart(spec)


def _quarantine_chart(view: QualityView) -> Markup | None:
    if not view.quarantined:
        return None
    rows = [
        {"day": q.day, "rows": q.rows, "rule": f"{q.dataset} · {q.rule}", "dataset": q.dataset}
        for q in view.quarantined
    ]
    spec = charts.bars(
        rows,
        "day",
        "rows",
        color="rule",
        title="Rows quarantined per day, by rule",
        height=220,
        tooltip=("dataset",),
    )
    spec["encoding"]["color"]["type"] = "nominal"
    return chart(spec)
