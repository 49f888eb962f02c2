"""An incremental dataset's intervals as heatmap cells: done, missing or stale.

Hourly intervals are cells of (day, hour); daily ones of (week, weekday), a calendar; longer
grains one row of cells. The states are the planner's (`assay plan` / `assay backfill`):
done in the interval ledger, missing from it, or stale (done, but an input changed since).

Example:
    >>> from assay.intervals import Interval
    >>> day = Interval(datetime(2026, 1, 7), datetime(2026, 1, 8))  # a Wednesday
    >>> cell(day, "day", "done")
    {'column': '2026-01-05', 'row': '3 Wed', 'state': 'done', 'interval': '2026-01-07'}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from assay.catalog.sync import sync
from assay.intervals import Interval
from assay.pipelines.plan import Planner

if TYPE_CHECKING:
    from assay.pipelines.spec import DatasetSpec
    from assay.runtime import Runtime

#: The newest intervals drawn (older ones are summarized in the counts).
MAX_CELLS = 24 * 31
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass
class IntervalMap:
    """The cells of the heatmap, the counts of each state, and the axes' meaning."""

    grain: str
    cells: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    column_title: str = "day"
    row_title: str = "hour"


def interval_map(rt: Runtime, spec: DatasetSpec) -> IntervalMap:
    """The done, missing and stale intervals of incremental dataset `spec`."""
    if rt.warehouse.exists(spec.name):
        sync(rt.catalog, rt.warehouse, spec.name)  # the Delta log first: it is the truth
    done = [r.interval for r in rt.catalog.done_intervals(spec.name, spec.fingerprint)]
    work = Planner.for_runtime(rt).interval_work(spec, False)
    states: dict[Interval, str] = {interval: "done" for interval in done}
    states.update({interval: "missing" for interval in work.missing})
    states.update({interval: "stale" for interval in work.stale})
    grain = spec.grain.value
    found = IntervalMap(grain, counts=_count(states.values()))
    newest = sorted(states, key=lambda i: i.start)[-MAX_CELLS:]
    found.cells = [cell(interval, grain, states[interval]) for interval in newest]
    if grain == "day":
        found.column_title, found.row_title = "week of", "weekday"
    elif grain != "hour":
        found.column_title, found.row_title = grain, ""
    return found


def _count(states: Any) -> dict[str, int]:
    counts = {"done": 0, "missing": 0, "stale": 0}
    for state in states:
        counts[state] += 1
    return counts


def cell(interval: Interval, grain: str, state: str) -> dict[str, Any]:
    """One heatmap cell: its column, row, state and the interval it stands for."""
    start: datetime = interval.start
    if grain == "hour":
        column, row = start.date().isoformat(), f"{start.hour:02d}"
    elif grain == "day":
        monday = start.toordinal() - start.weekday()
        column = datetime.fromordinal(monday).date().isoformat()
        row = f"{start.weekday() + 1} {_WEEKDAYS[start.weekday()]}"
    else:
        column, row = start.date().isoformat(), ""
    return {"column": column, "row": row, "state": state, "interval": str(interval)}
