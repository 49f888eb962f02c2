"""Point-in-time joins against a brute-force oracle (hypothesis): ties, TTL edges, nulls,
entities with only future rows, time zones, and every entity row kept in order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assay.features import pit
from assay.features.spec import Entity, FeatureView

T0 = datetime(2026, 1, 1)
TTL = timedelta(hours=5)

card = Entity("card", join_keys=["card_id"])
VIEW = FeatureView(
    name="v",
    entities=[card],
    source="gold.v",
    timestamp="ts",
    created_timestamp="created",
    ttl="5h",
    features=["x", "y"],
)
NO_TTL = FeatureView(name="w", entities=[card], source="gold.w", timestamp="ts", features=["x"])

FEATURE_SCHEMA = pa.schema(
    [
        ("card_id", pa.int64()),
        ("ts", pa.timestamp("us")),
        ("created", pa.timestamp("us")),
        ("x", pa.int64()),
        ("y", pa.string()),
    ]
)


def hours(n: int) -> datetime:
    return T0 + timedelta(hours=n)


feature_rows = st.lists(
    st.fixed_dictionaries(
        {
            "card_id": st.integers(1, 4),
            "ts": st.integers(0, 24).map(hours),
            "created": st.integers(0, 5).map(hours),
            "x": st.one_of(st.none(), st.integers(-10, 10)),
            "y": st.one_of(st.none(), st.sampled_from(["a", "é", ""])),
        }
    ),
    max_size=30,
    unique_by=lambda r: (r["card_id"], r["ts"], r["created"]),
)

entity_rows = st.lists(
    st.fixed_dictionaries(
        {
            "card_id": st.one_of(st.none(), st.integers(1, 5)),  # 5 has no feature rows at all
            "event_timestamp": st.one_of(st.none(), st.integers(-2, 30).map(hours)),
            "label": st.booleans(),
        }
    ),
    max_size=25,
)


def oracle(
    features: list[dict[str, Any]], entity: dict[str, Any], ttl: timedelta | None
) -> dict[str, Any] | None:
    """The feature row a training row must get, by brute force."""
    t, key = entity["event_timestamp"], entity["card_id"]
    if t is None or key is None:
        return None
    candidates = [
        f
        for f in features
        if f["card_id"] == key and f["ts"] <= t and (ttl is None or f["ts"] >= t - ttl)
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda f: (f["ts"], f["created"]))


def run(
    engine: Any,
    view: FeatureView,
    features: list[dict[str, Any]],
    entities: pa.Table,
    refs: list[str],
) -> pa.Table:
    table = pa.Table.from_pylist(features, schema=FEATURE_SCHEMA)
    selections = pit.select({view.name: view}, refs)
    return pit.training_set(
        engine,
        selections,
        entities,
        {view.name: table},
        {view.name: FEATURE_SCHEMA},
        "event_timestamp",
    )


ENTITY_SCHEMA = pa.schema(
    [("card_id", pa.int64()), ("event_timestamp", pa.timestamp("us")), ("label", pa.bool_())]
)


def examples(n: int) -> Any:
    return settings(
        max_examples=n, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )


def check_oracle(engine: Any, features: list[dict], entities: list[dict]) -> None:
    table = pa.Table.from_pylist(entities, schema=ENTITY_SCHEMA)
    result = run(engine, VIEW, features, table, ["v:x", "v:y"]).to_pylist()
    assert len(result) == len(entities)  # every entity row kept, in order
    for got, entity in zip(result, entities, strict=True):
        assert {k: got[k] for k in entity} == entity  # keys, timestamp and labels untouched
        expected = oracle(features, entity, TTL)
        assert (got["x"], got["y"]) == (
            (expected["x"], expected["y"]) if expected else (None, None)
        )


def check_oracle_without_ttl(engine: Any, features: list[dict], entities: list[dict]) -> None:
    # Without a created timestamp, ties on ts are arbitrary: keep one row per (card, ts).
    unique = list({(f["card_id"], f["ts"]): f for f in features}.values())
    table = pa.Table.from_pylist(entities, schema=ENTITY_SCHEMA)
    result = run(engine, NO_TTL, unique, table, ["w:x"]).to_pylist()
    assert len(result) == len(entities)
    for got, entity in zip(result, entities, strict=True):
        expected = oracle(unique, entity, None)
        assert got["x"] == (expected["x"] if expected else None)


@examples(80)
@given(features=feature_rows, entities=entity_rows)
def test_training_set_matches_the_oracle(
    features: list[dict[str, Any]], entities: list[dict[str, Any]], engine: Any
) -> None:
    check_oracle(engine, features, entities)


@examples(40)
@given(features=feature_rows, entities=entity_rows)
def test_without_ttl_any_past_row_counts(
    features: list[dict[str, Any]], entities: list[dict[str, Any]], engine: Any
) -> None:
    check_oracle_without_ttl(engine, features, entities)


# Spark: the same oracle, fewer examples (each one is a Spark job of a few hundred ms).
@examples(15)
@given(features=feature_rows, entities=entity_rows)
def test_on_spark_training_set_matches_the_oracle(
    features: list[dict[str, Any]], entities: list[dict[str, Any]], spark_engine: Any
) -> None:
    check_oracle(spark_engine, features, entities)


@examples(8)
@given(features=feature_rows, entities=entity_rows)
def test_on_spark_without_ttl_any_past_row_counts(
    features: list[dict[str, Any]], entities: list[dict[str, Any]], spark_engine: Any
) -> None:
    check_oracle_without_ttl(spark_engine, features, entities)


def test_ttl_edges_are_inclusive(every_engine: Any) -> None:
    engine = every_engine
    features = [{"card_id": 1, "ts": hours(10), "created": hours(0), "x": 7, "y": "a"}]
    entities = pa.table(
        {
            "card_id": [1, 1, 1, 1],
            "event_timestamp": [
                hours(10),
                hours(15),
                hours(15) + timedelta(microseconds=1),
                hours(9),
            ],
        }
    )
    got = run(engine, VIEW, features, entities, ["v:x"])["x"].to_pylist()
    assert got == [7, 7, None, None]  # at ts, at ts + ttl, just after, before any row


def test_time_zones_compare_in_utc(every_engine: Any) -> None:
    engine = every_engine
    features = [
        {"card_id": 1, "ts": hours(10), "created": hours(0), "x": 1, "y": None},
        {"card_id": 1, "ts": hours(12), "created": hours(0), "x": 2, "y": None},
    ]
    plus_two = timezone(timedelta(hours=2))
    # 13:00+02:00 is 11:00 UTC: the 10:00 UTC row applies, not the 12:00 one.
    entities = pa.table(
        {
            "card_id": [1, 1],
            "event_timestamp": pa.array(
                [datetime(2026, 1, 1, 13, tzinfo=plus_two), datetime(2026, 1, 1, 12, tzinfo=UTC)],
                pa.timestamp("us", tz="+02:00"),
            ),
        }
    )
    assert run(engine, VIEW, features, entities, ["v:x"])["x"].to_pylist() == [1, 2]
