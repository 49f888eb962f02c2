"""Point-in-time-correct joins: for each entity row, the latest feature row of each view
with timestamp <= the row's timestamp and >= timestamp - ttl (Feast's semantics).

Runs on the engine as ASOF LEFT JOINs (one per view) where the engine has them (DuckDB),
never as a key equi-join that would materialize every feature row per entity row. Engines
without an ASOF join (Spark) get the same answer from window functions: entity rows and
feature rows in one stream per join key, ordered by time, each entity row taking the last
feature row before it. Ties on the timestamp are broken by the created timestamp; entity
rows are all kept, in order, with nulls where nothing matches.
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


def _checked(
    selections: Sequence[Selection], entity_schema: pa.Schema, timestamp: str
) -> tuple[str, str]:
    """The entity rows' naive-UTC timestamp expression (as `e.`-qualified and bare)."""
    if timestamp not in entity_schema.names:
        raise UsageError(
            f"the entity frame has no timestamp column {timestamp!r}",
            hint="pass event_timestamp=<column> or add an event_timestamp column",
        )
    for sel in selections:
        missing = [k for k in sel.view.join_keys if k not in entity_schema.names]
        if missing:
            raise UsageError(
                f"the entity frame lacks join key(s) {', '.join(missing)} of view {sel.view.name}"
            )
    kind = entity_schema.field(timestamp).type
    return utc(f"e.{_q(timestamp)}", kind), utc(_q(timestamp), kind)


def _alive(view: FeatureView, row_ts: str, entity_ts: str) -> str:
    """Whether a matched row is within the view's TTL of the entity row."""
    ttl = view.ttl_delta
    # An aggregated view's timeline is already null where its longest window is empty.
    if ttl and not view.aggregations:
        return f"{row_ts} >= {entity_ts} - INTERVAL {int(ttl.total_seconds())} SECOND"
    return "TRUE"


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
    """The SQL of a training set over `entity_df` (numbered by ROW) and one source per
    selected view, as ASOF joins."""
    entity_ts, bare_ts = _checked(selections, entity_schema, timestamp)
    # An entity row matches every row at its timestamp, whatever their created time.
    probe = f"epoch_us({bare_ts})::HUGEINT"
    ctes = [f"entities AS (SELECT *, {probe} * {_SHIFT} + {_SHIFT - 1} AS {KEY} FROM entity_df)"]
    joins, outputs = [], []
    for i, sel in enumerate(selections):
        view, alias = sel.view, f"fv{i}"
        schema = source_schemas[view.name]
        ts = utc(_q(view.timestamp), schema.field(view.timestamp).type)
        ctes.append(f"{alias} AS {_feature_rows(view, sel, f'src_{i}', ts)}")
        on = " AND ".join(f"e.{_q(k)} = {alias}.{_q(k)}" for k in view.join_keys)
        joins.append(f"ASOF LEFT JOIN {alias} ON {on} AND e.{KEY} >= {alias}.{KEY}")
        alive = _alive(view, f"{alias}.__ts", entity_ts)
        for feature, output in zip(sel.features, sel.output_names, strict=True):
            outputs.append(f"CASE WHEN {alive} THEN {alias}.{_q(feature)} END AS {_q(output)}")
    return (
        f"WITH {', '.join(ctes)} SELECT e.* EXCLUDE ({ROW}, {KEY}), {', '.join(outputs)} "
        f"FROM entities AS e {' '.join(joins)} ORDER BY e.{ROW}"
    )


def pit_window_sql(
    selections: Sequence[Selection],
    entity_schema: pa.Schema,
    source_schemas: Mapping[str, pa.Schema],
    timestamp: str,
) -> str:
    """The same training set as `pit_sql`, with window functions instead of ASOF joins.

    Per view, entity rows and the view's rows are unioned and ordered per join key by
    (time, feature rows before entity rows, created time, nulls first); each entity row
    takes the last feature row up to itself (`last_value ... IGNORE NULLS` over a struct of
    the row's values): the latest row at or before its time, ties to the newest created.
    """
    entity_ts, bare_ts = _checked(selections, entity_schema, timestamp)
    ctes = [f"entities AS (SELECT *, {bare_ts} AS __ets FROM entity_df)"]
    joins, outputs = [], []
    for i, sel in enumerate(selections):
        view, alias = sel.view, f"fv{i}"
        schema = source_schemas[view.name]
        ts = utc(_q(view.timestamp), schema.field(view.timestamp).type)
        keys = [_q(k) for k in view.join_keys]
        columns = ", ".join(keys)
        if view.aggregations:
            rows = windows.timeline_sql(view, f"src_{i}", ts, portable=True)
            created = "NULL"
        else:
            rows = f"(SELECT *, {ts} AS __ts FROM src_{i} WHERE {_q(view.timestamp)} IS NOT NULL)"
            created = (
                utc(_q(view.created_timestamp), schema.field(view.created_timestamp).type)
                if view.created_timestamp
                else "NULL"
            )
        not_null = " AND ".join(f"{k} IS NOT NULL" for k in keys)
        values = ", ".join(f"{_q(f)} := {_q(f)}" for f in sel.features)
        ctes.append(
            f"{alias} AS (SELECT {ROW}, hit FROM (SELECT {ROW}, __side, "
            f"last_value(hit IGNORE NULLS) OVER (PARTITION BY {columns} "
            "ORDER BY __ts, __side, __created NULLS FIRST "
            "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS hit FROM ("
            f"SELECT {columns}, __ets AS __ts, 1 AS __side, NULL AS __created, {ROW}, "
            "NULL AS hit FROM entities "
            f"UNION ALL SELECT {columns}, __ts, 0 AS __side, {created} AS __created, "
            f"NULL AS {ROW}, struct_pack(__ts := __ts, {values}) AS hit "
            f"FROM {rows} AS r WHERE {not_null}) AS u) AS s WHERE __side = 1)"
        )
        joins.append(f"LEFT JOIN {alias} ON e.{ROW} = {alias}.{ROW}")
        # An entity row without a time sorts after every feature row: it matches nothing.
        alive = f"{entity_ts} IS NOT NULL AND " + _alive(view, f"{alias}.hit.__ts", entity_ts)
        for feature, output in zip(sel.features, sel.output_names, strict=True):
            outputs.append(f"CASE WHEN {alive} THEN {alias}.hit.{_q(feature)} END AS {_q(output)}")
    return (
        f"WITH {', '.join(ctes)} SELECT e.* EXCLUDE ({ROW}, __ets), {', '.join(outputs)} "
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
    build = pit_sql if engine.asof_join else pit_window_sql
    sql = build(selections, entities.schema, source_schemas, timestamp)
    # Rows are numbered here, not in SQL: `row_number() OVER ()` has no defined order on
    # every engine, and the output must keep the caller's order.
    numbered = entities.append_column(ROW, pa.array(range(entities.num_rows), pa.int64()))
    inputs: dict[str, Source] = {"entity_df": numbered}
    for i, sel in enumerate(selections):
        inputs[f"src_{i}"] = sources[sel.view.name]
    return engine.query(sql, inputs)
