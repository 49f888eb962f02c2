"""What `assay schedule --list` shows: per scheduled dataset its schedule, trigger, last
scheduled run, next run and catch-up limit.

Example:
    >>> import assay, tempfile
    >>> root = tempfile.mkdtemp()
    >>> _ = assay.init_project(root)
    >>> schedule_rows(assay.Project(root))
    []
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from assay.catalog.schedule_state import ScheduleState
from assay.catalog.store import dataset_runs, runs
from assay.intervals import utcnow
from assay.orchestration.sensors import triggers
from assay.pipelines.automation import Trigger
from assay.streaming.sources import StreamSource

if TYPE_CHECKING:
    from assay.project import Project


@dataclass(frozen=True)
class ScheduleRow:
    """One scheduled dataset (or stream) as `assay schedule --list` shows it."""

    dataset: str
    schedule: str
    trigger: str
    last_run: str
    next_run: str
    catchup: str


def schedule_rows(project: Project, now: datetime | None = None) -> list[ScheduleRow]:
    """Every dataset with a schedule, and every stream, in DAG order."""
    now = now or utcnow()
    last = ScheduleState(project.catalog).last_ticks()
    runs = _last_scheduled_runs(project)
    default = project.config.scheduler.max_catchup
    ticked = triggers(project.dag)
    rows = []
    for name in project.dag.order():
        spec = project.dag[name]
        if isinstance(spec.producer, StreamSource):
            rows.append(ScheduleRow(name, "stream", "stream", "-", "kept running", "-"))
            continue
        schedule = spec.automation.schedule
        if name not in ticked:
            continue
        if schedule is None:
            run = runs.get(name)
            last_run = f"{run[0]:%Y-%m-%d %H:%M} ({run[1]})" if run else "never"
            follows = "(follows upstream)"
            rows.append(
                ScheduleRow(name, follows, "on_upstream", last_run, "when an input changes", "-")
            )
            continue
        if schedule.trigger is Trigger.CRON:
            tick = last.get(name)
            last_run = f"{tick[0]:%Y-%m-%d %H:%M} ({tick[1]})" if tick else "never"
            nxt = f"{schedule.next_after(now):%Y-%m-%d %H:%M} UTC"
            catchup = str(
                spec.automation.catchup if spec.automation.catchup is not None else default
            )
        else:
            run = runs.get(name)
            last_run = f"{run[0]:%Y-%m-%d %H:%M} ({run[1]})" if run else "never"
            nxt = (
                "when an input changes"
                if schedule.trigger is Trigger.ON_UPSTREAM
                else ("when files arrive")
            )
            catchup = "-"
        rows.append(
            ScheduleRow(name, schedule.text, schedule.trigger.value, last_run, nxt, catchup)
        )
    return rows


def _last_scheduled_runs(project: Project) -> dict[str, tuple[datetime, str]]:
    """Each dataset's newest run started by the scheduler: (started at, status)."""
    query = (
        sa.select(dataset_runs.c.dataset, dataset_runs.c.started_at, dataset_runs.c.status)
        .join(runs, runs.c.run_id == dataset_runs.c.run_id)
        .where(runs.c.command == "schedule")
        .order_by(dataset_runs.c.started_at)
    )
    with project.catalog.engine.connect() as con:
        return {r[0]: (r[1], r[2]) for r in con.execute(query)}
