"""Per-partition watermarks: the same input gives the same windows whatever the batching,
the partition skew (one partition read far behind the others) or a restart, and events
in time order within their partition are never late (a property test); idle partitions
stop holding the watermark back after their timeout, and it never moves backwards."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assay.engines import get_engine
from assay.features.spec import Aggregation
from assay.streaming.spec import hopping, tumbling, window
from assay.streaming.watermarks import PartitionWatermarks
from assay.streaming.windows import WindowOperator
from assay.tables import Warehouse

T0 = datetime(2026, 1, 1)
SCHEMA = pa.schema(
    [
        ("_partition", pa.string()),
        ("_offset", pa.int64()),
        ("card", pa.int64()),
        ("ts", pa.timestamp("us")),
        ("amount", pa.int64()),
    ]
)
AGGS = [Aggregation(function="count"), Aggregation("amount", "sum")]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return get_engine("duckdb", Warehouse(str(tmp_path_factory.mktemp("wh"))))


@st.composite
def partitioned(draw: Any) -> tuple[dict[str, list[dict[str, Any]]], list[list[tuple[str, int]]]]:
    """Events per partition, in time order within each (with disorder up to 1 minute, the
    allowed lateness), and a reading plan: batches of (partition, how many next events)."""
    partitions: dict[str, list[dict[str, Any]]] = {}
    for p in map(str, range(draw(st.integers(1, 3)))):
        gaps = draw(st.lists(st.integers(0, 240), min_size=1, max_size=40))
        jitter = draw(st.lists(st.integers(0, 60), min_size=len(gaps), max_size=len(gaps)))
        rows, t = [], 0
        for i, (gap, back) in enumerate(zip(gaps, jitter, strict=True)):
            t += gap
            rows.append(
                {
                    "_partition": p,
                    "_offset": i,
                    "card": draw(st.integers(0, 2)),
                    "ts": T0 + timedelta(seconds=max(0, t - back)),
                    "amount": draw(st.integers(0, 9)),
                }
            )
        partitions[p] = rows
    # A plan that may read one partition to its end before touching the others (skew).
    left = {p: len(rows) for p, rows in partitions.items()}
    plan: list[list[tuple[str, int]]] = []
    while any(left.values()):
        batch = []
        for p in draw(st.permutations(sorted(p for p, n in left.items() if n))):
            n = draw(st.integers(0 if batch else 1, left[p]))
            if n:
                batch.append((p, n))
                left[p] -= n
        plan.append(batch)
    return partitions, plan


def run(
    engine: Any,
    spec: Any,
    partitions: dict[str, list[dict[str, Any]]],
    plan: list[list[tuple[str, int]]],
    restart_at: int | None,
) -> tuple[dict[tuple[int, datetime], tuple[int, int]], int, int | None]:
    """Windows emitted, late events and the final watermark, reading by `plan`, with a
    restart (state rebuilt from the rows read and the saved marks) before batch
    `restart_at`."""
    op = WindowOperator(engine, spec, "ts", partition_column="_partition")
    op.marks.expect(partitions)
    taken = dict.fromkeys(partitions, 0)
    read: list[dict[str, Any]] = []
    emitted: dict[tuple[int, datetime], tuple[int, int]] = {}
    late = 0
    for i, batch in enumerate(plan):
        if i == restart_at:
            saved = op.marks.state()
            op = WindowOperator(engine, spec, "ts", partition_column="_partition")
            op.restore(pa.Table.from_pylist(read, schema=SCHEMA), saved)
            op.marks.expect(partitions)
        rows = []
        for p, n in batch:
            rows += partitions[p][taken[p] : taken[p] + n]
            taken[p] += n
        read += rows
        out = op.process(pa.Table.from_pylist(rows, schema=SCHEMA))
        late += out.late.num_rows
        for r in out.emitted.to_pylist():
            key = (r["card"], r["window_start"])
            assert key not in emitted, f"window {key} emitted twice"
            emitted[key] = (r["count"], r["amount_sum"])
    return emitted, late, op.watermark


def group_by(
    partitions: dict[str, list[dict[str, Any]]], size: timedelta, slide: timedelta, until: int
) -> dict[tuple[int, datetime], tuple[int, int]]:
    """The windows a batch GROUP BY gives, of those ending at or before `until` (micros)."""
    groups: dict[tuple[int, datetime], list[int]] = defaultdict(list)
    for rows in partitions.values():
        for r in rows:
            start = T0 - timedelta(days=1)
            while start <= r["ts"]:
                if start + size > r["ts"]:
                    groups[(r["card"], start)].append(r["amount"])
                start += slide
    limit = datetime(1970, 1, 1) + timedelta(microseconds=until)
    return {k: (len(v), sum(v)) for k, v in groups.items() if k[1] + size <= limit}


@pytest.mark.parametrize("shape", [tumbling("5m"), hopping("10m", every="5m")], ids=str)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=partitioned(), restart=st.none() | st.integers(0, 6))
def test_the_same_input_gives_the_same_windows_whatever_the_reading(
    engine: Any, shape: Any, data: Any, restart: int | None
) -> None:
    partitions, plan = data
    spec = window("silver.w", keys=["card"], window=shape, aggregations=AGGS, allowed_lateness="1m")
    emitted, late, watermark = run(engine, spec, partitions, plan, restart)
    assert late == 0  # nothing is late within its partition by more than the lateness
    # The watermark ends at the slowest partition's latest event, minus the lateness.
    newest = [max(r["ts"] for r in rows) for rows in partitions.values()]
    frontier = min(newest) - timedelta(minutes=1)
    assert watermark == round((frontier - datetime(1970, 1, 1)).total_seconds() * 1e6)
    assert emitted == group_by(partitions, shape.size, shape.slide, watermark)


def test_a_partition_read_far_behind_keeps_its_events_on_time(engine: Any) -> None:
    """The issue's case: partition 1 read an hour behind partition 0 (a backlog)."""
    spec = window("silver.w", keys=["card"], window=tumbling("10m"), aggregations=AGGS)
    op = WindowOperator(engine, spec, "ts", partition_column="_partition")
    op.marks.expect(["0", "1"])

    def rows(p: str, minutes: range) -> pa.Table:
        return pa.Table.from_pylist(
            [
                {"_partition": p, "_offset": m, "card": 1, "ts": T0 + timedelta(minutes=m)}
                | {"amount": 1}
                for m in minutes
            ],
            schema=SCHEMA,
        )

    assert op.process(rows("0", range(0, 60))).emitted.num_rows == 0  # waits for "1"
    out = op.process(rows("1", range(0, 30)))
    assert out.late.num_rows == 0
    assert [r["count"] for r in out.emitted.to_pylist()] == [20, 20]  # both partitions' rows
    out = op.process(rows("1", range(30, 60)))
    assert out.late.num_rows == 0 and out.emitted.num_rows == 3


def test_an_idle_partition_stops_holding_the_watermark_back_after_its_timeout() -> None:
    now = [0.0]
    marks = PartitionWatermarks(idle_timeout=30, clock=lambda: now[0])
    marks.expect(["0", "1", "2"])
    assert marks.observe({"0": 100, "1": 200}) is None  # "2" has brought nothing yet
    now[0] = 31.0  # "2" idle since it began to be read; "0" and "1" too by now
    assert marks.observe({"0": 150}) == 150  # "1" idle: only "0" counts
    now[0] = 40.0
    assert marks.observe({"1": 300, "2": 50}) == 150  # back, but never backwards
    assert marks.observe({"0": 400, "2": 500}) == 300
    restored = PartitionWatermarks(idle_timeout=30, clock=lambda: now[0])
    restored.restore(marks.state())
    assert (restored.frontier, restored.observe({"1": 350})) == (300, 350)
