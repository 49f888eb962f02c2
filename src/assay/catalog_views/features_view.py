"""The features page's data (`/features` in the web UI): every feature view, the freshness
of its online store and offline source, training/serving skew of logged requests, drift
over time per feature, and the project's models.

Drift over time: assay computes drift on demand (`assay features skew --training-set`
compares served values with a training set); nothing stores it. For a chart,
`drift_series` computes it per time window over the view's source table: the source's rows
are split by the view's timestamp into calendar windows (a day, a week or a month: the
finest that gives at most `MAX_WINDOWS` windows whose median holds `MIN_ROWS` values), the
first window with at least `MIN_ROWS` values is the baseline, and each later window's
values are compared with it by PSI (`assay.features.drift.psi`, over the baseline's
deciles) and the two-sample KS statistic (`assay.features.drift.ks`). Only numeric
features of views that read their features as columns are charted (an aggregated view's
values exist per entity and moment asked, not as rows of its source). Values are read
through `runtime.reader`, as the current principal: a masked column is drifted as it is
shown, a masked number not at all.

Example:
    >>> import assay, tempfile
    >>> root = tempfile.mkdtemp()
    >>> _ = assay.init_project(root)
    >>> view = features_view(assay.Project(root).runtime)
    >>> view.views, view.models, view.skew
    ([], [], None)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from assay.errors import AccessDeniedError, AssayError
from assay.features import drift
from assay.features.spec import FeatureView

if TYPE_CHECKING:
    from assay.features.skew import FeatureSkew
    from assay.ml.report import ModelSummary
    from assay.runtime import Runtime

#: At most this many windows per drift chart (the finest grain that fits).
MAX_WINDOWS = 60
#: A window with fewer values is too small to compare (and is not the baseline).
MIN_ROWS = 30
#: Skew replays the logged requests of this span before the newest one.
SKEW_SPAN = timedelta(days=7)


@dataclass(frozen=True)
class ViewRow:
    """A feature view as declared, with the freshness of its two stores."""

    name: str
    entities: tuple[str, ...]
    join_keys: tuple[str, ...]
    source: str
    timestamp: str
    ttl: str | None
    features: tuple[str, ...]
    owner: str | None
    #: Offline: the source's last commit and its newest event time (by file statistics).
    source_committed_at: datetime | None
    source_newest_event: datetime | None
    source_version: int | None
    #: Online: the last materialization (None: never materialized); a stream's window
    #: view is written online by the stream with each window commit: its last commit.
    materialized_at: datetime | None
    materialized_version: int | None
    materialized_rows: int | None
    #: Who writes the online store: "materialize", "stream", or "" (nobody yet).
    online_by: str = ""


@dataclass(frozen=True)
class DriftPoint:
    """One feature's drift in one window against the baseline window."""

    view: str
    feature: str
    window_start: datetime
    rows: int
    psi: float
    ks: float


@dataclass
class FeaturesView:
    """Everything the features page shows; `skew` is None when requests are not logged."""

    views: list[ViewRow]
    drift: list[DriftPoint]
    models: list[ModelSummary]
    skew: list[FeatureSkew] | None = None
    skew_requests: int = 0
    #: Why skew could not be measured, when it could not (e.g. a view changed since).
    skew_note: str = ""
    #: Tables the principal may not read (their numbers are not shown).
    denied: list[str] = field(default_factory=list)


def features_view(rt: Runtime) -> FeaturesView:
    """Views with freshness, drift per window, skew of logged requests and models."""
    views = _views(rt)
    # Each view's source is read once, for its drift and its newest event time both.
    sources: dict[str, pa.Table | None] = {}
    result = FeaturesView([], [], _models(rt))
    for view in views:
        if view.aggregations:
            continue
        try:
            sources[view.name] = data = _drift_source(rt, view)
        except AccessDeniedError:
            sources[view.name] = None
            result.denied.append(view.source)
            continue
        if data is not None:
            result.drift += _drift_of(view, data, None)
    result.views = [_row(rt, v, sources) for v in views]
    _skew(rt, result)
    return result


def _views(rt: Runtime) -> list[FeatureView]:
    return sorted(
        (d for d in rt.feature_definitions if isinstance(d, FeatureView)), key=lambda v: v.name
    )


def _row(rt: Runtime, view: FeatureView, sources: dict[str, pa.Table | None]) -> ViewRow:
    wh = rt.warehouse
    last = wh.last_commit(view.source)
    materialized = last_materialized(rt, view)
    online_by = "materialize" if materialized else ""
    spec = rt.dag.specs.get(view.source)
    if spec is not None and spec.producer.is_stream:  # a window's table, served by its stream
        online_by = "stream" if last else ""
        materialized = (
            {"materialized_at": last.timestamp, "source_version": last.version} if last else {}
        )
    return ViewRow(
        name=view.name,
        entities=tuple(e.name for e in view.entities),
        join_keys=view.join_keys,
        source=view.source,
        timestamp=view.timestamp,
        ttl=ttl_text(view.ttl_delta),
        features=tuple(view.features),
        owner=view.owner,
        source_committed_at=last.timestamp if last else None,
        source_newest_event=_newest_event(rt, view, sources) if last else None,
        source_version=last.version if last else None,
        materialized_at=materialized.get("materialized_at"),
        materialized_version=materialized.get("source_version"),
        materialized_rows=materialized.get("rows"),
        online_by=online_by,
    )


def _newest_event(
    rt: Runtime, view: FeatureView, sources: dict[str, pa.Table | None]
) -> datetime | None:
    """The largest timestamp of the view's source, read as the current principal (a row
    filter hides what it hides; None when the principal may not read the source): from
    the columns read for drift when they were, else by a query."""
    if view.name in sources:
        data = sources[view.name]
        newest = pc.max(data[view.timestamp]).as_py() if data is not None else None
        return newest if isinstance(newest, datetime) else None
    from sqlglot import exp

    from assay import sqlbuild
    from assay.naming import split_name

    layer, name = split_name(view.source)
    newest = exp.Max(this=sqlbuild.column(view.timestamp))
    query = exp.select(newest.as_("newest")).from_(sqlbuild.table(name, schema=layer))
    try:
        found = rt.reader.sql(sqlbuild.render(query, "duckdb"), rt.local)
    except AccessDeniedError:
        return None
    value = found["newest"][0].as_py() if found.num_rows else None
    return value if isinstance(value, datetime) else None


def last_materialized(rt: Runtime, view: FeatureView) -> dict[str, Any]:
    """The view's newest materialization of its current definition ({}: none). The
    registry's table exists once something materialized: a read does not create it."""
    from assay.features.registry import materializations

    engine = rt.catalog.engine
    if not sa.inspect(engine).has_table(materializations.name):
        return {}
    m = materializations.c
    query = (
        sa.select(m.materialized_at, m.source_version, m.rows)
        .where(m.view == view.name, m.fingerprint == view.fingerprint)
        .order_by(m.id.desc())
        .limit(1)
    )
    with engine.connect() as con:
        row = con.execute(query).mappings().first()
    return dict(row) if row else {}


def drift_series(rt: Runtime, view: FeatureView, grain: str | None = None) -> list[DriftPoint]:
    """PSI and KS of each numeric feature of `view`, per window of its source, against
    the first window with `MIN_ROWS` values (see the module's docstring). `grain` is
    day, week or month (None: `choose_grain`'s)."""
    data = _drift_source(rt, view)
    return [] if data is None else _drift_of(view, data, grain)


def _drift_source(rt: Runtime, view: FeatureView) -> pa.Table | None:
    """The view's timestamp and features as the principal reads them (None: no table)."""
    if not rt.warehouse.exists(view.source):
        return None
    return rt.reader.table(view.source, columns=[view.timestamp, *view.features])


def _drift_of(view: FeatureView, data: pa.Table, grain: str | None) -> list[DriftPoint]:
    numeric = [f for f in view.features if _is_number(data.schema.field(f).type)]
    stamps = data[view.timestamp].drop_null()
    if not numeric or len(stamps) == 0:
        return []
    windows = _Windows(window_starts(data[view.timestamp], grain or choose_grain(stamps)))
    points = []
    for feature in numeric:
        points += _feature_drift(view.name, feature, windows, data[feature])
    return points


def choose_grain(stamps: pa.ChunkedArray | pa.Array) -> str:
    """The finest of day, week and month giving at most `MAX_WINDOWS` windows whose
    median holds `MIN_ROWS` values or more (month when none does).

    Example:
        >>> hours = [datetime(2026, 1, d, h) for d in range(1, 29) for h in range(24)]
        >>> choose_grain(pa.array(hours * 2)), choose_grain(pa.array(hours[::3]))
        ('day', 'week')
    """
    for grain in ("day", "week"):
        counts = (
            pa.table({"start": window_starts(stamps, grain)})
            .group_by("start")
            .aggregate([("start", "count")])
        )
        per_window = counts["start_count"].to_numpy()
        if len(per_window) <= MAX_WINDOWS and np.median(per_window) >= MIN_ROWS:
            return grain
    return "month"


def ttl_text(ttl: timedelta | None) -> str | None:
    """A TTL as declared: `30d`, `12h`, `90m` (None: no TTL).

    Example:
        >>> ttl_text(timedelta(days=30)), ttl_text(timedelta(minutes=90)), ttl_text(None)
        ('30d', '90m', None)
    """
    if ttl is None:
        return None
    seconds = int(ttl.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def window_starts(stamps: pa.ChunkedArray, grain: str) -> pa.Array:
    """Each timestamp's window start: its day, its ISO week's Monday, or its month's 1st.

    Example:
        >>> stamps = pa.chunked_array([[datetime(2026, 3, 4, 5), datetime(2026, 3, 31)]])
        >>> [d.isoformat() for d in window_starts(stamps, "week").to_pylist()]
        ['2026-03-02T00:00:00', '2026-03-30T00:00:00']
    """
    if grain not in ("day", "week", "month"):
        raise ValueError(f"unknown grain {grain!r}: use day, week or month")
    options = {"week_starts_monday": True} if grain == "week" else {}
    floored = pc.floor_temporal(stamps, unit=grain, **options)
    return floored.combine_chunks() if isinstance(floored, pa.ChunkedArray) else floored


class _Windows:
    """The rows of one source grouped by window start, computed once for all its features:
    the rows in window order (null starts left out) and where each window begins."""

    def __init__(self, starts: pa.Array):
        valid = pc.is_valid(starts).to_numpy(zero_copy_only=False)
        ticks = pc.fill_null(starts.cast(pa.int64()), 0).to_numpy(zero_copy_only=False)
        self.order = np.flatnonzero(valid)[np.argsort(ticks[valid], kind="stable")]
        sorted_ticks = ticks[self.order]
        firsts = np.flatnonzero(np.r_[True, sorted_ticks[1:] != sorted_ticks[:-1]])
        self.firsts = firsts if sorted_ticks.size else firsts[:0]
        #: Each window's start as a datetime (in the source's time zone, if any).
        self.starts: list[datetime] = starts.take(self.order[self.firsts]).to_pylist()


def _feature_drift(
    view: str, feature: str, windows: _Windows, values: pa.ChunkedArray
) -> list[DriftPoint]:
    # Nulls become NaN in float64 and are dropped with the infinities, as non-finite.
    numbers = values.combine_chunks().cast(pa.float64()).to_numpy(zero_copy_only=False)
    ordered = numbers[windows.order]
    finite = np.isfinite(ordered)
    # Per window, its finite values; a window too small to compare is left out.
    kept = np.add.reduceat(finite, windows.firsts) if windows.firsts.size else finite[:0]
    groups = np.split(ordered[finite], np.cumsum(kept)[:-1])
    sized = [
        (start, vals)
        for start, vals in zip(windows.starts, groups, strict=True)
        if vals.size >= MIN_ROWS
    ]
    if len(sized) < 2:
        return []
    baseline = sized[0][1]
    points = []
    for start, vals in sized[1:]:
        psi = drift.psi(baseline, vals)
        ks, _ = drift.ks(baseline, vals)
        if not (math.isnan(psi) or math.isnan(ks)):
            points.append(DriftPoint(view, feature, start, int(vals.size), psi, ks))
    return points


def _is_number(dtype: pa.DataType) -> bool:
    return pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype)


def _models(rt: Runtime) -> list[ModelSummary]:
    from assay.ml.report import models

    try:
        return models(rt)
    except AccessDeniedError:
        return []


def _skew(rt: Runtime, result: FeaturesView) -> None:
    """Mismatches of logged requests of the newest `SKEW_SPAN` (None without a log)."""
    from assay.features.request_log import TABLE
    from assay.features.skew import compare
    from assay.features.store import Features

    if not rt.warehouse.exists(TABLE):
        return
    last = rt.warehouse.last_commit(TABLE)
    since = last.timestamp - SKEW_SPAN if last else None
    try:
        report = compare(Features(rt), since=since)
    except AccessDeniedError:
        result.denied.append(TABLE)
        return
    except AssayError as exc:  # e.g. a view changed since the requests were logged
        result.skew_note = exc.message
        return
    result.skew, result.skew_requests = report.features, report.requests
