"""`/runs`: each dataset's runs on a timeline (one lane per dataset, a bar from start to
finish, coloured by status), durations over time, each dataset's run summary (its last
run, which may be an up-to-date check, and its last build that did work, as the overview
and `assay status` show it), and the failures with their message and the command that
fixes them (`assay alerts`' words). Times are UTC, 24-hour. `?dataset=NAME` keeps one
dataset. The data: `assay.catalog_views.runs_view`."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from assay.catalog.store import DatasetRun
from assay.catalog_views.runs_view import RunBar, RunsView, runs_view
from assay.server.ui import charts
from assay.server.ui.chart_time import in_utc, time_title
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
        summary=summarize(view.bars, view.builds),
        timeline_chart=_timeline(view),
        duration_chart=_durations(view),
        status_code=404 if unknown else 200,
    )


def summarize(
    bars: list[RunBar], builds: dict[str, DatasetRun] | None = None
) -> list[dict[str, Any]]:
    """Per dataset: runs, failures, the last run's status and time, mean and last duration,
    and its last build that did work (`build`, a DatasetRun, or None) with its duration.

    Example:
        >>> from datetime import datetime
        >>> at = datetime(2026, 1, 1)
        >>> bar = RunBar("r1", "silver.x", "failed", at, at, 2.0, 1, 0, 0, "assay run")
        >>> summarize([bar])[0]["failures"], summarize([bar])[0]["mean_seconds"]
        (1, 2.0)
    """
    builds = builds or {}
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
                "build": builds.get(name),
                "build_seconds": _build_seconds(builds.get(name)),
            }
        )
    return rows


def _build_seconds(build: DatasetRun | None) -> float | None:
    if build is None or build.finished_at is None:
        return None
    return (build.finished_at - build.started_at).total_seconds()


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
    spec["encoding"]["x"]["title"] = time_title("time", [first, last])
    # The drawn end may be stretched for visibility: the tooltip says when it finished.
    tips = spec["encoding"]["tooltip"]
    spec["encoding"]["tooltip"] = [t for t in tips if t["field"] != "drawn_end"]
    return chart(in_utc(spec))


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
    started = [b.started_at for b in view.bars if b.seconds is not None]
    spec["encoding"]["x"]["title"] = time_title("started", started)
    spec["encoding"]["color"]["legend"] = legend_of(len({r["dataset"] for r in rows}))
    # The legend is below the plot and adds to its height (autosize "fit" would squeeze the
    # plot, or cut the legend, to keep the total height).
    spec["autosize"] = {"type": "fit-x", "contains": "padding"}
    return chart(in_utc(spec))


def legend_of(entries: int) -> dict[str, Any]:
    """A legend that lists every one of `entries` names (Vega's default stops at the
    plot's height): below the plot, in columns, names up to 260 px.

    Example:
        >>> legend_of(13)["columns"], legend_of(2)["columns"]
        (4, 2)
    """
    return {
        "orient": "bottom",
        "columns": min(4, max(entries, 1)),
        "symbolLimit": 0,
        "labelLimit": 260,
        "title": None,
    }


#: Run states as the timeline colours them (the shared colours where they exist).
STATUS_COLORS = {
    "success": charts.STATE_COLORS["success"],
    "up_to_date": "#7fb89a",
    "failed": charts.STATE_COLORS["failed"],
    "running": charts.STATE_COLORS["running"],
    "skipped": charts.STATE_COLORS["skipped"],
}
