"""Windowed aggregations of a feature view, as SQL, from its one definition.

Offline (training sets), a view's aggregates are a *timeline* per entity: their value only
changes when a row enters a window (at the row's timestamp) or leaves it (at timestamp +
window), so evaluating every aggregate at those change points, with the window frame
(p - w, p], gives a step function the point-in-time ASOF join reads exactly at any
entity row's timestamp. Online (materialization), the same aggregates are evaluated once,
at the materialization's end time, with FILTER clauses over the longest window.

Both return null for every feature of an entity with no row in the longest window (the
view's TTL), and 0 for counts of a shorter window that holds no rows.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from assay.features.spec import Aggregation, FeatureView
from assay.naming import quote as _q

ALIVE = "__rows_in_ttl"


def _micros(window: timedelta) -> int:
    return int(window.total_seconds() * 1_000_000)


def _aggregate(agg: Aggregation, column: str | None = None) -> str:
    """The aggregate call; `column` overrides the row marker counted by a plain count."""
    target = _q(agg.column) if agg.column else column or "*"
    return {
        "count": f"count({target})",
        "sum": f"sum({target})",
        "mean": f"avg({target})",
        "min": f"min({target})",
        "max": f"max({target})",
        "count_distinct": f"count(DISTINCT {target})",
    }[agg.function]


def _windows(view: FeatureView) -> list[timedelta]:
    return sorted({a.window for a in view.aggregations})


def timeline_sql(view: FeatureView, source: str, ts_expr: str, portable: bool = False) -> str:
    """A subquery: join keys, `__ts` (change points), and every aggregate as of `__ts`.

    `ts_expr` is the source's timestamp as naive UTC. Rows with a null timestamp or key
    belong to no window and are skipped. `portable` avoids DISTINCT window aggregates.
    """
    keys = ", ".join(_q(k) for k in view.join_keys)
    columns = sorted({a.column for a in view.aggregations if a.column})
    value_cols = "".join(f", {_q(c)}" for c in columns)
    not_null = " AND ".join(f"{_q(k)} IS NOT NULL" for k in view.join_keys)
    events = (
        f"SELECT {keys}, {ts_expr} AS __ts{value_cols}, 1 AS __row FROM {source} "
        f"WHERE {_q(view.timestamp)} IS NOT NULL AND {not_null}"
    )
    # Where each row leaves each window, a point with no values, so the aggregates there
    # are computed without it.
    nulls = "".join(f", NULL AS {_q(c)}" for c in columns)
    exits = " UNION ALL ".join(
        f"SELECT {keys}, __ts + INTERVAL '{_micros(w)} microseconds' AS __ts{nulls}, "
        "NULL AS __row FROM events"
        for w in _windows(view)
    )
    # One named frame per distinct window; (p - w, p] is [p - w + 1us, p].
    frames = {w: f"w{i}" for i, w in enumerate(_windows(view))}
    window_defs = ", ".join(
        f"{name} AS (PARTITION BY {keys} ORDER BY __ts RANGE BETWEEN "
        f"INTERVAL '{_micros(w) - 1} microseconds' PRECEDING AND CURRENT ROW)"
        for w, name in frames.items()
    )
    longest = frames[max(frames)]
    aggregates = ", ".join(
        f"{_windowed(a, frames[a.window], portable)} AS {_q(a.name)}" for a in view.aggregations
    )
    alive = ", ".join(
        f"CASE WHEN {ALIVE} > 0 THEN {_q(a.name)} END AS {_q(a.name)}" for a in view.aggregations
    )
    return (
        f"(WITH events AS ({events}), "
        f"points AS (SELECT * FROM events UNION ALL {exits}), "
        f"steps AS (SELECT {keys}, __ts, {aggregates}, count(__row) OVER {longest} AS {ALIVE} "
        f"FROM points WINDOW {window_defs} "
        # Rows at one point share their frame, so any one of them carries its values.
        f"QUALIFY row_number() OVER (PARTITION BY {keys}, __ts ORDER BY __ts) = 1) "
        f"SELECT {keys}, __ts, {alive} FROM steps)"
    )


def _windowed(agg: Aggregation, frame: str, portable: bool) -> str:
    """The aggregate over a named window frame. `portable`: for engines without DISTINCT
    in window aggregates (Spark), a distinct count counts the distinct values of the
    frame's list instead."""
    if portable and agg.function == "count_distinct" and agg.column:
        return f"array_length(list_distinct(list({_q(agg.column)}) OVER {frame}))"
    return f"{_aggregate(agg, '__row')} OVER {frame}"


def latest_sql(
    view: FeatureView, source: str, ts_expr: str, end: datetime, start: datetime | None
) -> str:
    """Every entity's aggregates as of `end`, with `__ts` its latest row's timestamp.

    Entities with no row in the longest window before `end` are left out: the online
    store reports them expired. `start` keeps only entities with a row since then.
    """
    keys = ", ".join(_q(k) for k in view.join_keys)
    at = f"TIMESTAMP '{end.isoformat(sep=' ')}'"
    ttl = view.ttl_delta
    assert ttl is not None  # an aggregated view's TTL is its longest window
    aggregates = ", ".join(
        f"{_aggregate(a)} FILTER (WHERE __ts > {at} - INTERVAL '{_micros(a.window)} "
        f"microseconds') AS {_q(a.name)}"
        for a in view.aggregations
    )
    not_null = "".join(f" AND {_q(k)} IS NOT NULL" for k in view.join_keys)
    having = f" HAVING max(__ts) >= TIMESTAMP '{start.isoformat(sep=' ')}'" if start else ""
    return (
        f"SELECT {keys}, {aggregates}, max(__ts) AS __ts FROM "
        f"(SELECT *, {ts_expr} AS __ts FROM {source}) AS rows "
        f"WHERE __ts <= {at} AND __ts > {at} - INTERVAL '{_micros(ttl)} microseconds'{not_null} "
        f"GROUP BY {keys}{having} ORDER BY {keys}"
    )
