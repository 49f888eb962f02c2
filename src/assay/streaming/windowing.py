"""A stream's windows: folding committed rows into each window operator, serving what
closed online, committing it (and late rows), and rebuilding the state after a restart.

Each window commit carries an app transaction naming the stream-table version folded in
(so a replay is skipped), and the operator's partition marks (so a restart continues
with the same watermark, see watermarks.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.dataset as pads

from assay import _faults
from assay.naming import split_name
from assay.streaming.readers import OFFSET, PARTITION
from assay.streaming.spec import WindowSpec
from assay.streaming.windows import WINDOW_END, WindowOperator, to_datetime
from assay.tables import WriteMode

if TYPE_CHECKING:
    from assay.runtime import Runtime
    from assay.streaming.sources import StreamSource

#: Commit metadata key of a window table holding its operator's partition marks.
MARKS = "watermarks"


def late_name(window_table: str) -> str:
    layer, name = split_name(window_table)
    return f"late.{layer}_{name}"


class Windows:
    """The windows of one stream.

    Example: ``Windows(runtime, "bronze.events", source, run_id).fold(rows, version)``
    """

    def __init__(self, runtime: Runtime, stream: str, source: StreamSource, run_id: str):
        self.runtime = runtime
        self.wh = runtime.warehouse
        self.stream = stream
        self.source = source
        self.run_id = run_id
        idle = source.idle_timeout.total_seconds()
        partition = PARTITION if source.per_partition_watermarks else None
        self.operators = [
            WindowOperator(runtime.local, w, source.timestamp, partition, idle)
            for w in source.windows
        ]
        views = runtime.feature_views
        self.views = {w.name: views[split_name(w.name)[1]] for w in source.windows if w.entity}

    @property
    def app(self) -> str:
        return f"stream:{self.stream}"

    def expect(self, partitions: list[str]) -> None:
        """The partitions being read now: windows wait for each to bring an event."""
        if self.source.per_partition_watermarks:
            for op in self.operators:
                op.marks.expect(partitions)

    def watermark(self) -> Any:
        marks = [op.watermark for op in self.operators if op.watermark is not None]
        return to_datetime(min(marks)) if marks else None

    def fold(self, rows: pa.Table, version: int) -> tuple[int, int]:
        """Fold the rows of stream-table commit `version` into every window; return the
        windows closed and the late events."""
        emitted = late = 0
        for op in self.operators:
            e, n = self._fold(op, rows, version)
            emitted, late = emitted + e, late + n
        return emitted, late

    def _fold(self, op: WindowOperator, rows: pa.Table, version: int) -> tuple[int, int]:
        window = op.spec
        out = op.process(rows)
        app = {self.app: version}
        meta = {"run_id": self.run_id, "stream": self.stream, "stream_version": version}
        late_done = self.wh.transaction_version(late_name(window.name), self.app)
        if out.late.num_rows and (late_done is None or late_done < version):
            self.wh.write(
                late_name(window.name),
                out.late,
                mode=WriteMode.APPEND,
                metadata=meta,
                app_transactions=app,
            )
        # Online before the window commit: versioned by event time, so the repeat after a
        # crash in between is harmless, while a window committed but not yet served would
        # never be served (the restart skips versions the window table records).
        pushed = False
        if window.name in self.views and out.emitted.num_rows:
            self._online(window, out.emitted, out.emitted[WINDOW_END])
            pushed = True
        if window.name in self.views and window.emit == "update":
            current = op.current(rows, rows.schema)
            if current.num_rows:  # after the closed ones: fresher values win ties
                self._online(window, current, current["__tmax"])
                pushed = True
        if pushed:
            _faults.point("window_after_online")
        # Written even when nothing closed: the app transaction records the progress,
        # and the metadata the partitions' marks.
        exists = self.wh.exists(window.name)
        self.wh.write(
            window.name,
            out.emitted,
            mode=WriteMode.APPEND if exists else WriteMode.OVERWRITE,
            metadata={**meta, MARKS: op.marks.state()},
            app_transactions=app,
        )
        late_events = _events(out.late)
        return out.emitted.num_rows, late_events

    def _online(self, window: WindowSpec, emitted: pa.Table, stamps: Any) -> None:
        """Upsert windows' aggregates, versioned by `stamps` (window end, or latest event)."""
        from assay.features.online import EVENT_TS, to_micros

        view = self.views[window.name]
        rows = emitted.select([*window.keys, *(a.name for a in window.aggregations)])
        rows = rows.append_column(EVENT_TS, to_micros(stamps))
        self.runtime.online_store.write(view, rows)

    def catch_up(self) -> None:
        """Rebuild each window's state from the stream table and fold in any commits it
        missed (a crash between the stream commit and the window commit)."""
        if not self.operators or not self.wh.exists(self.stream):
            return
        current = self.wh.version(self.stream) or 0
        # Only the stream's own appends hold new rows; a compaction or rewrite re-adds
        # rows already folded in.
        appends = {c.version for c in self.wh.history(self.stream) if "stream" in c.metadata}
        schema = self.wh.schema(self.stream)
        for op in self.operators:
            done = self.wh.transaction_version(op.spec.name, self.app)
            self._restore(op, done)
            start = 0 if done is None else done + 1
            for version in range(start, current + 1):
                if version not in appends:
                    continue
                added = self.wh.added_files(self.stream, version)
                rows = (
                    pads.dataset(added, format="parquet", schema=schema).to_table()
                    if added
                    else schema.empty_table()
                )
                self._fold(op, rows, version)

    def _restore(self, op: WindowOperator, version: int | None) -> None:
        """The operator's state as of stream-table `version`: its saved marks, and the
        table's rows recent enough to be in windows still open."""
        schema = self.wh.schema(self.stream)
        if version is None:
            op.restore(schema.empty_table())
            return
        saved = [c for c in self.wh.history(op.spec.name, 20) if MARKS in c.metadata]
        marks = saved[0].metadata[MARKS] if saved else None
        data = self.wh.dataset(self.stream, version)
        ts = self.source.timestamp
        if not isinstance(marks, dict):  # written before marks were kept: all the rows
            op.restore(data.to_table())
            return
        frontier = marks.get("frontier")
        if frontier is None:
            op.restore(schema.empty_table(), marks)
            return
        horizon = to_datetime(
            int(frontier)
            - round(
                (
                    op.spec.allowed_lateness + op.spec.window.size + op.spec.window.slide
                ).total_seconds()
                * 1_000_000
            )
        )
        bound = pa.scalar(horizon, schema.field(ts).type)
        op.restore(data.to_table(filter=pads.field(ts) >= bound), marks)


def _events(late: pa.Table) -> int:
    """Distinct events among late (row, window) pairs: a row late for several hopping
    windows is one late event."""
    if not late.num_rows or not {PARTITION, OFFSET} <= set(late.column_names):
        return late.num_rows
    return late.select([PARTITION, OFFSET]).group_by([PARTITION, OFFSET]).aggregate([]).num_rows


def newest_value(warehouse: Any, table: str, column: str, version: int | None = None) -> Any:
    """The largest value of `column` by the data files' statistics (None without them)."""
    actions = warehouse.file_actions(table, version)
    stat = f"max.{column}"
    if stat not in actions.column_names:
        return None
    values = [v for v in actions[stat].to_pylist() if v is not None]
    if not values or len(values) < actions.num_rows:
        return None  # some file has no statistics: they cannot bound the column
    newest = max(values)
    return newest.replace(tzinfo=None) if hasattr(newest, "tzinfo") else newest
