"""The runs page's data (`/runs` in the web UI): each dataset's runs as bars on a timeline
(from `assay_dataset_runs` and `assay_runs`), and the failures with their message and the
command that fixes them.

The fix command is the one the failure alert printed when alerting recorded it
(`assay_alerts`), else the one `failure_alert` would print now (a backfill of the
intervals still missing, or a re-run): the same words `assay alerts` and the channels use.

Example:
    >>> import assay, tempfile
    >>> root = tempfile.mkdtemp()
    >>> _ = assay.init_project(root)
    >>> project = assay.Project(root)
    >>> view = runs_view(project.runtime)
    >>> view.bars, view.failures
    ([], [])
    >>> _ = project.run()
    >>> sorted({bar.dataset for bar in runs_view(project.runtime).bars})[:2]
    ['bronze.customers', 'bronze.orders']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from assay.catalog.store import DatasetRun, dataset_runs, runs

if TYPE_CHECKING:
    from assay.runtime import Runtime

#: The newest dataset runs the page draws (older ones are in `assay history`).
RUNS_SHOWN = 2000
#: The newest failures the table lists.
FAILURES_SHOWN = 50


@dataclass(frozen=True)
class RunBar:
    """One dataset in one run: a bar from `started_at` to `finished_at`."""

    run_id: str
    dataset: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    seconds: float | None
    rows_in: int | None
    rows_written: int | None
    rows_quarantined: int | None
    command: str


@dataclass(frozen=True)
class Failure:
    """A failed dataset run: what it said and what to type to fix it."""

    run_id: str
    dataset: str
    started_at: datetime
    message: str
    error: str
    fix: str
    #: A later run of the dataset succeeded.
    recovered: bool

    @property
    def details(self) -> str:
        """What the error says beyond `message` (its other lines; the whole error when
        the message had to be shortened): empty when the message is all of it, so the
        page shows the message once.

        Example:
            >>> from datetime import datetime
            >>> Failure("r", "d", datetime(2026, 1, 1), "boom", "boom", "fix", False).details
            ''
            >>> Failure("r", "d", datetime(2026, 1, 1), "boom", "boom\\n  at x", "f", False).details
            'at x'
        """
        first, _, rest = self.error.strip().partition("\n")
        if first.endswith(self.message):
            return rest.strip()
        return self.error.strip()


@dataclass(frozen=True)
class RunsView:
    """Everything the runs page shows; `dataset` is the filter (None: every dataset)."""

    dataset: str | None
    bars: list[RunBar]
    failures: list[Failure]
    #: Per dataset, its last build that did work (success or failed; a stream's last
    #: micro-batch, `streamed`): what the overview and `assay status` show as its last run.
    builds: dict[str, DatasetRun] = field(default_factory=dict)

    @property
    def datasets(self) -> list[str]:
        """The datasets with runs, sorted."""
        return sorted({bar.dataset for bar in self.bars})


def runs_view(rt: Runtime, dataset: str | None = None, limit: int = RUNS_SHOWN) -> RunsView:
    """The newest `limit` dataset runs (of `dataset` only, when given), oldest first, and
    the newest failures among them with their fix commands."""
    bars = _bars(rt, dataset, limit)
    return RunsView(dataset, bars, _failures(rt, bars), last_builds(rt, dataset))


def last_builds(rt: Runtime, dataset: str | None = None) -> dict[str, DatasetRun]:
    """Each dataset's (or `dataset`'s) last build that did work, as the overview reads it:
    the catalog's last successful or failed run, else a stream's last micro-batch."""
    from assay.catalog_views.overview import last_stream_commit

    builds = rt.catalog.last_dataset_runs()
    for name, spec in rt.dag.specs.items():
        if name not in builds and (dataset is None or name == dataset):
            streamed = last_stream_commit(rt, spec)
            if streamed is not None:
                builds[name] = streamed
    return {n: b for n, b in builds.items() if dataset is None or n == dataset}


def _bars(rt: Runtime, dataset: str | None, limit: int) -> list[RunBar]:
    d = dataset_runs.c
    query = (
        sa.select(
            d.run_id,
            d.dataset,
            d.status,
            d.started_at,
            d.finished_at,
            d.rows_in,
            d.rows_written,
            d.rows_quarantined,
            sa.func.coalesce(runs.c.command, "").label("command"),
        )
        .select_from(dataset_runs.outerjoin(runs, runs.c.run_id == d.run_id))
        .order_by(d.id.desc())
        .limit(limit)
    )
    if dataset is not None:
        query = query.where(d.dataset == dataset)
    with rt.catalog.engine.connect() as con:
        rows = list(con.execute(query).mappings())
    return [
        RunBar(
            run_id=r["run_id"],
            dataset=r["dataset"],
            status=r["status"],
            started_at=r["started_at"],
            finished_at=r["finished_at"],
            seconds=_seconds(r["started_at"], r["finished_at"]),
            rows_in=r["rows_in"],
            rows_written=r["rows_written"],
            rows_quarantined=r["rows_quarantined"],
            command=r["command"],
        )
        for r in reversed(rows)
    ]


def _seconds(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else (end - start).total_seconds()


def _failures(rt: Runtime, bars: list[RunBar]) -> list[Failure]:
    """The newest failures of `bars`, newest first, each with its fix command."""
    failed = [b for b in reversed(bars) if b.status == "failed"][:FAILURES_SHOWN]
    if not failed:
        return []
    errors = _errors(rt, [b.run_id for b in failed])
    alerted = _alerted_fixes(rt)
    computed: dict[str, str] = {}
    found = []
    for bar in failed:
        error = errors.get((bar.run_id, bar.dataset)) or "no error recorded"
        fix = alerted.get((bar.run_id, bar.dataset))
        if fix is None:
            if bar.dataset not in computed:
                computed[bar.dataset] = fix_command(rt, bar.dataset, bar.run_id, error)
            fix = computed[bar.dataset]
        recovered = any(
            b.dataset == bar.dataset and b.status == "success" and b.started_at > bar.started_at
            for b in bars
        )
        found.append(
            Failure(
                bar.run_id,
                bar.dataset,
                bar.started_at,
                _message(bar.dataset, error),
                error,
                fix,
                recovered,
            )
        )
    return found


def _errors(rt: Runtime, run_ids: list[str]) -> dict[tuple[str, str], str]:
    d = dataset_runs.c
    query = sa.select(d.run_id, d.dataset, d.error, d.reason).where(
        d.status == "failed", d.run_id.in_(sorted(set(run_ids)))
    )
    with rt.catalog.engine.connect() as con:
        return {(r.run_id, r.dataset): r.error or r.reason or "" for r in con.execute(query)}


def _alerted_fixes(rt: Runtime) -> dict[tuple[str, str], str]:
    """(run id, dataset) -> the fix its alert printed, when alerting recorded one. The
    alert tables exist only once alerting was used: they are not created by a read."""
    from assay.catalog.alert_state import alerts

    if not sa.inspect(rt.catalog.engine).has_table(alerts.name):
        return {}
    query = sa.select(alerts.c.run_id, alerts.c.dataset, alerts.c.fix).where(
        alerts.c.event.in_(["failure", "contract", "quarantine"]), alerts.c.run_id.is_not(None)
    )
    with rt.catalog.engine.connect() as con:
        return {(r.run_id, r.dataset): r.fix for r in con.execute(query.order_by(alerts.c.id))}


def fix_command(rt: Runtime, dataset: str, run_id: str, error: str) -> str:
    """The command the failure alert of `dataset` would print now: a backfill of the
    intervals still missing or stale, else a re-run (`assay run --select`).

    Example:
        >>> import assay, tempfile
        >>> root = tempfile.mkdtemp()
        >>> _ = assay.init_project(root)
        >>> fix_command(assay.Project(root).runtime, "silver.orders", "r1", "boom")
        'assay run --select silver.orders'
    """
    from assay.orchestration.fixes import run_command
    from assay.orchestration.run_rules import failure_alert
    from assay.pipelines.runner import DatasetResult, RunResult

    spec = rt.dag.specs.get(dataset)
    if spec is None:  # no longer declared (a renamed dataset): a re-run says so plainly
        return run_command(dataset)
    outcome = DatasetResult(dataset, "failed", error=error)
    return failure_alert(rt, spec, outcome, RunResult(run_id, [outcome], 0.0), None).fix


def _message(dataset: str, error: str) -> str:
    """The error's first line, without the dataset's name in front (as alerts show it)."""
    from assay.orchestration.run_rules import summary_line
    from assay.pipelines.runner import DatasetResult

    return summary_line(DatasetResult(dataset, "failed", error=error))
