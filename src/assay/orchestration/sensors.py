"""What is due on a tick: cron ticks (with catch-up), `on_upstream` and `on_arrival`.

Each test is cheap and exact:

- cron: the ticks in `(last tick recorded, now]` from the catalog's schedule state, plus
  ticks claimed but never finished (a crash, a lock held too long, a failed run);
- on_upstream: an input's newest Delta version differs from the version it had when the
  dataset last ran (one directory listing of the input's `_delta_log` per input, no log
  replay; the planner is not consulted: the run plans, and finds nothing when nothing changed);
- on_arrival: a `stat` of the source's glob against the catalog's ingested files (path,
  size, mtime_ns); no file is read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from assay.catalog.schedule_state import TickRecord
from assay.pipelines.automation import Schedule, Trigger
from assay.pipelines.dag import Dag
from assay.tables import Warehouse

#: How many names a log line lists before it says "and N more".
_NAMED = 5


@dataclass(frozen=True)
class CronPlan:
    """What a cron dataset has to do now.

    Attributes:
        baseline: set on the first start: the newest tick at or before now, recorded as the
            schedule's origin (no history is run, like Airflow 3's catchup=False default).
        runs: (tick, interval start) pairs to run, oldest first: pending ticks, then new ones.
        skipped: missed ticks older than the catch-up limit, not run.
    """

    baseline: datetime | None = None
    runs: list[tuple[datetime, datetime]] = field(default_factory=list)
    skipped: list[datetime] = field(default_factory=list)


def previous_tick(schedule: Schedule, moment: datetime) -> datetime:
    """The newest cron tick strictly before `moment`.

    Example:
        >>> previous_tick(Schedule.parse("@hourly"), datetime(2026, 1, 1, 5))
        datetime.datetime(2026, 1, 1, 4, 0)
    """
    from croniter import croniter

    if schedule.cron is None:
        raise ValueError(f"{schedule.text} is not a time schedule")
    return croniter(schedule.cron, moment).get_prev(datetime)


def cron_plan(
    schedule: Schedule,
    last: datetime | None,
    pending: list[TickRecord],
    now: datetime,
    catchup: int,
) -> CronPlan:
    """The ticks to run at `now`: a tick T covers the data interval [previous tick, T).

    After downtime the missed ticks are run oldest first, at most `catchup` of the newest
    (at least the newest one: `catchup=0` runs only the current tick); older ones are
    skipped. Pending ticks (claimed, not finished) always run again.

    Example:
        >>> hourly = Schedule.parse("@hourly")
        >>> plan = cron_plan(hourly, datetime(2026, 1, 1, 0), [], datetime(2026, 1, 1, 5, 1), 3)
        >>> [t.hour for t, _ in plan.runs], [t.hour for t in plan.skipped]
        ([3, 4, 5], [1, 2])
    """
    if last is None:
        return CronPlan(baseline=previous_tick(schedule, now + timedelta(microseconds=1)))
    runs = [(p.tick, p.start or previous_tick(schedule, p.tick)) for p in pending]
    new = schedule.ticks_between(last, now)
    keep = max(catchup, 1)
    skipped, new = new[:-keep] if len(new) > keep else [], new[-keep:]
    runs += [(tick, previous_tick(schedule, tick)) for tick in new]
    return CronPlan(runs=runs, skipped=skipped)


def delta_version(warehouse: Warehouse, name: str) -> int | None:
    """The newest version of table `name`: the highest commit file in its local
    `_delta_log` (one directory listing, exact: Delta commits are put-if-absent files),
    or the Delta library's answer for object stores. None: no table.

    Example:
        >>> import tempfile
        >>> delta_version(Warehouse(tempfile.mkdtemp()), "bronze.none") is None
        True
    """
    uri = warehouse.uri(name)
    if "://" in uri and not uri.startswith("file://"):
        return warehouse.version(name)
    log = Path(uri.removeprefix("file://")) / "_delta_log"
    try:
        names = os.listdir(log)
    except (FileNotFoundError, NotADirectoryError):
        return None
    versions = [int(n[:20]) for n in names if len(n) == 25 and n.endswith(".json")]
    return max(versions) if versions else None


class Versions:
    """Tables' newest versions, each listed once per tick until the scheduler runs the
    table's dataset (`forget`), since a run commits new versions."""

    def __init__(self, warehouse: Warehouse):
        self.warehouse = warehouse
        self._known: dict[str, int | None] = {}

    def __getitem__(self, name: str) -> int | None:
        if name not in self._known:
            self._known[name] = delta_version(self.warehouse, name)
        return self._known[name]

    def forget(self, name: str) -> None:
        self._known.pop(name, None)


def upstream_changes(
    inputs: tuple[str, ...],
    versions: Versions,
    consumed: Mapping[str, int] | None,
) -> list[str]:
    """Why an `on_upstream` dataset is due: one reason per input whose version is not the
    one consumed. `consumed` None: never run by the scheduler, due once any input exists.

    Example:
        >>> import tempfile
        >>> upstream_changes(("bronze.a",), Versions(Warehouse(tempfile.mkdtemp())), {})
        []
    """
    reasons = []
    for name in inputs:
        now = versions[name]
        if now is None:
            continue
        if consumed is None:
            reasons.append(f"{name} v{now} (not run by the scheduler yet)")
        elif consumed.get(name) != now:
            reasons.append(f"new data in {name} (v{consumed.get(name)} -> v{now})")
    return reasons


def named(items: list[str]) -> str:
    """`a, b, c` or `a, b, c, d, e and 7 more` for log lines."""
    head = ", ".join(items[:_NAMED])
    return head + (f" and {len(items) - _NAMED} more" if len(items) > _NAMED else "")


def triggers(dag: Dag) -> dict[str, Trigger]:
    """What makes each dataset the scheduler ticks due, in DAG order: its declared schedule,
    or, for a dataset without one downstream of a scheduled dataset or a stream,
    `on_upstream` (it follows its upstream, as the Airflow DAGs hold it in its upstream's
    DAG). Streams are kept running, not ticked; datasets with no scheduled upstream are
    left to `assay run`.

    Example:
        >>> import assay
        >>> from assay.pipelines.dag import Dag
        >>> a = assay.files("bronze.a", "a/*.csv", "csv", schedule="@hourly")
        >>> @assay.transform("silver.b", inputs=["bronze.a"])
        ... def b(ctx, a):
        ...     return a
        >>> triggers(Dag([a, b.dataset]))
        {'bronze.a': <Trigger.CRON: 'cron'>, 'silver.b': <Trigger.ON_UPSTREAM: 'on_upstream'>}
    """
    found: dict[str, Trigger] = {}
    driven: set[str] = set()
    for name in dag.order():
        spec = dag[name]
        schedule = spec.automation.schedule
        if spec.producer.is_stream:
            driven.add(name)
        elif schedule is not None:
            found[name] = schedule.trigger
            driven.add(name)
        elif any(i in driven for i in spec.inputs):
            found[name] = Trigger.ON_UPSTREAM
            driven.add(name)
    return found
