"""The streams page's data (`/streams` in the web UI): per stream, what `assay status`
says now (lag, watermark, rows/s, dead letters, late rows; `assay.streaming.status`),
and the history its Delta logs keep: rows in, written and dead-lettered per micro-batch
(the stream table's commit metadata), late events per micro-batch that ingested them
(each event once, however many windows it missed: what `assay status` counts; the late
tables hold a row per event and window), and the watermark after each window commit
(the saved frontier minus the allowed lateness, as `assay stream` reports it). Lag has
no history: it is measured now, against the source (Kafka's high watermarks, or the
folder's files).

Example:
    >>> import assay, tempfile
    >>> root = tempfile.mkdtemp()
    >>> _ = assay.init_project(root)
    >>> streams_view(assay.Project(root).runtime)
    []
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from assay.pipelines.producers import INGESTED_AT
from assay.streaming.readers import OFFSET, PARTITION
from assay.streaming.sources import StreamSource
from assay.streaming.windowing import MARKS, late_name
from assay.streaming.windows import to_datetime

if TYPE_CHECKING:
    from assay.runtime import Runtime
    from assay.streaming.status import StreamStatus

#: The newest commits of each table the charts cover.
HISTORY_COMMITS = 500


@dataclass(frozen=True)
class BatchPoint:
    """One micro-batch of a stream: when it committed and its rows."""

    at: datetime
    version: int
    rows_in: int
    written: int
    dead_lettered: int


@dataclass(frozen=True)
class Mark:
    """A value of a stream over time: late events a micro-batch ingested (`table` is
    every late table), or the watermark after a window commit."""

    at: datetime
    table: str
    value: Any


@dataclass
class StreamView:
    """One stream: its status now and its history."""

    name: str
    status: StreamStatus
    batches: list[BatchPoint] = field(default_factory=list)
    late: list[Mark] = field(default_factory=list)
    watermarks: list[Mark] = field(default_factory=list)
    #: Rows per late table (a row per event and window it missed).
    late_rows: dict[str, int] = field(default_factory=dict)

    @property
    def rows_in(self) -> int:
        return sum(b.rows_in for b in self.batches)


def streams_view(rt: Runtime) -> list[StreamView]:
    """Every streaming dataset of the project (a stream's own table, not its windows')."""
    from assay.streaming.status import stream_status

    found = []
    for name in sorted(rt.dag.specs):
        spec = rt.dag.specs[name]
        if not isinstance(spec.producer, StreamSource):
            continue
        source = spec.producer
        view = StreamView(name, stream_status(rt, spec), batch_history(rt, name))
        late_tables = [late_name(window.name) for window in source.windows]
        view.late, view.late_rows = late_history(rt, late_tables)
        for window in source.windows:
            view.watermarks += _watermark_history(rt, window.name, window.allowed_lateness)
        view.watermarks.sort(key=lambda m: m.at)
        found.append(view)
    return found


def batch_history(rt: Runtime, name: str) -> list[BatchPoint]:
    """The stream table's micro-batches, oldest first (commits without stream metadata,
    such as maintenance, are not batches)."""
    if not rt.warehouse.exists(name):
        return []
    points = []
    for commit in rt.warehouse.history(name, HISTORY_COMMITS):
        stream = commit.metadata.get("stream")
        if not isinstance(stream, dict):
            continue
        points.append(
            BatchPoint(
                commit.timestamp,
                commit.version,
                int(stream.get("rows_in", 0)),
                int(stream.get("written", 0)),
                int(stream.get("dead_lettered", 0)),
            )
        )
    return points[::-1]


def late_history(rt: Runtime, tables: list[str]) -> tuple[list[Mark], dict[str, int]]:
    """Late events per micro-batch that ingested them, oldest first, and the rows of each
    late table. An event late for several windows (a sliding window's ten overlapping
    windows, say) is one row per window but one event: counted once, by its source
    position, as `assay status` counts them, so the chart sums to the status' number."""
    present = [t for t in tables if rt.warehouse.exists(t)]
    if not present:
        return [], {}
    read = [
        rt.warehouse.dataset(t).to_table(columns=[PARTITION, OFFSET, INGESTED_AT]) for t in present
    ]
    rows = {table: part.num_rows for table, part in zip(present, read, strict=True)}
    events = pa.concat_tables(read, promote_options="permissive")
    # Each event once, at the first micro-batch that ingested it (a re-sent event keeps
    # its first position).
    first = events.group_by([PARTITION, OFFSET]).aggregate([(INGESTED_AT, "min")])
    per_batch = first.group_by(f"{INGESTED_AT}_min").aggregate([([], "count_all")])
    label = ", ".join(present)
    marks = [
        Mark(at, label, int(count))
        for at, count in zip(
            per_batch[f"{INGESTED_AT}_min"].to_pylist(),
            per_batch["count_all"].to_pylist(),
            strict=True,
        )
    ]
    return sorted(marks, key=lambda m: m.at), rows


def _watermark_history(rt: Runtime, table: str, lateness: Any) -> list[Mark]:
    if not rt.warehouse.exists(table):
        return []
    marks = []
    for commit in rt.warehouse.history(table, HISTORY_COMMITS):
        frontier = (commit.metadata.get(MARKS) or {}).get("frontier")
        if frontier is not None:
            micros = int(frontier) - round(lateness.total_seconds() * 1e6)
            marks.append(Mark(commit.timestamp, table, to_datetime(micros)))
    return marks
