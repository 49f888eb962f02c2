"""Join keys, timestamps, features and aggregations whose names hold a double quote, a
space and a backtick go through a point-in-time training set (ASOF join, window-function
join, Spark) and a windowed feature (offline timeline and online latest values) as the
same one column each, with the values they would have under plain names."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
from sqlglot import exp

from assay import sqlbuild as sb
from assay.features import pit, windows
from assay.features.spec import Aggregation, Entity, FeatureView

KEY = 'card "id` x'
TS = 'when "t` s'
FEATURE = 'amt "1` b'
ENTITY_TS = 'event "ts` e'
LABEL = 'label "`'
T0 = datetime(2026, 1, 1)

card = Entity("hostile_card", join_keys=[KEY])
PLAIN = FeatureView(
    name="hostile_plain",
    entities=[card],
    source="silver.hostile",
    timestamp=TS,
    features=[FEATURE],
    ttl="1d",
)
SUMMED = Aggregation(FEATURE, "sum", "1h")
WINDOWED = FeatureView(
    name="hostile_windowed",
    entities=[card],
    source="silver.hostile",
    timestamp=TS,
    aggregations=[SUMMED, Aggregation(function="count", time_window="1h")],
)
SOURCE_SCHEMA = pa.schema([(KEY, pa.int64()), (TS, pa.timestamp("us")), (FEATURE, pa.int64())])
SOURCE = pa.Table.from_pylist(
    [
        {KEY: 1, TS: T0, FEATURE: 5},
        {KEY: 1, TS: T0 + timedelta(minutes=30), FEATURE: 7},
        {KEY: 2, TS: T0 + timedelta(minutes=10), FEATURE: 100},
    ],
    schema=SOURCE_SCHEMA,
)
ENTITIES = pa.Table.from_pylist(
    [
        {KEY: 1, ENTITY_TS: T0 + timedelta(minutes=45), LABEL: True},
        {KEY: 2, ENTITY_TS: T0 + timedelta(hours=2), LABEL: False},
        {KEY: 3, ENTITY_TS: T0, LABEL: True},
    ],
    schema=pa.schema([(KEY, pa.int64()), (ENTITY_TS, pa.timestamp("us")), (LABEL, pa.bool_())]),
)


def training_set(engine: Any, view: FeatureView) -> pa.Table:
    selections = pit.select({view.name: view}, [f"{view.name}:*"])
    return pit.training_set(
        engine, selections, ENTITIES, {view.name: SOURCE}, {view.name: SOURCE_SCHEMA}, ENTITY_TS
    )


def test_a_hostile_feature_goes_through_a_training_set(every_engine: Any) -> None:
    result = training_set(every_engine, PLAIN)
    assert result.column_names == [KEY, ENTITY_TS, LABEL, FEATURE]
    assert result.to_pylist() == [
        {KEY: 1, ENTITY_TS: T0 + timedelta(minutes=45), LABEL: True, FEATURE: 7},
        {KEY: 2, ENTITY_TS: T0 + timedelta(hours=2), LABEL: False, FEATURE: 100},
        {KEY: 3, ENTITY_TS: T0, LABEL: True, FEATURE: None},
    ]


def test_a_hostile_windowed_feature_goes_through_a_training_set(every_engine: Any) -> None:
    result = training_set(every_engine, WINDOWED)
    summed, counted = (a.name for a in WINDOWED.aggregations)
    assert summed == f"{FEATURE}_sum_1h"
    assert result.column_names == [KEY, ENTITY_TS, LABEL, summed, counted]
    # card 1 at 00:45 sees both rows in the hour; card 2 at 02:00 nothing (window empty)
    assert [(r[summed], r[counted]) for r in result.to_pylist()] == [
        (12, 2),
        (None, None),
        (None, None),
    ]


def test_a_hostile_windowed_feature_goes_through_its_online_values(engine: Any) -> None:
    ts = sb.utc_timestamp(sb.column(TS), SOURCE_SCHEMA.field(TS).type)
    end = T0 + timedelta(minutes=40)
    sql = windows.latest_sql(WINDOWED, exp.to_identifier("src"), ts, end, None)
    latest = engine.query(sql, {"src": SOURCE})
    summed, counted = (a.name for a in WINDOWED.aggregations)
    assert latest.column_names == [KEY, summed, counted, "__ts"]
    assert [(r[KEY], r[summed], r[counted]) for r in latest.to_pylist()] == [
        (1, 12, 2),
        (2, 100, 1),
    ]
