"""A dataset's contract results as `assay describe` shows them: the newest run's results
and the trend of pass, warn and fail over recent runs (from `assay_check_results`).

Example:
    >>> from assay.catalog import Catalog
    >>> from assay.catalog.store import record_checks
    >>> from assay.contracts.results import CheckResult
    >>> cat = Catalog("sqlite://")
    >>> ok = CheckResult("silver.x", "rows > 0", "batch", "error", "pass")
    >>> record_checks(cat, "r1", [ok], {})
    >>> [(r.rule, r.status) for r in last_results(cat, "silver.x")]
    [('rows > 0', 'pass')]
    >>> [(t.run_id, t.passed, t.failed) for t in quality_trend(cat, "silver.x")]
    [('r1', 1, 0)]
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from assay.catalog.store import Catalog, check_results


@dataclass(frozen=True)
class StoredResult:
    """One rule's stored outcome."""

    run_id: str
    rule: str
    kind: str
    severity: str
    status: str
    observed: float | None
    expected: str | None
    detail: str | None
    measured_at: datetime


@dataclass(frozen=True)
class RunQuality:
    """How one run's (or `assay check`'s) rules came out for a dataset."""

    run_id: str
    measured_at: datetime
    passed: int
    warned: int
    failed: int
    not_run: int


def last_results(catalog: Catalog, dataset: str) -> list[StoredResult]:
    """The results of the newest run that checked `dataset` (empty: never checked)."""
    newest = (
        sa.select(check_results.c.run_id)
        .where(check_results.c.dataset == dataset)
        .order_by(check_results.c.id.desc())
        .limit(1)
    )
    with catalog.engine.connect() as con:
        run_id = con.execute(newest).scalar()
        if run_id is None:
            return []
        rows = con.execute(
            sa.select(check_results)
            .where(check_results.c.dataset == dataset, check_results.c.run_id == run_id)
            .order_by(check_results.c.id)
        ).mappings()
        return [StoredResult(**{k: r[k] for k in StoredResult.__dataclass_fields__}) for r in rows]


def quality_trend(catalog: Catalog, dataset: str, runs: int = 10) -> list[RunQuality]:
    """Pass, warn, fail and not-run counts of the newest `runs` runs, oldest first."""
    c = check_results.c

    def count(status: str) -> sa.ColumnElement[int]:
        return sa.func.sum(sa.case((c.status == status, 1), else_=0))

    query = (
        sa.select(
            c.run_id,
            sa.func.max(c.measured_at).label("at"),
            count("pass").label("passed"),
            count("warn").label("warned"),
            count("fail").label("failed"),
            count("not_run").label("not_run"),
        )
        .where(c.dataset == dataset)
        .group_by(c.run_id)
        .order_by(sa.func.max(c.id).desc())
        .limit(runs)
    )
    with catalog.engine.connect() as con:
        rows = list(con.execute(query).mappings())
    return [
        RunQuality(
            r["run_id"],
            r["at"],
            int(r["passed"]),
            int(r["warned"]),
            int(r["failed"]),
            int(r["not_run"]),
        )
        for r in reversed(rows)
    ]
