"""Windowed aggregations declared on a feature view: training sets against a brute-force
oracle (hypothesis), and online values equal to the training set at the same moment."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import assay
from assay.errors import DefinitionError
from assay.features import pit
from assay.features.spec import Aggregation, Entity, FeatureView
from tests.conftest import MakeProject

T0 = datetime(2026, 1, 1)
card = Entity("card", join_keys=["card_id"])
AGGREGATIONS = [
    Aggregation(function="count", time_window="1h"),
    Aggregation("amount", "count", "3h"),
    Aggregation("amount", "sum", "3h"),
    Aggregation("amount", "mean", "1d"),
    Aggregation("amount", "min", "3h"),
    Aggregation("amount", "max", "1d"),
    Aggregation("merchant", "count_distinct", "1d"),
]
VIEW = FeatureView(
    name="activity",
    entities=[card],
    source="silver.tx",
    timestamp="ts",
    aggregations=AGGREGATIONS,
)
SOURCE_SCHEMA = pa.schema(
    [
        ("card_id", pa.int64()),
        ("ts", pa.timestamp("us")),
        ("amount", pa.int64()),
        ("merchant", pa.string()),
    ]
)
ENTITY_SCHEMA = pa.schema([("card_id", pa.int64()), ("event_timestamp", pa.timestamp("us"))])


def minutes(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


# Times on a 30-minute grid, so rows land exactly on window edges and share timestamps.
rows = st.lists(
    st.fixed_dictionaries(
        {
            "card_id": st.one_of(st.none(), st.integers(1, 3)),
            "ts": st.one_of(st.none(), st.integers(0, 72).map(lambda n: minutes(30 * n))),
            "amount": st.one_of(st.none(), st.integers(-5, 20)),
            "merchant": st.one_of(st.none(), st.sampled_from(["m1", "m2", "m3"])),
        }
    ),
    max_size=40,
)
entity_rows = st.lists(
    st.fixed_dictionaries(
        {
            "card_id": st.one_of(st.none(), st.integers(1, 4)),
            "event_timestamp": st.one_of(
                st.none(), st.integers(-2, 100).map(lambda n: minutes(30 * n))
            ),
        }
    ),
    max_size=25,
)


def aggregate(agg: Aggregation, window: list[dict[str, Any]]) -> Any:
    """One aggregate over the rows of its window, as SQL defines it."""
    if agg.column is None:
        return len(window)
    values = [r[agg.column] for r in window if r[agg.column] is not None]
    if agg.function == "count":
        return len(values)
    if agg.function == "count_distinct":
        return len(set(values))
    if not values:
        return None
    return {"sum": sum, "min": min, "max": max, "mean": lambda v: sum(v) / len(v)}[agg.function](
        values
    )


def oracle(source: list[dict[str, Any]], key: Any, t: datetime | None) -> dict[str, Any]:
    """Every aggregate for one entity row, by brute force over its half-open windows."""
    mine = [r for r in source if key is not None and r["card_id"] == key and r["ts"] is not None]
    if t is None or not any(t - VIEW.ttl_delta < r["ts"] <= t for r in mine):  # type: ignore[operator]
        return {a.name: None for a in AGGREGATIONS}
    return {
        a.name: aggregate(a, [r for r in mine if t - a.window < r["ts"] <= t]) for a in AGGREGATIONS
    }


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b)
    return bool(a == b)


def training_set(engine: Any, source: pa.Table, entities: pa.Table) -> list[dict[str, Any]]:
    selections = pit.select({"activity": VIEW}, ["activity:*"])
    return pit.training_set(
        engine,
        selections,
        entities,
        {"activity": source},
        {"activity": source.schema},
        "event_timestamp",
    ).to_pylist()


def check_oracle(engine: Any, source: list[dict], entities: list[dict]) -> None:
    result = training_set(
        engine,
        pa.Table.from_pylist(source, schema=SOURCE_SCHEMA),
        pa.Table.from_pylist(entities, schema=ENTITY_SCHEMA),
    )
    assert len(result) == len(entities)  # every entity row kept, in order
    for got, entity in zip(result, entities, strict=True):
        assert got["card_id"] == entity["card_id"]
        expected = oracle(source, entity["card_id"], entity["event_timestamp"])
        for name, value in expected.items():
            assert same(got[name], value), (name, entity, got[name], value)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(source=rows, entities=entity_rows)
def test_windowed_training_sets_match_the_oracle(
    source: list[dict[str, Any]], entities: list[dict[str, Any]], engine: Any
) -> None:
    check_oracle(engine, source, entities)


# Spark: the same oracle, fewer examples (each one is a Spark job).
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(source=rows, entities=entity_rows)
def test_on_spark_windowed_training_sets_match_the_oracle(
    source: list[dict[str, Any]], entities: list[dict[str, Any]], spark_engine: Any
) -> None:
    check_oracle(spark_engine, source, entities)


def test_rows_leave_their_window_exactly_when_it_passes(every_engine: Any) -> None:
    engine = every_engine
    source = pa.Table.from_pylist(
        [{"card_id": 1, "ts": T0, "amount": 5, "merchant": "m1"}], schema=SOURCE_SCHEMA
    )
    at = [T0, T0 + timedelta(minutes=59), T0 + timedelta(hours=1), T0 + timedelta(days=1)]
    entities = pa.table(
        {"card_id": [1] * len(at), "event_timestamp": pa.array(at, pa.timestamp("us"))}
    )
    got = training_set(engine, source, entities)
    assert [r["count_1h"] for r in got] == [1, 1, 0, None]
    assert [r["amount_sum_3h"] for r in got] == [5, 5, 5, None]
    assert [r["amount_max_1d"] for r in got] == [5, 5, 5, None]


def test_time_zone_aware_sources_compare_in_utc(every_engine: Any) -> None:
    engine = every_engine
    zoned = SOURCE_SCHEMA.set(1, pa.field("ts", pa.timestamp("us", tz="Europe/Paris")))
    source = pa.Table.from_pylist(
        [{"card_id": 1, "ts": T0, "amount": 5, "merchant": "m1"}], schema=zoned
    )
    entities = pa.table(
        {
            "card_id": [1, 1],
            "event_timestamp": pa.array(
                [T0 - timedelta(seconds=1), T0 + timedelta(minutes=30)], pa.timestamp("us")
            ),
        }
    )
    assert [r["count_1h"] for r in training_set(engine, source, entities)] == [None, 1]


def test_aggregations_are_named_and_checked() -> None:
    assert VIEW.features == (
        "count_1h",
        "amount_count_3h",
        "amount_sum_3h",
        "amount_mean_1d",
        "amount_min_3h",
        "amount_max_1d",
        "merchant_count_distinct_1d",
    )
    assert VIEW.ttl_delta == timedelta(days=1)
    assert Aggregation("amount", "sum", "30d", name="spend_30d").name == "spend_30d"
    assert Aggregation("m", "distinct_count", "7d").function == "count_distinct"
    with pytest.raises(DefinitionError, match="unknown aggregation function 'median'"):
        Aggregation("amount", "median", "1d")
    with pytest.raises(DefinitionError, match="sum needs a column"):
        Aggregation(function="sum")
    with pytest.raises(DefinitionError, match="invalid aggregation window"):
        Aggregation("amount", "sum", "0")
    with pytest.raises(DefinitionError, match="either features or aggregations"):
        FeatureView("x", [card], "silver.tx", "ts", features=["a"], aggregations=AGGREGATIONS)
    with pytest.raises(DefinitionError, match="longest window"):
        FeatureView("x", [card], "silver.tx", "ts", ttl="2d", aggregations=AGGREGATIONS)


PIPELINE = """
import pyarrow as pa
from datetime import datetime, timedelta
import assay

@assay.source("silver.tx")
def tx(ctx):
    t0 = datetime(2026, 1, 1)
    rows = [
        # card 1: active in the last hour; card 2: last row 5 hours ago; card 3: 3 days ago
        (1, t0 + timedelta(hours=23, minutes=30), 10, "m1"),
        (1, t0 + timedelta(hours=22), 4, "m2"),
        (1, t0 + timedelta(hours=2), 7, "m1"),
        (2, t0 + timedelta(hours=19), 3, "m3"),
        (2, t0 + timedelta(hours=18), None, "m3"),
        (3, t0 - timedelta(days=2), 8, "m1"),
    ]
    return pa.table({
        "card_id": [r[0] for r in rows],
        "ts": pa.array([r[1] for r in rows], pa.timestamp("us")),
        "amount": [r[2] for r in rows],
        "merchant": [r[3] for r in rows],
    })
"""

FEATURES = """
from assay import Aggregation, Entity, FeatureService, FeatureView
card = Entity("card", join_keys=["card_id"])
activity = FeatureView(
    name="activity", entities=[card], source="silver.tx", timestamp="ts",
    aggregations=[
        Aggregation(function="count", time_window="1h"),
        Aggregation("amount", "sum", "3h"),
        Aggregation("amount", "mean", "1d"),
        Aggregation("merchant", "count_distinct", "1d"),
    ],
)
model = FeatureService("model", features=["activity:*"])
"""

NOW = datetime(2026, 1, 2)


@pytest.fixture(params=["sqlite", "redis"])
def project(make_project: MakeProject, request: pytest.FixtureRequest) -> assay.Project:
    store: dict[str, object] = {"type": "sqlite"}
    if request.param == "redis":
        store = {"type": "redis", "url": request.getfixturevalue("redis_url")}
    root = make_project(
        {"pipelines/tx.py": PIPELINE, "features/cards.py": FEATURES}, {"online_store": store}
    )
    p = assay.Project(root)
    assert p.run().ok
    return p


def test_online_aggregates_equal_the_training_set_at_the_same_moment(
    project: assay.Project,
) -> None:
    [done] = project.features.materialize(end=NOW)
    assert done.rows == 2  # card 3 has no row in the last day
    cards = [1, 2, 3, 4]
    online = project.features.online([{"card_id": c} for c in cards], "model", now=NOW)
    entities = pa.table(
        {"card_id": cards, "event_timestamp": pa.array([NOW] * len(cards), pa.timestamp("us"))}
    )
    offline = project.features.training_set(entities, "model").to_pylist()
    for vector, row in zip(online, offline, strict=True):
        for feature in VIEW_FEATURES:
            assert same(vector[feature]["value"], row[feature]) or (
                vector[feature]["value"] is None and row[feature] is None
            ), (row, vector)
    assert offline[0] | {} == {
        "card_id": 1,
        "event_timestamp": NOW,
        "count_1h": 1,
        "amount_sum_3h": 14,
        "amount_mean_1d": 7.0,
        "merchant_count_distinct_1d": 2,
    }
    assert offline[1]["count_1h"] == 0 and offline[1]["amount_sum_3h"] is None
    assert [v["count_1h"]["status"] for v in online] == ["present", "present", "missing", "missing"]


def test_online_aggregates_expire_with_their_longest_window(project: assay.Project) -> None:
    project.features.materialize(end=NOW)
    # card 2's last row was at 19:00 on Jan 1; its 1-day window ends at 19:00 on Jan 2.
    at_edge = datetime(2026, 1, 2, 19)
    vector = project.features.online([{"card_id": 2}], ["activity:count_1h"], now=at_edge)[0]
    assert vector["count_1h"]["status"] == "expired" and vector["count_1h"]["value"] is None
    entities = pa.table(
        {"card_id": [2], "event_timestamp": pa.array([at_edge], pa.timestamp("us"))}
    )
    offline = project.features.training_set(entities, ["activity:count_1h"])
    assert offline["count_1h"][0].as_py() is None


VIEW_FEATURES = ("count_1h", "amount_sum_3h", "amount_mean_1d", "merchant_count_distinct_1d")
