"""`/runs`: each dataset's runs on a timeline (one lane per dataset, a bar from start to
finish, coloured by status), durations over time, each dataset's run summary, and the
failures with their message and the command that fixes them (`assay alerts`' words).
`?dataset=NAME` keeps one dataset. The data: `assay.catalog_views.runs_view`."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from assay.catalog_views.runs_view import RunBar, RunsView, runs_view
from assay.server.ui import charts
from assay.server.ui.web import as_principal, chart, duration, project_of, render

router = APIRouter()

#: A bar shorter than this share of the timeline's span is drawn this wide (a 2-second run
#: in a month of runs would be invisible); its tooltip keeps the true times.
MIN_BAR_SHARE = 0.004


@router.get("/runs", response_class=HTMLResponse)
def runs_page(
    request: Request,
    dataset: str | None = Query(None, description="Show one dataset's runs only."),
) -> HTMLResponse:
    runtime = project_of(request).runtime
    declared = set(runtime.dag.specs)
    with as_principal(request):
        view = runs_view(runtime, dataset or None)
    unknown = bool(dataset) and dataset not in declared and not view.bars
    return render(
        request,
        "runs.html",
        f"Runs of {dataset}" if dataset else "Runs",
        view=view,
        declared=declared,
        unknown=unknown,
        summary=summarize(view.bars),
        timeline_chart=_timeline(view),
        duration_chart=_durations(view),
        status_code=404 if unknown else 200,
    )


def summarize(bars: list[RunBar]) -> list[dict[str, Any]]:
    """Per dataset: runs, failures, the last run's status and time, mean and last duration.

    Example:
        >>> from datetime import datetime
        >>> at = datetime(2026, 1, 1)
        >>> bar = RunBar("r1", "silver.x", "failed", at, at, 2.0, 1, 0, 0, "assay run")
        >>> summarize([bar])[0]["failures"], summarize([bar])[0]["mean_seconds"]
        (1, 2.0)
    """
    by_dataset: dict[str, list[RunBar]] = defaultdict(list)
    for bar in bars:
        by_dataset[bar.dataset].append(bar)
    rows = []
    for name, runs in sorted(by_dataset.items()):
        timed = [r.seconds for r in runs if r.seconds is not None]
        rows.append(
            {
                "dataset": name,
                "runs": len(runs),
                "failures": sum(r.status == "failed" for r in runs),
                "last": runs[-1],
                "mean_seconds": sum(timed) / len(timed) if timed else None,
            }
        )
    return rows


def _timeline(view: RunsView) -> Markup | None:
    if not view.bars:
        return None
    first = view.bars[0].started_at
    last = max((b.finished_at or b.started_at) for b in view.bars)
    least = max((last - first) * MIN_BAR_SHARE, timedelta(milliseconds=200))
    rows = [
        {
            "dataset": b.dataset,
            "status": b.status,
            "start": b.started_at,
            "drawn_end": max(b.finished_at or b.started_at, b.started_at + least),
            "finished": b.finished_at,
            "duration": duration(b.seconds) or "unfinished",
            "rows written": b.rows_written,
            "rows in": b.rows_in,
            "run": b.run_id,
            "command": b.command,
        }
        for b in view.bars
    ]
    spec = charts.timeline(
        rows,
        "start",
        "drawn_end",
        "dataset",
        color="status",
        title="Runs per dataset",
        colors=STATUS_COLORS,
        tooltip=("finished", "duration", "rows in", "rows written", "run", "command"),
    )
    spec["encoding"]["x"]["axis"] = {"format": time_format(last - first)}
    # The drawn end may be stretched for visibility: the tooltip says when it finished.
    tips = spec["encoding"]["tooltip"]
    spec["encoding"]["tooltip"] = [t for t in tips if t["field"] != "drawn_end"]
    return chart(spec)


def _durations(view: RunsView) -> Markup | None:
    rows = [
        {
            "started": b.started_at,
            "seconds": b.seconds,
            "dataset": b.dataset,
            "run": b.run_id,
            "status": b.status,
        }
        for b in view.bars
        if b.seconds is not None
    ]
    if not rows:
        return None
    spec = charts.line(
        rows,
        "started",
        "seconds",
        color="dataset",
        title="Duration of each run (seconds)",
        height=220,
        tooltip=("run", "status"),
    )
    span = view.bars[-1].started_at - view.bars[0].started_at
    spec["encoding"]["x"]["axis"] = {"format": time_format(span)}
    return chart(spec)


def time_format(span: timedelta) -> str:
    """The axis labels' format for a time axis spanning `span` (d3's time format): runs of
    one build seconds apart need seconds, a month of runs needs days.

    Example:
        >>> time_format(timedelta(seconds=30)), time_format(timedelta(days=30))
        ('%H:%M:%S', '%b %d')
    """
    if span < timedelta(hours=1):
        return "%H:%M:%S"
    if span < timedelta(days=2):
        return "%H:%M"
    return "%b %d" if span > timedelta(days=7) else "%b %d %H:%M"


#: Run states as the timeline colours them (the shared colours where they exist).
STATUS_COLORS = {
    "success": charts.STATE_COLORS["success"],
    "up_to_date": "#7fb89a",
    "failed": charts.STATE_COLORS["failed"],
    "running": charts.STATE_COLORS["running"],
    "skipped": charts.STATE_COLORS["skipped"],
}
