"""Point-in-time joins over every kind of timestamp column: naive (taken as UTC) or zoned,
in seconds, milliseconds, microseconds or nanoseconds, the entity frame's kind differing
from the feature table's. The ASOF join compares zoned times as instants without
converting them (issue 18); the window-function join converts them to naive UTC. Both must
give the brute-force oracle's rows, TTL edges included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assay.features import pit
from tests.features.test_pit_oracle import TTL, VIEW, hours, oracle

#: Timestamp kinds a column may have; values are whole seconds, so every unit holds them.
KINDS = [
    pa.timestamp("us"),
    pa.timestamp("ns"),
    pa.timestamp("ms"),
    pa.timestamp("s", tz="UTC"),
    pa.timestamp("us", tz="UTC"),
    pa.timestamp("us", tz="+05:30"),
    pa.timestamp("ns", tz="-03:00"),
    pa.timestamp("us", tz="America/New_York"),
]


def typed(values: list[datetime | None], kind: pa.DataType) -> pa.Array:
    """Naive-UTC datetimes as a column of `kind`, each the same instant."""
    if kind.tz is None:
        return pa.array(values, kind)
    return pa.array([v.replace(tzinfo=UTC) if v else None for v in values], kind)


def run(
    engine: Any,
    features: list[dict[str, Any]],
    entities: list[dict[str, Any]],
    kinds: tuple[pa.DataType, pa.DataType, pa.DataType],
) -> list[dict[str, Any]]:
    """The training set of `VIEW` (TTL 5 h) with feature ts, created and entity ts of `kinds`."""
    ts_kind, created_kind, entity_kind = kinds
    table = pa.table(
        {
            "card_id": pa.array([f["card_id"] for f in features], pa.int64()),
            "ts": typed([f["ts"] for f in features], ts_kind),
            "created": typed([f["created"] for f in features], created_kind),
            "x": pa.array([f["x"] for f in features], pa.int64()),
            "y": pa.array([f["y"] for f in features], pa.string()),
        }
    )
    frame = pa.table(
        {
            "card_id": pa.array([e["card_id"] for e in entities], pa.int64()),
            "event_timestamp": typed([e["event_timestamp"] for e in entities], entity_kind),
        }
    )
    selections = pit.select({VIEW.name: VIEW}, ["v:x", "v:y"])
    result = pit.training_set(
        engine, selections, frame, {"v": table}, {"v": table.schema}, "event_timestamp"
    )
    return result.select(["x", "y"]).to_pylist()


def expected(features: list[dict[str, Any]], entities: list[dict[str, Any]]) -> list[Any]:
    out = []
    for entity in entities:
        hit = oracle(features, entity, TTL)
        out.append({"x": hit["x"], "y": hit["y"]} if hit else {"x": None, "y": None})
    return out


seconds = st.integers(0, 24 * 3600).map(lambda s: hours(0) + timedelta(seconds=s))
feature_rows = st.lists(
    st.fixed_dictionaries(
        {
            "card_id": st.integers(1, 3),
            # On the hour often, so ties and TTL edges (5 h) come up.
            "ts": st.one_of(st.integers(0, 24).map(hours), seconds),
            "created": st.integers(0, 3).map(hours),
            "x": st.one_of(st.none(), st.integers(-10, 10)),
            "y": st.one_of(st.none(), st.sampled_from(["a", "é"])),
        }
    ),
    max_size=25,
    unique_by=lambda r: (r["card_id"], r["ts"], r["created"]),
)
entity_rows = st.lists(
    st.fixed_dictionaries(
        {
            "card_id": st.one_of(st.none(), st.integers(1, 4)),
            "event_timestamp": st.one_of(st.none(), st.integers(-1, 30).map(hours), seconds),
        }
    ),
    max_size=20,
)
kinds = st.tuples(st.sampled_from(KINDS), st.sampled_from(KINDS), st.sampled_from(KINDS))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(features=feature_rows, entities=entity_rows, kinds=kinds)
def test_every_timestamp_kind_matches_the_oracle(
    engine: Any, features: list[dict], entities: list[dict], kinds: Any
) -> None:
    assert run(engine, features, entities, kinds) == expected(features, entities)


def test_ttl_edges_in_zoned_columns(engine: Any) -> None:
    """At the row's time and exactly TTL after it the row applies; a microsecond later and
    before it, nothing: the same in any zone, as instants."""
    features = [{"card_id": 1, "ts": hours(10), "created": hours(0), "x": 7, "y": "a"}]
    times = [hours(10), hours(15), hours(15) + timedelta(microseconds=1), hours(9)]
    entities = [{"card_id": 1, "event_timestamp": t} for t in times]
    for kind in (pa.timestamp("us", tz="+05:30"), pa.timestamp("us", tz="America/New_York")):
        got = run(engine, features, entities, (pa.timestamp("us", tz="-03:00"), kind, kind))
        assert [g["x"] for g in got] == [7, 7, None, None], kind
