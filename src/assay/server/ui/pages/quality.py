"""`/quality`: each rule's outcome in each run (pass, warn, fail), the rules' counts per
run, rows quarantined by rule per day, the latest results of every dataset (dbt tests'
`dbt:` rules too), and the newest quarantined rows, read as the request's principal (its
masks apply; raw records are withheld from a principal who reads the dataset masked).
`?dataset=NAME` keeps one dataset. The data: `assay.catalog_views.quality_view`."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from assay.catalog_views.quality_view import QualityView, quality_view
from assay.server.ui import charts
from assay.server.ui.web import as_principal, chart, project_of, render

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
#: The heatmap's rows: each this tall, labelled in this font size, labels cut at this width
#: (the cell's tooltip names the rule in full).
RULE_ROW_PX = 20
RULE_LABEL_PX = 12
RULE_LABEL_LIMIT_PX = 300


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
    """A cell per rule and run, coloured by the rule's status (a column per run)."""
    if not view.outcomes:
        return None
    labels = list(dict.fromkeys(f"{o.dataset} · {o.rule}" for o in reversed(view.outcomes)))
    shown = set(labels[:RULES_CHARTED])
    runs = _run_labels(view)
    rows = [
        {
            "run at": runs[o.run_id],
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
        tooltip=("severity", "run"),
    )
    spec["encoding"]["x"].update(
        sort=list(dict.fromkeys(runs.values())), title="run (UTC)", axis={"labelAngle": -40}
    )
    spec["encoding"]["y"].update(
        sort=sorted(shown),
        title=None,
        axis={"labelLimit": RULE_LABEL_LIMIT_PX, "labelFontSize": RULE_LABEL_PX},
    )
    # A row per rule, each RULE_ROW_PX tall, whatever the rules' number: with a fixed
    # height ("fit") 25 rules left labels a few pixels high. Only the width fits the page.
    spec["height"] = {"step": RULE_ROW_PX}
    spec["autosize"] = {"type": "fit-x", "contains": "padding"}
    return chart(spec)


def _run_labels(view: QualityView) -> dict[str, str]:
    """Each run's label: when it first measured, month-day and time (not ISO, so a chart
    keeps one band per run rather than a time scale)."""
    first: dict[str, datetime] = {}
    for o in view.outcomes:
        first[o.run_id] = min(first.get(o.run_id, o.measured_at), o.measured_at)
    return {
        run: at.strftime("%m-%d %H:%M:%S") for run, at in sorted(first.items(), key=lambda i: i[1])
    }


def _counts_chart(view: QualityView) -> Markup | None:
    """Rules passed, warned and failed per run, stacked."""
    if not view.outcomes:
        return None
    counted = Counter((o.run_id, o.status) for o in view.outcomes)
    runs = _run_labels(view)
    rows = [
        {"run at": runs[run], "status": status, "rules": n, "run": run}
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
    spec["encoding"]["x"]["axis"] = {"format": "%b %d"}
    return chart(spec)
