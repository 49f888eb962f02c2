"""`assay describe NAME`: everything the project knows about one dataset or registered
table, in one object that renders as rich sections or as JSON.

Example:
    >>> import assay, tempfile
    >>> root = tempfile.mkdtemp()
    >>> _ = assay.init_project(root)
    >>> project = assay.Project(root)
    >>> _ = project.run()
    >>> about = describe(project.runtime, "gold.daily_totals")
    >>> about.kind, about.rows > 0, about.upstream
    ('dataset', True, ['bronze.customers', 'silver.orders'])
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow.compute as pc

from assay.catalog.quality import RunQuality, StoredResult, last_results, quality_trend
from assay.catalog.registered import RegisteredTable, get_registered, list_registered
from assay.catalog.schema_history import ColumnHistory, schema_history
from assay.catalog.store import metric_history
from assay.catalog.sync import sync
from assay.errors import UsageError
from assay.pipelines.plan import Planner
from assay.pipelines.spec import DatasetSpec, Kind

if TYPE_CHECKING:
    from assay.runtime import Runtime


@dataclass
class DescribedColumn:
    """A column with its history (versions of the Delta log) and what else is known."""

    name: str
    type: str
    added_in: int | None = None
    retyped: list[dict[str, Any]] = field(default_factory=list)
    dropped_in: int | None = None
    nullable: bool | None = None
    primary_key: bool = False
    comment: str | None = None


@dataclass
class IntervalSummary:
    """An incremental dataset's intervals: done, missing, and the span done."""

    grain: str
    done: int
    missing: int
    first: datetime | None
    last: datetime | None


@dataclass
class Description:
    """What `assay describe` shows; `kind` is `dataset` or `registered`."""

    name: str
    kind: str
    #: How it is written (full, incremental, ...) or where it comes from (delta, parquet...).
    subkind: str
    origin: str
    owner: str | None = None
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    columns: list[DescribedColumn] = field(default_factory=list)
    #: The oldest version the column history starts from (None: no Delta log).
    history_since: int | None = None
    version: int | None = None
    rows: int | None = None
    files: int | None = None
    bytes: int | None = None
    last_commit: datetime | None = None
    time_column: str | None = None
    newest_time: Any = None
    intervals: IntervalSummary | None = None
    contracts: list[str] = field(default_factory=list)
    last_checks: list[StoredResult] = field(default_factory=list)
    quality_trend: list[RunQuality] = field(default_factory=list)
    #: Rows of each recent batch checked by a contract (`batch.rows`), oldest first.
    batch_rows: list[tuple[datetime, float]] = field(default_factory=list)
    upstream: list[str] = field(default_factory=list)
    upstream_all: list[str] = field(default_factory=list)
    downstream: list[str] = field(default_factory=list)
    downstream_all: list[str] = field(default_factory=list)
    feature_views: list[str] = field(default_factory=list)
    registered_at: datetime | None = None
    refreshed_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (times as ISO text)."""
        return _jsonable(asdict(self))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def describe(rt: Runtime, name: str) -> Description:
    """Describe dataset or registered table `name`.

    Raises:
        UsageError: no dataset and no registered table has that name (close names are
            suggested).
    """
    if name in rt.dag.specs:
        return _describe_dataset(rt, rt.dag.specs[name])
    table = get_registered(rt.catalog, name)
    if table is not None:
        return describe_registered(table)
    raise unknown_name(rt, name)


def unknown_name(rt: Runtime, name: str) -> UsageError:
    """The error for a name nothing in the catalog has, with the closest names."""
    known = [*rt.dag.specs, *(t.name for t in list_registered(rt.catalog))]
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else "see `assay catalog list`"
    return UsageError("no dataset or registered table has this name", where=name, hint=hint)


def _describe_dataset(rt: Runtime, spec: DatasetSpec) -> Description:
    about = Description(
        name=spec.name,
        kind="dataset",
        subkind=spec.kind.value,
        origin=spec.origin,
        owner=spec.owner,
        description=spec.description,
        tags=dict(spec.tags),
        time_column=spec.time_column,
        contracts=sorted({c.path for c in rt.contracts.get(spec.name, [])}),
        last_checks=last_results(rt.catalog, spec.name),
        quality_trend=quality_trend(rt.catalog, spec.name),
        batch_rows=metric_history(rt.catalog, spec.name, "batch.rows", limit=10),
        upstream=sorted(spec.inputs),
        upstream_all=rt.dag.upstream(spec.name),
        downstream=sorted(rt.dag.consumers[spec.name]),
        downstream_all=rt.dag.downstream(spec.name),
        feature_views=sorted(v.name for v in rt.feature_views.values() if v.source == spec.name),
    )
    if rt.warehouse.exists(spec.name):
        _add_table_facts(rt, spec, about)
    if spec.kind is Kind.INCREMENTAL:
        about.intervals = _intervals(rt, spec)
    return about


def _add_table_facts(rt: Runtime, spec: DatasetSpec, about: Description) -> None:
    """Schema history, size and freshness from the table's Delta log (no data scan)."""
    history = schema_history(rt.warehouse.uri(spec.name), rt.warehouse.storage_options)
    about.columns = [_column(c) for c in history.columns]
    nullable = {f.name: f.nullable for f in rt.warehouse.schema(spec.name)}
    # A merge dataset's keys, or a contract's primary key, identify its rows.
    keys = set(spec.keys) | {k for c in rt.contracts.get(spec.name, []) for k in c.primary_key}
    for column in about.columns:
        column.nullable = nullable.get(column.name)
        column.primary_key = column.name in keys
        column.comment = spec.column_descriptions.get(column.name) or column.comment
    about.history_since = history.since
    about.version = rt.warehouse.version(spec.name)
    actions = rt.warehouse.file_actions(spec.name)
    about.files = actions.num_rows
    about.rows = rt.row_count(spec.name)
    about.bytes = int(pc.sum(actions["size_bytes"]).as_py() or 0) if actions.num_rows else 0
    last = rt.warehouse.last_commit(spec.name)
    about.last_commit = last.timestamp if last else None
    # The newest value of the time column is in the files' max statistics.
    stat = f"max.{spec.time_column}"
    if spec.time_column and stat in actions.column_names and actions.num_rows:
        about.newest_time = pc.max(actions[stat]).as_py()


def _column(history: ColumnHistory) -> DescribedColumn:
    retyped = [{"version": v, "from": a, "to": b} for v, a, b in history.retyped]
    return DescribedColumn(
        history.name, history.type, history.added_in, retyped, history.dropped_in
    )


def _intervals(rt: Runtime, spec: DatasetSpec) -> IntervalSummary:
    sync(rt.catalog, rt.warehouse, spec.name)  # the Delta log first: it is the truth
    done = rt.catalog.done_intervals(spec.name, spec.fingerprint)
    planner = Planner(rt.warehouse, rt.catalog, rt.dag.time_columns(), str(rt.root))
    missing = planner.interval_work(spec, False).missing
    return IntervalSummary(
        grain=spec.grain.value,
        done=len(done),
        missing=len(missing),
        first=done[0].interval.start if done else None,
        last=done[-1].interval.end if done else None,
    )


def describe_registered(table: RegisteredTable) -> Description:
    """A registered table: its harvested columns (with their history when it is a Delta
    table whose log is readable), size and location."""
    about = Description(
        name=table.name,
        kind="registered",
        subkind=table.source,
        origin=table.location,
        description=table.comment,
        columns=[
            DescribedColumn(
                c.name, c.type, nullable=c.nullable, primary_key=c.primary_key, comment=c.comment
            )
            for c in table.columns
        ],
        version=table.delta_version,
        rows=table.row_count,
        files=table.files,
        bytes=table.bytes,
        registered_at=table.registered_at,
        refreshed_at=table.refreshed_at,
    )
    if table.source == "delta":
        _add_delta_history(table, about)
    return about


def _add_delta_history(table: RegisteredTable, about: Description) -> None:
    """The column history of a registered Delta folder, from its log as it is now."""
    try:
        history = schema_history(table.location)
    except (OSError, ValueError):
        return  # moved or removed since it was registered: the harvested columns stand
    by_name = {c.name: c for c in history.columns}
    for column in about.columns:
        found = by_name.get(column.name)
        if found is not None:
            column.added_in, column.dropped_in = found.added_in, found.dropped_in
            column.retyped = _column(found).retyped
    current = {c.name for c in about.columns}
    about.columns += [_column(c) for c in history.columns if c.name not in current]
    about.history_since = history.since
