"""The UI's dataset page: `assay describe` plus the history behind it (check results per
run, metric history with anomalies, intervals, versions) and sample rows read as the
current principal (so the role's masks, row filters and denials apply).

Example:
    >>> from datetime import datetime
    >>> history = [(datetime(2026, 1, d), 100.0 + d % 2) for d in range(1, 9)]
    >>> points = metric_points("batch.rows", history + [(datetime(2026, 1, 9), 400.0)])
    >>> [(p["value"], p["anomaly"]) for p in points[-2:]]
    [(100.0, False), (400.0, True)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from assay.catalog.store import metric_history, metrics
from assay.catalog_views.describe import Description, describe
from assay.catalog_views.interval_map import IntervalMap, interval_map
from assay.contracts.anomalies import detect, watched
from assay.errors import AccessDeniedError, AssayError
from assay.governance.principal import current_principal
from assay.pipelines.spec import Kind

if TYPE_CHECKING:
    from assay.runtime import Runtime

#: Rows shown as a sample.
SAMPLE_ROWS = 20
#: Versions drawn in the rows-per-version chart (newest).
VERSIONS = 100
#: Runs drawn in the check-results chart (newest).
CHECK_RUNS = 30
#: Values of each metric drawn (newest).
METRIC_POINTS = 60


@dataclass
class Sample:
    """The first rows as the principal sees them, or why they cannot be shown."""

    principal: str
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    version: int | None = None
    #: column -> mask (null, hash, partial, tokenize) the principal's role sees it through.
    masks: dict[str, str] = field(default_factory=dict)
    row_filter: str | None = None
    refused: str | None = None


@dataclass
class DatasetPage:
    about: Description
    #: column -> its classifications (pii, restricted, ...), classified columns only.
    classifications: dict[str, list[str]] = field(default_factory=dict)
    #: {"run", "at", "outcome", "rules"} per run and outcome, oldest first.
    check_runs: list[dict[str, Any]] = field(default_factory=list)
    #: {"at", "metric", "value", "anomaly", "low", "high"}, per watched metric.
    metric_series: list[dict[str, Any]] = field(default_factory=list)
    anomalies: list[dict[str, Any]] = field(default_factory=list)
    intervals: IntervalMap | None = None
    #: {"version", "at", "operation", "rows_added"}, oldest first.
    versions: list[dict[str, Any]] = field(default_factory=list)
    sample: Sample | None = None


def dataset_page(rt: Runtime, name: str) -> DatasetPage:
    """Everything the dataset page shows of `name` (a dataset or a registered table).

    Raises:
        UsageError: nothing has that name (the hint suggests close names).
    """
    page = DatasetPage(describe(rt, name))
    page.classifications = classifications(rt, name)
    page.check_runs = check_runs(page.about)
    page.metric_series, page.anomalies = metric_series(rt, name)
    spec = rt.dag.specs.get(name)
    if spec is not None and spec.kind is Kind.INCREMENTAL:
        page.intervals = interval_map(rt, spec)
    if rt.warehouse.exists(name):
        page.versions = versions(rt, name)
        page.sample = sample(rt, name)
    return page


def classifications(rt: Runtime, name: str) -> dict[str, list[str]]:
    """The effective classifications of the dataset's columns (contracts, tags, scans and
    lineage, as `assay governance` resolves them)."""
    from assay.governance.classes import classified_columns

    found = classified_columns(rt).get(name, {})
    return {column: sorted(c.classes | c.kinds) for column, c in sorted(found.items())}


def check_runs(about: Description) -> list[dict[str, Any]]:
    """Rules passed, warned, failed and not run per checked run (for a stacked chart)."""
    rows = []
    for run in about.quality_trend[-CHECK_RUNS:]:
        label = f"{run.measured_at:%m-%d %H:%M:%S}"
        for outcome, count in (
            ("passed", run.passed),
            ("warning", run.warned),
            ("failed", run.failed),
            ("skipped", run.not_run),
        ):
            if count:
                rows.append(
                    {
                        "run": label,
                        "run_id": run.run_id,
                        "at": run.measured_at,
                        "outcome": outcome,
                        "rules": count,
                    }
                )
    return rows


def metric_series(rt: Runtime, name: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The history of every metric anomalies are watched on (row counts, null rates,
    means), each point marked when it was outside the range its earlier values give; and
    the anomalous points."""
    query = (
        sa.select(metrics.c.metric)
        .where(metrics.c.dataset == name, metrics.c.value.is_not(None))
        .distinct()
    )
    with rt.catalog.engine.connect() as con:
        found: list[str] = [str(row[0]) for row in con.execute(query).all()]
    names = sorted(m for m in found if watched(m.removeprefix("batch.")))
    series: list[dict[str, Any]] = []
    for metric in names:
        series += metric_points(metric, metric_history(rt.catalog, name, metric, METRIC_POINTS))
    return series, [point for point in series if point["anomaly"]]


def metric_points(metric: str, history: Sequence[tuple[datetime, float]]) -> list[dict[str, Any]]:
    """Each value of `metric` with the range its earlier values expected (anomalies'
    robust baseline, `assay.contracts.anomalies.detect`)."""
    points = []
    for index, (at, value) in enumerate(history):
        found = detect(metric, history[:index], value, at)
        points.append(
            {
                "at": at,
                "metric": metric,
                "value": value,
                "anomaly": found is not None,
                "low": found.low if found else None,
                "high": found.high if found else None,
            }
        )
    return points


def versions(rt: Runtime, name: str) -> list[dict[str, Any]]:
    """The table's newest versions from its Delta log: when, what, and rows added."""
    return [
        {
            "version": commit.version,
            "at": commit.timestamp,
            "operation": commit.operation,
            "rows_added": commit.rows_added or 0,
        }
        for commit in reversed(rt.warehouse.history(name, VERSIONS))
    ]


def sample(rt: Runtime, name: str, limit: int = SAMPLE_ROWS) -> Sample:
    """The first `limit` rows through `runtime.reader` as the current principal: masked,
    filtered or refused as that principal's role says."""
    found = Sample(current_principal())
    try:
        data, found.version = rt.reader.head(name, limit)
    except AccessDeniedError as exc:
        found.refused = exc.message + (f" ({exc.hint})" if exc.hint else "")
        return found
    except AssayError as exc:  # a table the reader cannot open (e.g. removed meanwhile)
        found.refused = exc.message
        return found
    found.columns = list(data.column_names)
    found.rows = [list(row.values()) for row in data.to_pylist()]
    found.masks, found.row_filter = _access(rt, name, rt.warehouse.schema(name))
    return found


def _access(rt: Runtime, name: str, schema: Any) -> tuple[dict[str, str], str | None]:
    """What the principal's role does to this table's values (to label the sample)."""
    from assay.governance.access import AccessPolicy

    policy = AccessPolicy.for_runtime(rt)
    if policy is None:
        return {}, None
    access = policy.table(policy.role_of(current_principal()), name, schema)
    return dict(access.masks), access.row_filter
