"""The window operator against a brute-force oracle for any arrival order (hypothesis):
tumbling, hopping and sliding windows, watermarks with allowed lateness, late rows, and
recovery of the state from the rows alone."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assay.engines import get_engine
from assay.features.spec import Aggregation
from assay.streaming.spec import Window, hopping, sliding, tumbling, window
from assay.streaming.windows import WindowOperator
from assay.tables import Warehouse

T0 = datetime(2026, 1, 1)
AGGS = [
    Aggregation(function="count"),
    Aggregation("amount", "sum"),
    Aggregation("amount", "mean"),
    Aggregation("amount", "min"),
    Aggregation("amount", "max"),
    Aggregation("merchant", "count_distinct"),
]
SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("card", pa.int64()),
        ("ts", pa.timestamp("us")),
        ("amount", pa.int64()),
        ("merchant", pa.string()),
    ]
)
WINDOWS = [tumbling("10m"), hopping("10m", every="5m"), hopping("15m", every="10m"), sliding("10m")]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return get_engine("duckdb", Warehouse(str(tmp_path_factory.mktemp("wh"))))


def aggregate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    amounts = [r["amount"] for r in rows if r["amount"] is not None]
    merchants = {r["merchant"] for r in rows if r["merchant"] is not None}
    return {
        "count": len(rows),
        "amount_sum": sum(amounts) if amounts else None,
        "amount_mean": sum(amounts) / len(amounts) if amounts else None,
        "amount_min": min(amounts) if amounts else None,
        "amount_max": max(amounts) if amounts else None,
        "merchant_count_distinct": len(merchants),
    }


def starts(w: Window, t: datetime) -> list[datetime]:
    """Every window start whose [start, start + size) holds t, by brute force."""
    first = T0 - timedelta(days=1)
    out, start = [], first
    while start <= t:
        if start + w.size > t:
            out.append(start)
        start += w.slide
    return out


def oracle(w: Window, lateness: timedelta, batches: list[list[dict[str, Any]]]) -> Any:
    """Emitted windows and late (row id, window start) pairs, simulated row by row."""
    wm: datetime | None = None
    seen: list[dict[str, Any]] = []
    on_time: dict[tuple[Any, datetime], list[dict[str, Any]]] = defaultdict(list)
    emitted: dict[tuple[Any, datetime], dict[str, Any]] = {}
    late: list[tuple[int, datetime]] = []
    for batch in batches:
        before = wm
        for r in batch:
            if w.kind == "sliding":
                if before is not None and r["ts"] <= before:
                    late.append((r["id"], r["ts"] - w.size))
                continue
            for s in starts(w, r["ts"]):
                if before is not None and s + w.size <= before:
                    late.append((r["id"], s))
                else:
                    on_time[(r["card"], s)].append(r)
        seen += batch
        if batch:
            mark = max(r["ts"] for r in batch) - lateness
            wm = mark if wm is None else max(wm, mark)
        if wm is None:
            continue
        if w.kind == "sliding":
            ends = {
                (r["card"], r["ts"])
                for r in batch_rows_not_late(seen, late)
                if (before is None or r["ts"] > before) and r["ts"] <= wm
            }
            for card, t in ends:
                rows = [r for r in seen if r["card"] == card and t - w.size <= r["ts"] <= t]
                emitted[(card, t - w.size)] = aggregate(rows)
            continue
        for (card, s), rows in on_time.items():
            if s + w.size <= wm and (card, s) not in emitted:
                emitted[(card, s)] = aggregate(rows)
    return emitted, sorted(late)


def batch_rows_not_late(seen: list[dict[str, Any]], late: list[tuple[int, datetime]]) -> list[Any]:
    late_ids = {i for i, _ in late}
    return [r for r in seen if r["id"] not in late_ids]


def run(engine: Any, op: WindowOperator, batches: list[list[dict[str, Any]]]) -> Any:
    emitted: dict[tuple[Any, datetime], dict[str, Any]] = {}
    late: list[tuple[int, datetime]] = []
    for batch in batches:
        out = op.process(pa.Table.from_pylist(batch, schema=SCHEMA))
        for row in out.emitted.to_pylist():
            key = (row["card"], row["window_start"])
            assert key not in emitted, f"window {key} emitted twice"
            emitted[key] = {a.name: row[a.name] for a in AGGS}
        late += [(r["id"], r["window_start"]) for r in out.late.to_pylist()]
    return emitted, sorted(late)


def same(got: dict[str, Any], want: dict[str, Any]) -> bool:
    for name, value in want.items():
        other = got[name]
        if isinstance(value, float) and other is not None:
            if not math.isclose(value, other):
                return False
        elif value != other:
            return False
    return True


rows = st.lists(
    st.fixed_dictionaries(
        {
            "card": st.one_of(st.none(), st.integers(1, 3)),
            "ts": st.integers(0, 60).map(lambda n: T0 + timedelta(minutes=n)),
            "amount": st.one_of(st.none(), st.integers(-5, 20)),
            "merchant": st.one_of(st.none(), st.sampled_from(["m1", "m2", "m3"])),
        }
    ),
    max_size=40,
)


@st.composite
def arrivals(draw: Any) -> list[list[dict[str, Any]]]:
    """Rows in any order, cut into micro-batches of any size (some empty)."""
    found = draw(rows)
    order = draw(st.permutations(range(len(found))))
    ordered = [dict(found[i], id=n) for n, i in enumerate(order)]
    cuts = sorted(draw(st.lists(st.integers(0, len(ordered)), max_size=8)))
    bounds = [0, *cuts, len(ordered)]
    return [ordered[a:b] for a, b in itertools.pairwise(bounds)]


@pytest.mark.parametrize("shape", WINDOWS, ids=lambda w: f"{w.kind}-{w.size}-{w.slide}")
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=arrivals(), lateness=st.sampled_from([0, 3, 10]))
def test_windows_and_late_rows_match_the_oracle(
    engine: Any, shape: Window, batches: list[list[dict[str, Any]]], lateness: int
) -> None:
    allowed = timedelta(minutes=lateness)
    spec = window(
        "silver.w", keys=["card"], window=shape, aggregations=AGGS, allowed_lateness=allowed
    )
    got_emitted, got_late = run(engine, WindowOperator(engine, spec, "ts"), batches)
    want_emitted, want_late = oracle(shape, allowed, batches)
    assert got_late == want_late
    assert set(got_emitted) == set(want_emitted)
    for key, want in want_emitted.items():
        assert same(got_emitted[key], want), (key, got_emitted[key], want)
    if shape.kind != "sliding":
        # Nothing lost: a closed window's emitted rows plus its late rows are all its rows.
        everything = [r for b in batches for r in b]
        for (card, s), values in got_emitted.items():
            total = sum(1 for r in everything if r["card"] == card and s in starts(shape, r["ts"]))
            late_here = sum(
                1
                for i, ws in got_late
                if ws == s and next(r for r in everything if r["id"] == i)["card"] == card
            )
            assert values["count"] + late_here == total


@pytest.mark.parametrize("shape", WINDOWS, ids=lambda w: f"{w.kind}-{w.size}-{w.slide}")
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=arrivals(), at=st.integers(0, 8))
def test_restored_state_continues_exactly(
    engine: Any, shape: Window, batches: list[list[dict[str, Any]]], at: int
) -> None:
    spec = window("silver.w", keys=["card"], window=shape, aggregations=AGGS, allowed_lateness="2m")
    head, tail = batches[:at], batches[at:]
    running = WindowOperator(engine, spec, "ts")
    run(engine, running, head)
    restored = WindowOperator(engine, spec, "ts")
    restored.restore(pa.Table.from_pylist([r for b in head for r in b], schema=SCHEMA))
    assert restored.watermark == running.watermark
    expected = run(engine, running, tail)
    got = run(engine, restored, tail)
    assert got[1] == expected[1]
    assert set(got[0]) == set(expected[0])
    for key, values in expected[0].items():
        assert same(got[0][key], values)
