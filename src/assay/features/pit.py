"""Point-in-time-correct joins: for each entity row, the latest feature row of each view
with timestamp <= the row's timestamp and >= timestamp - ttl (Feast's semantics).

Runs on the engine as DuckDB ASOF LEFT JOINs (one per view), never as a key equi-join that
would materialize every feature row per entity row. Ties on the timestamp are broken by the
created timestamp; entity rows are all kept, in order, with nulls where nothing matches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa

from assay.engines import Engine, Source
from assay.errors import UsageError
from assay.features import windows
from assay.features.spec import FeatureView
from assay.naming import quote as _q

ROW = "__assay_row"


@dataclass(frozen=True)
class Selection:
    """Features chosen from one view, and the names they get in the output."""

    view: FeatureView
    features: tuple[str, ...]
    output_names: tuple[str, ...]


def select(
    views: Mapping[str, FeatureView], refs: Sequence[str], full_names: bool = False
) -> list[Selection]:
    """Resolve `view:feature` references (or `view:*`) into per-view selections."""
    chosen: dict[str, list[str]] = {}
    for ref in refs:
        view_name, sep, feature = ref.partition(":")
        if not sep or view_name not in views:
            raise UsageError(
                f"unknown feature reference {ref!r}",
                hint=f"use view:feature; views: {', '.join(sorted(views))}",
            )
        view = views[view_name]
        wanted = list(view.features) if feature == "*" else [feature]
        for name in wanted:
            if name not in view.features:
                raise UsageError(
                    f"view {view_name} has no feature {name!r}",
                    hint=f"its features: {', '.join(view.features)}",
                )
            chosen.setdefault(view_name, [])
            if name not in chosen[view_name]:
                chosen[view_name].append(name)
    counts: dict[str, int] = {}
    for names in chosen.values():
        for n in names:
            counts[n] = counts.get(n, 0) + 1
    out = []
    for view_name, names in chosen.items():
        output = tuple(f"{view_name}__{n}" if full_names or counts[n] > 1 else n for n in names)
        out.append(Selection(views[view_name], tuple(names), output))
    return out


def utc(expr: str, dtype: pa.DataType) -> str:
    """Timestamps compare in naive UTC, whatever zone the caller's column carries."""
    if pa.types.is_timestamp(dtype) and dtype.tz is not None:
        return f"CAST(({expr}) AT TIME ZONE 'UTC' AS TIMESTAMP)"
    return f"CAST({expr} AS TIMESTAMP)"


#: Timestamps and created timestamps compare as one HUGEINT, `ts_us * 2^64 + created rank`,
#: so one ASOF join both finds the latest row and breaks ties by the created timestamp
#: (no window function over the feature table to deduplicate first).
_SHIFT = 2**64
_NO_CREATED = 0  # rows without a created timestamp lose ties (NULLS LAST)
KEY = "__assay_k"


def sort_key(ts: str, created: str | None) -> str:
    rank = f"coalesce(epoch_us({created})::HUGEINT + {2**63}, {_NO_CREATED})" if created else "0"
    return f"epoch_us({ts})::HUGEINT * {_SHIFT} + {rank}"


def _feature_rows(view: FeatureView, sel: Selection, source: str, ts: str) -> str:
    """A subquery of the view's rows: join keys, `__ts`, the sort key and the features."""
    if view.aggregations:
        timeline = windows.timeline_sql(view, source, ts)
        return f"(SELECT *, {sort_key('__ts', None)} AS {KEY} FROM {timeline} AS t)"
    keys = ", ".join(_q(k) for k in view.join_keys)
    cols = ", ".join(_q(f) for f in sel.features)
    created = _q(view.created_timestamp) if view.created_timestamp else None
    return (
        f"(SELECT {keys}, {ts} AS __ts, {sort_key(ts, created)} AS {KEY}, {cols} "
        f"FROM {source} WHERE {_q(view.timestamp)} IS NOT NULL)"
    )


def pit_sql(
    selections: Sequence[Selection],
    entity_schema: pa.Schema,
    source_schemas: Mapping[str, pa.Schema],
    timestamp: str,
) -> str:
    """The SQL of a training set over `entities` and one source per selected view."""
    if timestamp not in entity_schema.names:
        raise UsageError(
            f"the entity frame has no timestamp column {timestamp!r}",
            hint="pass event_timestamp=<column> or add an event_timestamp column",
        )
    entity_ts = utc(f"e.{_q(timestamp)}", entity_schema.field(timestamp).type)
    # An entity row matches every row at its timestamp, whatever their created time.
    probe = f"epoch_us({utc(_q(timestamp), entity_schema.field(timestamp).type)})::HUGEINT"
    ctes = [
        f"entities AS (SELECT *, row_number() OVER () AS {ROW}, "
        f"{probe} * {_SHIFT} + {_SHIFT - 1} AS {KEY} FROM entity_df)"
    ]
    joins, outputs = [], []
    for i, sel in enumerate(selections):
        view, alias = sel.view, f"fv{i}"
        missing = [k for k in view.join_keys if k not in entity_schema.names]
        if missing:
            raise UsageError(
                f"the entity frame lacks join key(s) {', '.join(missing)} of view {view.name}"
            )
        schema = source_schemas[view.name]
        ts = utc(_q(view.timestamp), schema.field(view.timestamp).type)
        ctes.append(f"{alias} AS {_feature_rows(view, sel, f'src_{i}', ts)}")
        on = " AND ".join(f"e.{_q(k)} = {alias}.{_q(k)}" for k in view.join_keys)
        joins.append(f"ASOF LEFT JOIN {alias} ON {on} AND e.{KEY} >= {alias}.{KEY}")
        ttl = view.ttl_delta
        # An aggregated view's timeline is already null where its longest window is empty.
        alive = (
            f"{alias}.__ts >= {entity_ts} - INTERVAL {int(ttl.total_seconds())} SECOND"
            if ttl and not view.aggregations
            else "TRUE"
        )
        for feature, output in zip(sel.features, sel.output_names, strict=True):
            outputs.append(f"CASE WHEN {alive} THEN {alias}.{_q(feature)} END AS {_q(output)}")
    return (
        f"WITH {', '.join(ctes)} SELECT e.* EXCLUDE ({ROW}, {KEY}), {', '.join(outputs)} "
        f"FROM entities AS e {' '.join(joins)} ORDER BY e.{ROW}"
    )


def training_set(
    engine: Engine,
    selections: Sequence[Selection],
    entities: pa.Table,
    sources: Mapping[str, Source],
    source_schemas: Mapping[str, pa.Schema],
    timestamp: str,
) -> pa.Table:
    """Run the point-in-time join; `sources` maps view name -> table (pinned version)."""
    sql = pit_sql(selections, entities.schema, source_schemas, timestamp)
    inputs: dict[str, Source] = {"entity_df": entities}
    for i, sel in enumerate(selections):
        inputs[f"src_{i}"] = sources[sel.view.name]
    return engine.query(engine.sql_for(sql), inputs)
