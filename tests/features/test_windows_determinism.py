"""Windowed aggregates are the same bits on every run over the same rows.

Rows tied on their timestamp (two events at one instant, or an event and another row's
exit point one window later) leave the engine's sort in any order, and a floating-point
sum adds its values in that order: before the ties were ranked, two builds of the fraud
demo's training set differed in the last bits of `amount_sum_1d`. Here many ties, amounts
of very different magnitudes (so the grouping of additions shows in the result), shuffled
input and different thread counts must give bitwise-identical Arrow tables, still equal to
a brute-force oracle (math.fsum within rounding for sums, exact for counts, min and max).
"""

from __future__ import annotations

import bisect
import math
from datetime import datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from assay import sqlbuild as sb
from assay.engines.duckdb import DuckDBEngine
from assay.features import pit, windows
from assay.features.spec import Aggregation, Entity, FeatureView
from assay.tables import Warehouse
from tests.features.conftest import WindowDuckDB

T0 = datetime(2026, 6, 1)
STEP = timedelta(minutes=10)  # every window is a multiple: exits land on other rows' times
AGGREGATIONS = [
    Aggregation(function="count", time_window="1h"),
    Aggregation("amount", "sum", "1h"),
    Aggregation("amount", "sum", "1d"),
    Aggregation("amount", "mean", "1d"),
    Aggregation("amount", "min", "3h"),
    Aggregation("amount", "max", "1d"),
    Aggregation("merchant", "count_distinct", "1d"),
]
VIEW = FeatureView(
    name="activity",
    entities=[Entity("card", join_keys=["card_id"])],
    source="silver.tx",
    timestamp="ts",
    aggregations=AGGREGATIONS,
)
RUNS = [(threads, seed) for seed in range(4) for threads in (1, 2, 3)]  # 12 runs


def tied_rows(count: int = 3_000, cards: int = 4, seed: int = 18) -> pa.Table:
    """Rows on a 10-minute grid over two days: ~40 rows per card and instant, amounts
    from 1e-6 to 1e6 with either sign (a reordered sum rounds differently), some nulls."""
    rng = np.random.default_rng(seed)
    steps = rng.integers(0, 2 * 24 * 6, count)
    amount = rng.lognormal(0, 5, count) * rng.choice([-1.0, 1.0], count)
    amount[rng.random(count) < 0.05] = np.nan
    return pa.table(
        {
            "card_id": pa.array(rng.integers(0, cards, count)),
            "ts": pa.array([T0 + STEP * int(s) for s in steps], pa.timestamp("us")),
            "amount": pa.array(amount, from_pandas=True),  # NaN -> null
            "merchant": pa.array([f"m{m}" for m in rng.integers(0, 30, count)]),
        }
    )


def shuffled(table: pa.Table, seed: int) -> pa.Table:
    order = np.random.default_rng(seed).permutation(table.num_rows)
    return table.take(pa.array(order))


def timeline(source: pa.Table, threads: int, portable: bool) -> pa.Table:
    """The view's timeline on a fresh DuckDB connection with `threads` threads."""
    query = windows.timeline_sql(VIEW, sb.identifier("src"), sb.column("ts"), portable)
    con = duckdb.connect(config={"threads": threads})
    try:
        con.register("src", source)
        sql = f"SELECT * FROM ({sb.render(query, 'duckdb')}) AS t ORDER BY card_id, __ts"
        return con.sql(sql).to_arrow_table()
    finally:
        con.close()


@pytest.mark.parametrize("portable", [False, True], ids=["duckdb", "portable"])
def test_the_timeline_is_the_same_bits_whatever_the_threads_and_input_order(
    portable: bool,
) -> None:
    rows = tied_rows()
    first = timeline(rows, 1, portable)
    assert first.num_rows > 1000 and first.column("amount_sum_1d").null_count < first.num_rows
    for threads, seed in RUNS:
        again = timeline(shuffled(rows, seed), threads, portable)
        assert again.equals(first), f"run with {threads} threads, input order {seed} differs"


def entity_rows(source: pa.Table) -> pa.Table:
    """Entity rows at every row's time, just before and exactly at each exit, and before
    any row: the points where windows open and close."""
    times = sorted(set(source.column("ts").to_pylist()))
    moments = [
        t + shift
        for t in times
        for shift in (
            timedelta(0),
            timedelta(hours=1),
            timedelta(days=1),
            -timedelta(microseconds=1),
        )
    ]
    moments.append(T0 - timedelta(days=1))
    cards = list(range(-1, 7))
    return pa.table(
        {
            "card_id": pa.array([cards[i % len(cards)] for i in range(len(moments))], pa.int64()),
            "event_timestamp": pa.array(moments, pa.timestamp("us")),
        }
    )


def build(engine: Any, source: pa.Table, entities: pa.Table) -> pa.Table:
    selections = pit.select({"activity": VIEW}, ["activity:*"])
    return pit.training_set(
        engine,
        selections,
        entities,
        {"activity": source},
        {"activity": source.schema},
        "event_timestamp",
    )


@pytest.mark.parametrize("engine_class", [DuckDBEngine, WindowDuckDB], ids=["asof", "windows"])
def test_training_sets_repeat_bit_for_bit_and_match_the_oracle(
    engine_class: type[DuckDBEngine], tmp_path: Any
) -> None:
    rows = tied_rows()
    entities = entity_rows(rows)
    results = [
        build(
            engine_class(Warehouse(str(tmp_path)), threads=threads), shuffled(rows, seed), entities
        )
        for threads, seed in RUNS[:10]
    ]
    for i, result in enumerate(results[1:], start=1):
        assert result.equals(results[0]), f"build {i} differs from build 0"
    check_oracle(rows, entities, results[0])


def check_oracle(source: pa.Table, entities: pa.Table, result: pa.Table) -> None:
    by_card: dict[int, list[tuple[datetime, float | None, str]]] = {}
    for row in source.to_pylist():
        by_card.setdefault(row["card_id"], []).append((row["ts"], row["amount"], row["merchant"]))
    for rows in by_card.values():
        rows.sort(key=lambda r: r[0])
    checked = 0
    for entity, got in zip(entities.to_pylist(), result.to_pylist(), strict=True):
        rows = by_card.get(entity["card_id"], [])
        times = [r[0] for r in rows]
        t = entity["event_timestamp"]
        alive = bisect.bisect_right(times, t) > bisect.bisect_right(times, t - VIEW.ttl_delta)
        for agg in AGGREGATIONS:
            window = rows[
                bisect.bisect_right(times, t - agg.window) : bisect.bisect_right(times, t)
            ]
            expected = expect(agg, window) if alive else None
            assert matches(got[agg.name], expected), (agg.name, entity, got[agg.name], expected)
            checked += expected is not None
    assert checked > 3000


def expect(agg: Aggregation, window: list[tuple[datetime, float | None, str]]) -> Any:
    """The aggregate by brute force; a sum is math.fsum's correctly rounded one."""
    if agg.column is None:
        return len(window)
    if agg.column == "merchant":
        return len({r[2] for r in window})
    values = [r[1] for r in window if r[1] is not None]
    if agg.function == "count":
        return len(values)
    if not values:
        return None
    if agg.function in ("sum", "mean"):
        total = math.fsum(values)
        # Any order of additions is within n ulps of the sum of the magnitudes.
        bound = len(values) * 2**-52 * math.fsum(abs(v) for v in values)
        if agg.function == "sum":
            return (total, bound)
        return (total / len(values), bound / len(values) + 2**-52 * abs(total / len(values)))
    return min(values) if agg.function == "min" else max(values)


def matches(got: Any, expected: Any) -> bool:
    if isinstance(expected, tuple):
        value, bound = expected
        return got is not None and abs(got - value) <= bound
    return bool(got == expected) if expected is not None else got is None
