"""The UI's overview: every dataset with its status, freshness, last run, SLA state and
quarantined share, and the runs per day.

It starts from what `assay status` computes (`DatasetStatus`, passed in: the project
computes it) and what `assay plan` would do (`Work`), and adds the rest from the catalog
and the Delta logs, without reading table data.

Example:
    >>> status_of(None, None, False, 0)
    'never built'
    >>> status_of(3, "failed", False, 0), status_of(3, "success", True, 0)
    ('failed', 'stale')
    >>> status_of(3, "success", False, 2), status_of(3, "success", False, 0)
    ('stale', 'fresh')
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow.compute as pc
import sqlalchemy as sa

from assay.catalog.store import DatasetRun, dataset_runs
from assay.intervals import to_naive_utc, utcnow
from assay.orchestration.slas import deadline_alerts

if TYPE_CHECKING:
    from assay.pipelines.spec import DatasetSpec
    from assay.runtime import Runtime

#: Runs whose quarantined share the overview shows, per dataset (the newest ones).
SHARE_RUNS = 5
#: Days of runs in the runs-per-day chart.
CHART_DAYS = 30
#: Layers in the order data flows through them (others come after, alphabetically).
LAYERS = ("bronze", "silver", "gold")


class StatusLike(Protocol):
    """What the overview needs of `assay.project.DatasetStatus` (one row of `assay status`)."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def version(self) -> int | None: ...
    @property
    def rows(self) -> int | None: ...
    @property
    def last_status(self) -> str | None: ...
    @property
    def intervals_missing(self) -> int | None: ...
    @property
    def problem(self) -> str | None: ...


class WorkLike(Protocol):
    """What the overview needs of `assay.pipelines.plan.Work`."""

    @property
    def dataset(self) -> str: ...
    @property
    def needed(self) -> bool: ...
    @property
    def reasons(self) -> list[str]: ...


@dataclass
class DatasetRow:
    """One dataset on the overview."""

    name: str
    layer: str
    kind: str
    owner: str | None
    #: fresh, stale (a run would change it), failed (its last run failed) or never built.
    status: str
    #: Why it is stale or failed, as `assay plan` / the run said.
    reason: str | None
    version: int | None
    rows: int | None
    #: The newest event time in the table (its time column), else its last commit.
    fresh_as_of: datetime | None = None
    fresh_by: str | None = None  # "data" or "commit"
    last_run_at: datetime | None = None
    last_run_status: str | None = None
    last_run_seconds: float | None = None
    sla: str | None = None
    #: met, missed, or None without an SLA.
    sla_state: str | None = None
    sla_detail: str | None = None
    #: Rows quarantined / rows in, over its newest SHARE_RUNS runs that took rows in.
    quarantined_share: float | None = None
    quarantined_rows: int = 0


@dataclass
class Overview:
    datasets: list[DatasetRow]
    #: {"day", "status", "runs"} per day and status of dataset runs, CHART_DAYS back.
    runs_per_day: list[dict[str, Any]] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Datasets per status."""
        return dict(Counter(row.status for row in self.datasets))


def status_of(version: int | None, last_status: str | None, needed: bool, missing: int) -> str:
    """A dataset's state as the overview names it (see the module's example)."""
    if version is None:
        return "never built"
    if last_status in ("failed", "blocked"):
        return "failed"
    if needed or missing:
        return "stale"
    return "fresh"


def layer_of(name: str) -> str:
    """The layer of `layer.name`.

    Example:
        >>> layer_of("silver.transactions"), layer_of("plain")
        ('silver', 'plain')
    """
    return name.split(".", 1)[0]


def layer_rank(layer: str) -> tuple[int, str]:
    """Sort key: bronze, silver, gold, then other layers by name."""
    return (LAYERS.index(layer) if layer in LAYERS else len(LAYERS), layer)


def overview(
    rt: Runtime,
    statuses: Sequence[StatusLike],
    plan: Sequence[WorkLike],
    now: datetime | None = None,
) -> Overview:
    """The overview of every dataset; `statuses` from `Project.status()`, `plan` from
    `Project.plan()`."""
    now = now or utcnow()
    work = {w.dataset: w for w in plan}
    last_runs = rt.catalog.last_dataset_runs()
    shares = quarantined_shares(rt)
    rows = []
    for status in statuses:
        spec = rt.dag.specs[status.name]
        planned = work.get(status.name)
        needed = bool(planned and planned.needed)
        state = status_of(status.version, status.last_status, needed, status.intervals_missing or 0)
        run = last_runs.get(status.name) or last_stream_commit(rt, spec)
        row = DatasetRow(
            name=status.name,
            layer=layer_of(status.name),
            kind=status.kind,
            owner=spec.owner,
            status=state,
            reason=_reason(state, planned, run.error if run else None, status.problem),
            version=status.version,
            rows=status.rows,
            last_run_at=run.started_at if run else None,
            last_run_status=run.status if run else None,
            last_run_seconds=_seconds(run.started_at, run.finished_at) if run else None,
        )
        row.fresh_as_of, row.fresh_by = (
            freshness(rt, spec)
            if status.version is not None
            else (
                None,
                None,
            )
        )
        row.quarantined_share, row.quarantined_rows = shares.get(status.name, (None, 0))
        _add_sla(rt, spec, now, row)
        rows.append(row)
    return Overview(rows, runs_per_day(rt, now))


def _reason(
    state: str, planned: WorkLike | None, error: str | None, problem: str | None
) -> str | None:
    if state == "failed":
        return (error or "the last run failed").splitlines()[0]
    if state == "stale" and planned is not None and planned.reasons:
        return "; ".join(planned.reasons)
    return problem


def _seconds(start: datetime, end: datetime | None) -> float | None:
    return (end - start).total_seconds() if end is not None else None


#: The newest commits of a stream's table searched for its last micro-batch.
STREAM_COMMITS = 50


def last_stream_commit(rt: Runtime, spec: DatasetSpec) -> DatasetRun | None:
    """A stream's (or a stream window's) last run: its newest commit of a micro-batch (a
    commit with stream metadata, not maintenance), as a `streamed` run record. `assay
    stream` writes no run records, so without this a stream that committed batches would
    read "never" run. None for other datasets and streams with no batch yet.

    Example:
        >>> import assay, tempfile
        >>> project = assay.Project(assay.init_project(tempfile.mkdtemp()))
        >>> spec = next(iter(project.runtime.dag.specs.values()))
        >>> last_stream_commit(project.runtime, spec) is None
        True
    """
    if not spec.producer.is_stream or not rt.warehouse.exists(spec.name):
        return None
    for commit in rt.warehouse.history(spec.name, STREAM_COMMITS):
        if "stream" in commit.metadata:
            return DatasetRun(
                run_id=str(commit.metadata.get("run_id") or ""),
                dataset=spec.name,
                status="streamed",
                reason=None,
                started_at=commit.timestamp,
                finished_at=None,
                rows_in=None,
                rows_written=commit.rows_added,
                rows_quarantined=None,
                version=commit.version,
                error=None,
            )
    return None


def freshness(rt: Runtime, spec: DatasetSpec) -> tuple[datetime | None, str | None]:
    """The newest event time in the table (max statistics of its time column in the Delta
    log, as `assay describe` reads it), else the time of its last commit."""
    if spec.time_column:
        actions = rt.warehouse.file_actions(spec.name)
        stat = f"max.{spec.time_column}"
        if stat in actions.column_names and actions.num_rows:
            newest = pc.max(actions[stat]).as_py()
            if isinstance(newest, datetime):  # a TIMESTAMPTZ column's is aware: UTC, naive
                return to_naive_utc(newest), "data"
    last = rt.warehouse.last_commit(spec.name)
    return (last.timestamp, "commit") if last else (None, None)


def _add_sla(rt: Runtime, spec: DatasetSpec, now: datetime, row: DatasetRow) -> None:
    """The SLA's state now, as the scheduler's SLA alerts would see it."""
    sla = spec.automation.sla
    if sla is None:
        return
    row.sla = sla.text
    firing, _ = deadline_alerts(rt, spec, now)
    row.sla_state = "missed" if firing else "met"
    if firing:
        more = f" (and {len(firing) - 1} more)" if len(firing) > 1 else ""
        row.sla_detail = firing[0].summary + more


def quarantined_shares(rt: Runtime, runs: int = SHARE_RUNS) -> dict[str, tuple[float, int]]:
    """Per dataset: (rows quarantined / rows in, rows quarantined) over its newest `runs`
    runs that took rows in."""
    query = (
        sa.select(dataset_runs.c.dataset, dataset_runs.c.rows_in, dataset_runs.c.rows_quarantined)
        .where(dataset_runs.c.rows_in > 0)
        .order_by(dataset_runs.c.id.desc())
        .limit(5000)
    )
    taken: dict[str, list[tuple[int, int]]] = defaultdict(list)
    with rt.catalog.engine.connect() as con:
        for row in con.execute(query).all():
            dataset, rows_in, quarantined = str(row[0]), int(row[1] or 0), int(row[2] or 0)
            if len(taken[dataset]) < runs:
                taken[dataset].append((rows_in, quarantined))
    return {
        name: (sum(q for _, q in pairs) / sum(i for i, _ in pairs), sum(q for _, q in pairs))
        for name, pairs in taken.items()
    }


def runs_per_day(rt: Runtime, now: datetime, days: int = CHART_DAYS) -> list[dict[str, Any]]:
    """Dataset runs per day and status over the last `days` days (work done or failed;
    up-to-date skips are not runs of the dataset)."""
    since = (now - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    query = sa.select(dataset_runs.c.started_at, dataset_runs.c.status).where(
        dataset_runs.c.started_at >= since,
        dataset_runs.c.status.not_in(["up_to_date", "skipped"]),
    )
    counts: Counter[tuple[str, str]] = Counter()
    with rt.catalog.engine.connect() as con:
        for row in con.execute(query).all():
            started: datetime = row[0]
            counts[(started.date().isoformat(), str(row[1]))] += 1
    return [
        {"day": day, "status": status, "runs": n} for (day, status), n in sorted(counts.items())
    ]


def by_layer(rows: Sequence[DatasetRow]) -> Mapping[str, list[DatasetRow]]:
    """The rows grouped by layer, bronze first."""
    grouped: dict[str, list[DatasetRow]] = defaultdict(list)
    for row in rows:
        grouped[row.layer].append(row)
    return {layer: grouped[layer] for layer in sorted(grouped, key=layer_rank)}
