"""The commands that fix what an alert reports, as a user types them (`assay --help` has
the verbs): backfill the missed or failed intervals, re-run a dataset, replay quarantine.

Example:
    >>> from datetime import datetime
    >>> from assay.intervals import Interval
    >>> backfill_command("silver.x", [Interval(datetime(2026, 1, 3), datetime(2026, 1, 4))])
    'assay backfill silver.x --start 2026-01-03 --end 2026-01-04'
    >>> run_command("gold.y")
    'assay run --select gold.y'
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from assay.intervals import Interval


def backfill_command(dataset: str, intervals: Sequence[Interval]) -> str:
    """`assay backfill` over the span of `intervals` (already done ones in it are skipped)."""
    start = min(i.start for i in intervals)
    end = max(i.end for i in intervals)
    return f"assay backfill {dataset} --start {_when(start)} --end {_when(end)}"


def run_command(dataset: str) -> str:
    return f"assay run --select {dataset}"


def replay_command(dataset: str) -> str:
    return f"assay quarantine replay {dataset}"


def _when(moment: datetime) -> str:
    """A date when `moment` is midnight (what --start/--end document), else ISO to the minute."""
    if moment.time() == datetime.min.time():
        return moment.date().isoformat()
    return moment.isoformat(timespec="minutes")
