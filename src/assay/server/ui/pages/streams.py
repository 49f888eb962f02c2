"""`/streams`: per stream, what `assay status` says now (lag, watermark, rows/s, dead
letters, late rows) and what its Delta logs keep over time: rows in, written and
dead-lettered per micro-batch, late rows per commit, and the watermark after each window
commit. The data: `assay.catalog_views.streams_view`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from assay.catalog_views.streams_view import StreamView, streams_view
from assay.server.ui import charts
from assay.server.ui.pages.runs import time_format
from assay.server.ui.web import as_principal, chart, project_of, render

router = APIRouter()


@router.get("/streams", response_class=HTMLResponse)
def streams_page(request: Request) -> HTMLResponse:
    runtime = project_of(request).runtime
    with as_principal(request):
        streams = streams_view(runtime)
    return render(
        request,
        "streams.html",
        "Streams",
        streams=streams,
        declared=set(runtime.dag.specs),
        stream_charts={s.name: stream_charts(s) for s in streams},
    )


def stream_charts(stream: StreamView) -> list[Markup]:
    """Throughput per micro-batch, late rows per commit and the watermark, where the
    stream has that history.

    Example:
        >>> from datetime import datetime
        >>> from assay.catalog_views.streams_view import BatchPoint
        >>> from assay.streaming.status import StreamStatus
        >>> batch = BatchPoint(datetime(2026, 1, 1), 3, 10, 9, 1)
        >>> len(stream_charts(StreamView("bronze.e", StreamStatus("bronze.e", "folder"), [batch])))
        1
    """
    drawn: list[Markup] = []
    times = [b.at for b in stream.batches] + [m.at for m in (*stream.late, *stream.watermarks)]
    axis = {"format": time_format(max(times) - min(times))} if times else {}

    def add(spec: dict[str, Any]) -> None:
        spec["encoding"]["x"]["axis"] = axis
        drawn.append(chart(spec))

    if stream.batches:
        rows = [
            {"committed": b.at, "rows": getattr(b, part), "kind": label, "version": b.version}
            for b in stream.batches
            for part, label in (
                ("rows_in", "in"),
                ("written", "written"),
                ("dead_lettered", "dead-lettered"),
            )
        ]
        spec = charts.line(
            rows,
            "committed",
            "rows",
            color="kind",
            title="Rows per micro-batch",
            tooltip=("version",),
        )
        add(spec)
    if stream.late:
        rows = [{"committed": m.at, "late rows": m.value, "table": m.table} for m in stream.late]
        spec = charts.line(
            rows, "committed", "late rows", color="table", title="Late rows per commit"
        )
        add(spec)
    if stream.watermarks:
        rows = [
            {"committed": m.at, "watermark": m.value, "window table": m.table}
            for m in stream.watermarks
        ]
        spec = charts.line(
            rows,
            "committed",
            "watermark",
            color="window table",
            title="Watermark after each window commit (UTC)",
        )
        add(spec)
    return drawn
