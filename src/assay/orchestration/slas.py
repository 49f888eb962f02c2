"""Freshness deadlines (`sla=` on a dataset): which are missed at a given moment, and which
missed ones are met now.

What a deadline means:

- Incremental datasets. `"interval done by 06:00 UTC"`: the interval `[D, D+1)` must be done
  (in the interval ledger) by the first 06:00 UTC at or after its end, so a daily interval
  by `D+1 06:00`. `"within 2h"`: done by its end plus 2 hours. Each missed interval is its
  own alert (subject: the interval, e.g. `2026-01-03`), resolved when that interval is done.
  Intervals are checked from `LOOKBACK` before `now` (or the dataset's `start`, if later),
  plus any older interval that still has an open alert.
- Other datasets (full, merge, append). `"done by 06:00 UTC"`: once 06:00 UTC has passed
  on a day, the dataset must have a successful run (status success or up_to_date) that
  finished after that day's 00:00 UTC. `"within 2h"` with a cron schedule: a successful
  run finished at or after the latest schedule tick that is at least 2 h old; without a
  schedule: a successful run finished in the last 2 h. One alert per dataset (subject
  `deadline`), resolved by the next such run.

Example:
    >>> from datetime import datetime
    >>> from assay.pipelines.automation import Sla
    >>> day = Interval(datetime(2026, 1, 3), datetime(2026, 1, 4))
    >>> interval_deadline(Sla.parse("interval done by 06:00 UTC"), day)
    datetime.datetime(2026, 1, 4, 6, 0)
    >>> interval_deadline(Sla.parse("within 2h"), day)
    datetime.datetime(2026, 1, 4, 2, 0)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa

from assay.catalog.alert_state import AlertRow
from assay.catalog.store import dataset_runs
from assay.catalog.sync import sync
from assay.intervals import Interval
from assay.orchestration.alerts import Alert, Cleared
from assay.orchestration.fixes import backfill_command, run_command
from assay.pipelines.automation import Sla
from assay.pipelines.spec import DatasetSpec, Kind
from assay.runtime import Runtime

#: How far back the intervals of an incremental dataset are checked against their SLA.
LOOKBACK = timedelta(days=7)
_DAY = timedelta(days=1)
#: The subject of a non-incremental dataset's one deadline alert.
DEADLINE = "deadline"


def interval_deadline(sla: Sla, interval: Interval) -> datetime:
    """When `interval` must be done under `sla` (naive UTC)."""
    if sla.within is not None:
        return interval.end + sla.within
    assert sla.done_by is not None
    day = interval.end.replace(hour=0, minute=0, second=0, microsecond=0)
    deadline = day + sla.done_by
    return deadline if deadline >= interval.end else deadline + _DAY


def deadline_alerts(
    rt: Runtime, spec: DatasetSpec, now: datetime, open_rows: Sequence[AlertRow] = ()
) -> tuple[list[Alert], list[Cleared]]:
    """The SLA alerts of `spec` at `now`, and the missed deadlines now met. `open_rows`:
    its open `sla` alerts (older intervals among them are checked too)."""
    sla = spec.automation.sla
    if sla is None:
        return [], []
    if spec.kind is Kind.INCREMENTAL:
        return _interval_alerts(rt, spec, sla, now, open_rows)
    return _run_alerts(rt, spec, sla, now)


def _interval_alerts(
    rt: Runtime, spec: DatasetSpec, sla: Sla, now: datetime, open_rows: Sequence[AlertRow]
) -> tuple[list[Alert], list[Cleared]]:
    if rt.warehouse.exists(spec.name):
        sync(rt.catalog, rt.warehouse, spec.name)
    done = {r.interval for r in rt.catalog.done_intervals(spec.name, spec.fingerprint)}
    checked = {i for i in _due_intervals(spec, sla, now)}
    checked.update(
        Interval.parse(row.details["interval"]) for row in open_rows if "interval" in row.details
    )
    firing, cleared = [], []
    for interval in sorted(checked, key=lambda i: i.start):
        if interval in done:
            cleared.append(Cleared("sla", spec.name, str(interval)))
            continue
        deadline = interval_deadline(sla, interval)
        late = now - deadline
        firing.append(
            Alert(
                "sla",
                spec.name,
                f"{spec.name}: interval {interval} not done by its deadline "
                f"{deadline:%Y-%m-%d %H:%M} UTC ({_late(late)} late)",
                backfill_command(spec.name, [interval]),
                subject=str(interval),
                details={
                    "sla": sla.text,
                    "interval": interval.key(),
                    "deadline": deadline.isoformat(),
                    "late_seconds": round(late.total_seconds()),
                },
            )
        )
    return firing, cleared


def _due_intervals(spec: DatasetSpec, sla: Sla, now: datetime) -> list[Interval]:
    """The intervals in the look-back whose deadline has passed at `now`."""
    first = now - LOOKBACK
    if spec.start is not None:
        first = max(first, spec.start)
    due = []
    for interval in spec.grain.span(first, now):
        if interval.start < first:
            continue  # partly before the look-back (or before the dataset's start)
        if interval_deadline(sla, interval) > now:
            break  # later intervals' deadlines are later still
        due.append(interval)
    return due


def _run_alerts(
    rt: Runtime, spec: DatasetSpec, sla: Sla, now: datetime
) -> tuple[list[Alert], list[Cleared]]:
    reference, deadline = run_reference(spec, sla, now)
    if reference is None:
        return [], []
    last = last_success(rt, spec.name)
    if last is not None and last >= reference:
        return [], [Cleared("sla", spec.name, DEADLINE)]
    since = "never" if last is None else f"last at {last:%Y-%m-%d %H:%M} UTC"
    alert = Alert(
        "sla",
        spec.name,
        f"{spec.name}: no successful run since {reference:%Y-%m-%d %H:%M} UTC, due by "
        f"{deadline:%Y-%m-%d %H:%M} UTC ({since})",
        run_command(spec.name),
        subject=DEADLINE,
        details={
            "sla": sla.text,
            "reference": reference.isoformat(),
            "deadline": deadline.isoformat(),
            "last_success": None if last is None else last.isoformat(),
        },
    )
    return [alert], []


def run_reference(spec: DatasetSpec, sla: Sla, now: datetime) -> tuple[datetime | None, datetime]:
    """(the time a successful run must have finished after, the deadline that passed) for a
    non-incremental dataset at `now`; the reference is None before the first deadline."""
    if sla.done_by is not None:
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        day = today if today + sla.done_by <= now else today - _DAY
        return day, day + sla.done_by
    assert sla.within is not None
    cutoff = now - sla.within
    schedule = spec.automation.schedule
    if schedule is None or schedule.cron is None:
        return cutoff, now
    from croniter import croniter

    tick = croniter(schedule.cron, cutoff + timedelta(microseconds=1)).get_prev(datetime)
    return tick, tick + sla.within


def last_success(rt: Runtime, dataset: str) -> datetime | None:
    """When `dataset`'s latest successful (or up-to-date) run finished."""
    query = sa.select(sa.func.max(dataset_runs.c.finished_at)).where(
        dataset_runs.c.dataset == dataset,
        dataset_runs.c.status.in_(["success", "up_to_date"]),
    )
    with rt.catalog.engine.connect() as con:
        value = con.execute(query).scalar()
    return value if isinstance(value, datetime) else None


def _late(delta: timedelta) -> str:
    minutes = max(0, round(delta.total_seconds() / 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"
