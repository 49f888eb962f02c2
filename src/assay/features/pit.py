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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

import pyarrow as pa
from sqlglot import exp

from assay import sqlbuild as sb
from assay.engines import Engine, Source
from assay.errors import UsageError
from assay.features import windows
from assay.features.spec import FeatureView

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


def utc(value: exp.Expr, dtype: pa.DataType) -> exp.Expr:
    """Timestamps compare in naive UTC, whatever zone the caller's column carries."""
    return sb.utc_timestamp(value, dtype)


#: Timestamps and created timestamps compare as one HUGEINT, `ts_us * 2^64 + created rank`,
#: so one ASOF join both finds the latest row and breaks ties by the created timestamp
#: (no window function over the feature table to deduplicate first).
_SHIFT = 2**64
_NO_CREATED = 0  # rows without a created timestamp lose ties (NULLS LAST)
KEY = "__assay_k"


def sort_key(ts: exp.Expr, created: exp.Expr | None) -> exp.Expr:
    """`ts_us * 2^64 + created rank` as one HUGEINT (see above)."""
    rank = (
        sb.template("coalesce(epoch_us($c)::HUGEINT + 9223372036854775808, 0)", c=created)
        if created is not None
        else exp.Literal.number(_NO_CREATED)
    )
    return sb.template("epoch_us($ts)::HUGEINT * 18446744073709551616 + $rank", ts=ts, rank=rank)


def _checked(
    selections: Sequence[Selection], entity_schema: pa.Schema, timestamp: str
) -> tuple[exp.Expr, exp.Expr]:
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
    return utc(_e(timestamp), kind), utc(sb.column(timestamp), kind)


def _e(name: str) -> exp.Column:
    """Column `name` of the entity rows (`e`)."""
    return exp.Column(this=sb.identifier(name), table=exp.to_identifier("e"))


def _of(alias: str, name: str) -> exp.Column:
    """Column `name` (quoted) of the relation `alias` (one of ours, unquoted)."""
    return exp.Column(this=sb.identifier(name), table=exp.to_identifier(alias))


def _alive(view: FeatureView, row_ts: exp.Expr, entity_ts: exp.Expr) -> exp.Expr:
    """Whether a matched row is within the view's TTL of the entity row."""
    ttl = view.ttl_delta
    # An aggregated view's timeline is already null where its longest window is empty.
    if ttl and not view.aggregations:
        seconds = exp.Interval(
            this=exp.Literal.number(int(ttl.total_seconds())), unit=exp.var("SECOND")
        )
        return row_ts >= exp.Sub(this=entity_ts, expression=seconds)
    return exp.true()


def _feature_rows(
    view: FeatureView, sel: Selection, source: str, ts: exp.Expr, schema: pa.Schema
) -> exp.Expr:
    """A subquery of the view's rows: join keys, `__us` (the time in microseconds), the sort
    key and the features. `ts` is the view's timestamp as an instant (see `instant`)."""
    src = exp.to_identifier(source)
    if view.aggregations:
        timeline = windows.timeline_sql(view, src, ts)
        return sb.template("SELECT *, epoch_us(__ts) AS __us FROM ($rows) AS t", rows=timeline)
    if not view.created_timestamp:
        return sb.template(
            "SELECT $keys, epoch_us($ts) AS __us, $features FROM $src WHERE $time IS NOT NULL",
            keys=sb.columns(view.join_keys),
            ts=ts,
            features=sb.columns(sel.features),
            src=src,
            time=sb.column(view.timestamp),
        )
    created = instant(sb.column(view.created_timestamp), schema.field(view.created_timestamp).type)
    return sb.template(
        "SELECT $keys, epoch_us($ts) AS __us, $key AS __assay_k, $features FROM $src "
        "WHERE $time IS NOT NULL",
        keys=sb.columns(view.join_keys),
        ts=ts,
        key=sort_key(ts.copy(), created),
        features=sb.columns(sel.features),
        src=src,
        time=sb.column(view.timestamp),
    )


def _tie_broken(view: FeatureView) -> bool:
    """Whether the view's rows join on `ts * 2^64 + created rank` (HUGEINT, see
    `sort_key`) rather than on the time alone (BIGINT microseconds, sorted faster): only a
    created timestamp has ties to break."""
    return bool(view.created_timestamp) and not view.aggregations


def instant(value: exp.Expr, dtype: pa.DataType) -> exp.Expr:
    """A timestamp as the ASOF join compares it: a zoned one as it is (`epoch_us` reads its
    instant; converting every row to naive UTC first cost a third of a training set), a
    naive one or a date as a naive TIMESTAMP, taken as UTC (as `utc` does).

    Example:
        >>> sb.render(instant(sb.column("t"), pa.timestamp("us", "UTC")), "duckdb")
        '"t"'
        >>> sb.render(instant(sb.column("d"), pa.date32()), "duckdb")
        'CAST("d" AS TIMESTAMP)'
    """
    # DuckDB has no epoch_us of a zoned nanosecond time (TIMESTAMPTZ_NS): it goes through
    # naive UTC as before.
    if pa.types.is_timestamp(dtype) and dtype.tz is not None and dtype.unit != "ns":
        return value
    return utc(value, dtype)


def _alive_us(view: FeatureView, row_us: exp.Expr, entity_us: exp.Expr) -> exp.Expr:
    """`_alive` on microseconds since the epoch (BIGINTs): no interval arithmetic per row."""
    ttl = view.ttl_delta
    if ttl and not view.aggregations:
        span = exp.Literal.number(ttl // timedelta(microseconds=1))
        return row_us >= exp.Sub(this=entity_us, expression=span)
    return exp.true()


def _outputs(sel: Selection, alive: exp.Expr, value: Callable[[str], exp.Expr]) -> list[exp.Expr]:
    """`CASE WHEN alive THEN <feature's value> END AS "<output name>"` per feature."""
    return [
        exp.alias_(
            exp.Case().when(alive.copy(), value(feature), copy=False),
            sb.identifier(output),
            copy=False,
        )
        for feature, output in zip(sel.features, sel.output_names, strict=True)
    ]


def _query(head: exp.Expr, ctes: Sequence[tuple[str, exp.Expr]], joins: Sequence[exp.Expr]) -> str:
    """`head` (a select from `entities AS e`) with its CTEs and joins, as DuckDB SQL."""
    query = head
    for alias, cte in ctes:
        query = query.with_(alias, as_=cte, copy=False)  # type: ignore[attr-defined]
    query.set("joins", list(joins))
    return sb.render(query, "duckdb", copy=False)


def _join(template: str, alias: str, on: exp.Expr) -> exp.Expr:
    """The one join of `template` (`SELECT * FROM e ... JOIN $t ON $on`)."""
    joined = sb.template(template, t=exp.to_identifier(alias), on=on)
    return joined.args["joins"][0]


def pit_sql(
    selections: Sequence[Selection],
    entity_schema: pa.Schema,
    source_schemas: Mapping[str, pa.Schema],
    timestamp: str,
) -> str:
    """The SQL of a training set over `entity_df` (numbered by ROW) and one source per
    selected view, as ASOF joins."""
    _checked(selections, entity_schema, timestamp)
    entity_ts = instant(sb.column(timestamp), entity_schema.field(timestamp).type)
    # An entity row matches every row at its timestamp, whatever their created time.
    tie_key = sb.template(
        "epoch_us($ts)::HUGEINT * 18446744073709551616 + 18446744073709551615", ts=entity_ts
    )
    ctes = [
        (
            "entities",
            sb.template(
                "SELECT *, $key AS __assay_k, epoch_us($ts) AS __assay_us FROM entity_df",
                key=tie_key if any(_tie_broken(s.view) for s in selections) else exp.null(),
                ts=entity_ts.copy(),
            ),
        )
    ]
    joins, outputs = [], []
    for i, sel in enumerate(selections):
        view, alias = sel.view, f"fv{i}"
        schema = source_schemas[view.name]
        kind = schema.field(view.timestamp).type
        # An aggregated view's timeline is built on naive UTC times (windows.timeline_sql).
        ts = (utc if view.aggregations else instant)(sb.column(view.timestamp), kind)
        ctes.append((alias, _feature_rows(view, sel, f"src_{i}", ts, schema)))
        order = (KEY, KEY) if _tie_broken(view) else ("__assay_us", "__us")
        on = exp.and_(
            *(_e(k).eq(_of(alias, k)) for k in view.join_keys),
            _of("e", order[0]) >= _of(alias, order[1]),
            copy=False,
        )
        joins.append(_join("SELECT * FROM e ASOF LEFT JOIN $t ON $on", alias, on))
        alive = _alive_us(view, _of(alias, "__us"), _of("e", "__assay_us"))
        outputs += _outputs(sel, alive, partial(_of, alias))
    head = sb.template(
        "SELECT e.* EXCLUDE (__assay_row, __assay_k, __assay_us), $outputs FROM entities AS e "
        "ORDER BY e.__assay_row",
        outputs=outputs,
    )
    return _query(head, ctes, joins)


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
    ctes = [("entities", sb.template("SELECT *, $ts AS __ets FROM entity_df", ts=bare_ts))]
    joins, outputs = [], []
    for i, sel in enumerate(selections):
        view, alias = sel.view, f"fv{i}"
        schema = source_schemas[view.name]
        ts = utc(sb.column(view.timestamp), schema.field(view.timestamp).type)
        src = exp.to_identifier(f"src_{i}")
        created: exp.Expr
        if view.aggregations:
            rows = windows.timeline_sql(view, src, ts, portable=True)
            created = exp.null()
        else:
            rows = sb.template(
                "SELECT *, $ts AS __ts FROM $src WHERE $time IS NOT NULL",
                ts=ts,
                src=src,
                time=sb.column(view.timestamp),
            )
            created = (
                utc(
                    sb.column(view.created_timestamp),
                    schema.field(view.created_timestamp).type,
                )
                if view.created_timestamp
                else exp.null()
            )
        not_null = exp.and_(
            *(sb.column(k).is_(exp.null()).not_() for k in view.join_keys), copy=False
        )
        hit = sb.struct([("__ts", exp.column("__ts"))] + [(f, sb.column(f)) for f in sel.features])
        ctes.append(
            (
                alias,
                sb.template(
                    "SELECT __assay_row, hit FROM (SELECT __assay_row, __side, "
                    "last_value(hit IGNORE NULLS) OVER (PARTITION BY $keys "
                    "ORDER BY __ts, __side, __created NULLS FIRST "
                    "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS hit FROM ("
                    "SELECT $keys, __ets AS __ts, 1 AS __side, NULL AS __created, "
                    "__assay_row, NULL AS hit FROM entities "
                    "UNION ALL SELECT $keys, __ts, 0 AS __side, $created AS __created, "
                    "NULL AS __assay_row, $hit AS hit "
                    "FROM ($rows) AS r WHERE $not_null) AS u) AS s WHERE __side = 1",
                    keys=sb.columns(view.join_keys),
                    created=created,
                    hit=hit,
                    rows=rows,
                    not_null=not_null,
                ),
            )
        )
        joins.append(
            _join("SELECT * FROM e LEFT JOIN $t ON $on", alias, _of("e", ROW).eq(_of(alias, ROW)))
        )
        # An entity row without a time sorts after every feature row: it matches nothing.
        alive = exp.and_(
            entity_ts.copy().is_(exp.null()).not_(),
            _alive(view, sb.field("hit", "__ts", table=alias), entity_ts.copy()),
            copy=False,
        )
        outputs += _outputs(sel, alive, partial(sb.field, "hit", table=alias))
    head = sb.template(
        "SELECT e.* EXCLUDE (__assay_row, __ets), $outputs FROM entities AS e "
        "ORDER BY e.__assay_row",
        outputs=outputs,
    )
    return _query(head, ctes, joins)


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
    numbered = entities.append_column(ROW, _row_numbers(entities.num_rows))
    inputs: dict[str, Source] = {"entity_df": numbered}
    for i, sel in enumerate(selections):
        inputs[f"src_{i}"] = sources[sel.view.name]
    return engine.query(sql, inputs)


def _row_numbers(count: int) -> pa.Array:
    """0 .. count - 1 as int64 (from numpy: a Python range costs ~40 ms a million rows).

    Example:
        >>> _row_numbers(3).to_pylist()
        [0, 1, 2]
    """
    import numpy as np

    return pa.array(np.arange(count, dtype=np.int64))
