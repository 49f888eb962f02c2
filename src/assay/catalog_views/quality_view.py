"""The quality page's data (`/quality` in the web UI): every rule's outcome per run (from
`assay_check_results`, dbt tests' `dbt:` rules included), quarantined rows by rule per
day (from the `quarantine.*` tables), the latest results of each dataset, and a sample of
the newest quarantined rows.

Quarantine rows are read through `runtime.reader` (as the current principal: the web UI
reads inside `as_principal`), so roles and masks apply to every count and value shown; a
quarantine table the principal may not read is listed in `denied`, not shown, and one
whose raw records it may not read (it reads the dataset masked) in `withheld`: its rows
are counted and sampled without them.

Example:
    >>> import assay, tempfile
    >>> root = tempfile.mkdtemp()
    >>> _ = assay.init_project(root)
    >>> view = quality_view(assay.Project(root).runtime)
    >>> view.outcomes, view.quarantined
    ([], [])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from assay.catalog.quality import StoredResult, last_results
from assay.catalog.store import check_results
from assay.errors import AccessDeniedError
from assay.pipelines.rejected import QUARANTINE

if TYPE_CHECKING:
    from assay.runtime import Runtime

#: The newest rule outcomes the page charts.
OUTCOMES_SHOWN = 5000
#: Newest quarantined rows shown as a sample, over every quarantine table.
SAMPLE_ROWS = 20
SAMPLE_COLUMNS = (
    "dataset",
    "rule",
    "reason",
    "raw_record",
    "source_file",
    "line",
    "quarantined_at",
)
#: What a principal who reads the dataset masked may see of its quarantined rows.
METADATA_COLUMNS = ("dataset", "rule", "quarantined_at")


@dataclass(frozen=True)
class RuleOutcome:
    """One rule's status in one run."""

    dataset: str
    rule: str
    run_id: str
    status: str
    severity: str
    measured_at: datetime


@dataclass(frozen=True)
class QuarantineDay:
    """Rows quarantined by one rule of one dataset on one day (UTC)."""

    dataset: str
    rule: str
    day: date
    rows: int


@dataclass
class QualityView:
    """Everything the quality page shows."""

    outcomes: list[RuleOutcome]
    quarantined: list[QuarantineDay]
    latest: dict[str, list[StoredResult]] = field(default_factory=dict)
    sample: list[dict[str, Any]] = field(default_factory=list)
    #: Quarantine tables the principal may not read.
    denied: list[str] = field(default_factory=list)
    #: Quarantine tables whose raw records (and reasons) the principal may not read.
    withheld: list[str] = field(default_factory=list)


def quality_view(rt: Runtime, dataset: str | None = None) -> QualityView:
    """Rule outcomes, quarantine by rule and day, latest results (of `dataset` only, when
    given) and a sample of the newest quarantined rows."""
    outcomes = rule_outcomes(rt, dataset)
    names = sorted({o.dataset for o in outcomes})
    view = QualityView(outcomes, [], {name: last_results(rt.catalog, name) for name in names})
    samples = []
    for table, owner in _quarantine_tables(rt, dataset):
        try:
            counted = rt.reader.table(table, columns=["rule", "quarantined_at"])
        except AccessDeniedError:
            view.denied.append(table)
            continue
        view.quarantined += quarantine_by_day(owner, counted)
        samples.append(_sample(rt, table, view))
    view.sample = _newest(samples, SAMPLE_ROWS)
    return view


def _sample(rt: Runtime, table: str, view: QualityView) -> pa.Table:
    """The table's rows with their raw records, or without them when the principal reads
    the dataset masked (raw records would show what the masks hide: the reader refuses)."""
    try:
        rows = rt.reader.table(table, columns=_present(rt, table, SAMPLE_COLUMNS))
    except AccessDeniedError:
        view.withheld.append(table)
        rows = rt.reader.table(table, columns=_present(rt, table, METADATA_COLUMNS))
    # Only the newest few can be shown: keep them before making Python rows.
    return rows.sort_by([("quarantined_at", "descending")]).slice(0, SAMPLE_ROWS)


def rule_outcomes(rt: Runtime, dataset: str | None = None) -> list[RuleOutcome]:
    """The newest rule outcomes, oldest first.

    Example:
        >>> from assay.catalog import Catalog
        >>> from assay.catalog.store import record_checks
        >>> from assay.contracts.results import CheckResult
        >>> class Rt:
        ...     catalog = Catalog("sqlite://")
        >>> record_checks(Rt.catalog, "r1", [CheckResult("silver.x", "rows > 0", "batch",
        ...     "error", "fail")], {})
        >>> [(o.rule, o.status) for o in rule_outcomes(Rt)]  # type: ignore[arg-type]
        [('rows > 0', 'fail')]
    """
    c = check_results.c
    query = sa.select(c.dataset, c.rule, c.run_id, c.status, c.severity, c.measured_at)
    if dataset is not None:
        query = query.where(c.dataset == dataset)
    query = query.order_by(c.id.desc()).limit(OUTCOMES_SHOWN)
    with rt.catalog.engine.connect() as con:
        rows = list(con.execute(query).mappings())
    return [RuleOutcome(**dict(row)) for row in reversed(rows)]


def quarantine_by_day(dataset: str, rows: pa.Table) -> list[QuarantineDay]:
    """Rows of one quarantine table counted by rule and day of `quarantined_at`.

    Example:
        >>> rows = pa.table({"rule": ["cast", "cast", "min(a)"],
        ...     "quarantined_at": [datetime(2026, 1, 1, 5), datetime(2026, 1, 1, 9),
        ...                        datetime(2026, 1, 2)]})
        >>> [(d.rule, d.day.isoformat(), d.rows) for d in quarantine_by_day("b.t", rows)]
        [('cast', '2026-01-01', 2), ('min(a)', '2026-01-02', 1)]
    """
    if rows.num_rows == 0:
        return []
    days = pc.floor_temporal(rows["quarantined_at"], unit="day")
    rules = pc.fill_null(rows["rule"], "(no rule)")
    counts = (
        pa.table({"rule": rules, "day": days})
        .group_by(["rule", "day"])
        .aggregate([("rule", "count")])
    )
    found = [
        QuarantineDay(dataset, r["rule"], r["day"].date(), r["rule_count"])
        for r in counts.to_pylist()
        if r["day"] is not None
    ]
    return sorted(found, key=lambda d: (d.day, d.rule))


def _quarantine_tables(rt: Runtime, dataset: str | None) -> list[tuple[str, str]]:
    """(quarantine table, its dataset) of the declared datasets that have one."""
    names = [dataset] if dataset is not None else sorted(rt.dag.specs)
    tables = [(QUARANTINE.name(name), name) for name in names]
    return [(table, name) for table, name in tables if rt.warehouse.exists(table)]


def _present(rt: Runtime, table: str, wanted: tuple[str, ...]) -> list[str]:
    """The columns of `wanted` the table has (tables written before the shared shape
    lack some)."""
    have = set(rt.warehouse.schema(table).names)
    return [c for c in wanted if c in have]


def _newest(tables: list[pa.Table], limit: int) -> list[dict[str, Any]]:
    rows = [r for t in tables for r in t.to_pylist()]
    rows.sort(key=lambda r: r.get("quarantined_at") or datetime.min, reverse=True)
    return rows[:limit]
