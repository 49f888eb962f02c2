"""`/streams`: per stream, what `assay status` says now (lag, watermark, rows/s, dead
letters, late events), in its words and number formats, and what its Delta logs keep over
time: rows in, written and dead-lettered per micro-batch, late events per micro-batch (the
same count as the card: each event once), and the watermark after each window commit.
Times are UTC, 24-hour. The data: `assay.catalog_views.streams_view`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from assay.catalog_views.streams_view import StreamView, streams_view
from assay.server.ui import charts
from assay.server.ui.chart_time import in_utc, time_title
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
        rate=rate,
    )


def rate(rows_per_second: float | None) -> str:
    """Rows per second as `assay status` prints them (a whole number, thousands
    separated); "-" when unknown.

    Example:
        >>> rate(2039.36), rate(0.4), rate(None)
        ('2,039', '0', '-')
    """
    return "-" if rows_per_second is None else f"{rows_per_second:,.0f}"


def stream_charts(stream: StreamView) -> list[Markup]:
    """Throughput per micro-batch, late events per micro-batch and the watermark, where
    the stream has that history; times in UTC (`chart_time.in_utc`).

    Example:
        >>> from datetime import datetime
        >>> from assay.catalog_views.streams_view import BatchPoint
        >>> from assay.streaming.status import StreamStatus
        >>> batch = BatchPoint(datetime(2026, 1, 1), 3, 10, 9, 1)
        >>> len(stream_charts(StreamView("bronze.e", StreamStatus("bronze.e", "folder"), [batch])))
        1
    """
    drawn: list[Markup] = []

    def add(spec: dict[str, Any], times: list[datetime]) -> None:
        spec["encoding"]["x"]["title"] = time_title("committed", times)
        drawn.append(chart(in_utc(spec)))

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
        add(spec, [b.at for b in stream.batches])
    if stream.late:
        rows = [{"ingested": m.at, "late events": m.value} for m in stream.late]
        spec = charts.bars(rows, "ingested", "late events", title="Late events per micro-batch")
        spec["encoding"]["x"].pop("timeUnit")  # a bar per micro-batch, not per day
        spec["mark"]["width"] = 6
        spec["encoding"]["x"]["title"] = time_title("ingested", [m.at for m in stream.late])
        spec["encoding"]["y"]["axis"] = {"tickMinStep": 1, "format": "d"}
        drawn.append(chart(in_utc(spec)))
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
            title="Watermark after each window commit",
        )
        spec["encoding"]["y"]["title"] = watermark_title([m.value for m in stream.watermarks])
        add(spec, [m.at for m in stream.watermarks])
    return drawn


def watermark_title(watermarks: list[datetime]) -> str:
    """The watermark axis' title: their day when they fall on one (short: the vertical
    title has a small chart's height; over several days the ticks name the days).

    Example:
        >>> watermark_title([datetime(2026, 8, 30, 0, 9), datetime(2026, 8, 30, 0, 59)])
        '2026-08-30 UTC'
        >>> watermark_title([datetime(2026, 8, 30), datetime(2026, 8, 31)])
        'watermark (UTC)'
    """
    days = {value.date() for value in watermarks}
    return f"{days.pop()} UTC" if len(days) == 1 else "watermark (UTC)"
