"""Kafka streams against a real broker: exactly once through kill -9 (chaos), poison
messages, two consumers of one group, and offsets acknowledged after the Delta commit."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import assay
from tests.conftest import KafkaTopic, MakeProject

T0 = datetime(2026, 3, 1)

PIPELINE = """
import assay
from assay import Aggregation

events = assay.kafka(
    "bronze.events", topic="TOPIC", bootstrap_servers="BOOTSTRAP", timestamp="event_time",
    key="event_id", columns={"event_id": "BIGINT", "card_id": "BIGINT", "amount": "BIGINT"},
    max_batch_rows=MAX_ROWS, max_batch_seconds=1.0, max_record_bytes=4096,
    consumer_config=CONSUMER,
    windows=WINDOWS,
)
"""

WINDOWS = """[assay.window("silver.card_1m", keys=["card_id"], window=assay.tumbling("1m"),
                   aggregations=[Aggregation(function="count"), Aggregation("amount", "sum")],
                   allowed_lateness="30m")]"""


def project_files(
    topic: str,
    bootstrap: str,
    max_rows: int = 50_000,
    consumer: dict[str, Any] | None = None,
    windows: str = WINDOWS,
) -> dict[str, str]:
    text = (
        PIPELINE.replace("TOPIC", topic)
        .replace("BOOTSTRAP", bootstrap)
        .replace("MAX_ROWS", str(max_rows))
        .replace("CONSUMER", repr(consumer or {}))
        .replace("WINDOWS", windows)
    )
    return {"pipelines/events.py": text}


def event(i: int) -> bytes:
    at = T0 + timedelta(milliseconds=10 * i)
    return json.dumps(
        {"event_id": i, "card_id": i % 997, "amount": i % 100, "event_time": at.isoformat()}
    ).encode()


def produce(bootstrap: str, topic: str, values: list[tuple[bytes | None, bytes]]) -> None:
    from confluent_kafka import Producer

    producer = Producer(
        {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 20}
    )
    for n, (key, value) in enumerate(values):
        while True:
            try:
                producer.produce(topic, value=value, key=key)
                break
            except BufferError:
                producer.poll(0.1)
        if n % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0


def stream_process(root: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "assay.cli.main",
            "stream",
            "bronze.events",
            "--project",
            str(root),
            *args,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_chaos_kill_9_ten_times_and_every_event_lands_once(
    make_project: MakeProject, kafka_bootstrap: str, kafka_topic: KafkaTopic
) -> None:
    total = 1_000_000
    topic = kafka_topic(partitions=3)
    produce(kafka_bootstrap, topic, [(str(i).encode(), event(i)) for i in range(total)])
    # Static membership: a restarted consumer takes its partitions back at once.
    consumer = {"group.instance.id": "chaos", "session.timeout.ms": 6000}
    root = make_project(project_files(topic, kafka_bootstrap, consumer=consumer))
    rng = random.Random(20261123)
    kills = 0
    while kills < 10:
        proc = stream_process(root)
        time.sleep(rng.uniform(1.5, 5.0))
        if proc.poll() is not None:
            pytest.fail(f"the stream exited early: {proc.stderr.read().decode()[-3000:]}")  # type: ignore[union-attr]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
    final = stream_process(root, "--until-idle")
    _, err = final.communicate(timeout=600)
    assert final.returncode == 0, err.decode()[-3000:]
    project = assay.Project(root)
    counts = project.sql(
        "SELECT count(*) AS n, count(DISTINCT event_id) AS ids, sum(event_id) AS s, "
        "sum(amount) AS a FROM bronze.events"
    ).to_pylist()[0]
    assert counts == {
        "n": total,
        "ids": total,
        "s": total * (total - 1) // 2,
        "a": sum(i % 100 for i in range(total)),
    }
    # Nothing was dead-lettered (no table at all, or an empty one).
    dead = "deadletter.bronze_events"
    assert (project.row_count(dead) if project.warehouse.exists(dead) else 0) == 0
    # Every closed window equals a batch computation over the same events (plus any rows
    # that came late for it), and none was written twice.
    mismatched = project.sql("""
        WITH batch AS (
            SELECT card_id, time_bucket(INTERVAL 1 MINUTE, event_time) AS window_start,
                   count(*) AS n, sum(amount) AS s
            FROM bronze.events GROUP BY ALL)
        SELECT count(*) AS bad FROM silver.card_1m w JOIN batch b USING (card_id, window_start)
        WHERE w.count <> b.n OR w.amount_sum <> b.s""").to_pylist()
    assert mismatched == [{"bad": 0}]
    windows = project.sql(
        "SELECT count(*) AS n, count(DISTINCT (card_id, window_start)) AS u FROM silver.card_1m"
    ).to_pylist()[0]
    assert windows["n"] == windows["u"] and windows["n"] > 100_000
    assert not project.warehouse.exists("late.silver_card_1m")


def topic_headers(bootstrap: str, topic: str, expected: int) -> list[dict[str, bytes]]:
    """The headers of the messages on `topic`: `expected` of them, or all there are after
    a few seconds of nothing new."""
    from confluent_kafka import Consumer

    reader = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"dl-{uuid.uuid4().hex}",  # each call reads the topic from the start
            "auto.offset.reset": "earliest",
        }
    )
    reader.subscribe([topic])
    letters: list[dict[str, bytes]] = []
    deadline = time.monotonic() + 30
    while len(letters) < expected and time.monotonic() < deadline:
        msg = reader.poll(1)
        if msg is not None and not msg.error():
            letters.append(dict(msg.headers() or []))
    if len(letters) == expected:  # anything more would be a repeat: wait a moment for it
        while (msg := reader.poll(3)) is not None:
            if not msg.error():
                letters.append(dict(msg.headers() or []))
    reader.close()
    return letters


def poison_project(make_project: MakeProject, topic: str, bootstrap: str, dead_topic: str) -> Path:
    files = project_files(topic, bootstrap, windows="[]")
    files["pipelines/events.py"] = files["pipelines/events.py"].replace(
        "consumer_config=", f"dead_letter_topic={dead_topic!r}, consumer_config="
    )
    return make_project(files)


def test_poison_messages_go_to_dead_letters_and_the_stream_goes_on(
    make_project: MakeProject, kafka_bootstrap: str, kafka_topic: KafkaTopic
) -> None:
    topic = kafka_topic(partitions=1)
    good = [(b"1", event(1)), (b"2", event(2))]
    poison = [
        (b"x", b"{not json"),
        (
            b"y",
            json.dumps(
                {"event_id": "seven", "card_id": 1, "amount": 1, "event_time": T0.isoformat()}
            ).encode(),
        ),
        (b"z", b"x" * 5000),  # over max_record_bytes
        (None, json.dumps({"card_id": 1, "amount": 1, "event_time": T0.isoformat()}).encode()),
        (b"w", b"\xff\xfe not utf-8"),
    ]
    produce(kafka_bootstrap, topic, [good[0], *poison, good[1]])
    dead_topic = kafka_topic(partitions=1)
    root = poison_project(make_project, topic, kafka_bootstrap, dead_topic)
    project = assay.Project(root)
    stats = project.stream("bronze.events", until_idle=True)
    assert (stats.rows_in, stats.written, stats.dead_lettered) == (7, 2, 5)
    dead = project.sql(
        "SELECT _offset, _key, rule, length(raw_record) AS size FROM deadletter.bronze_events "
        "ORDER BY _offset"
    ).to_pylist()
    assert [(d["_offset"], d["_key"], d["rule"]) for d in dead] == [
        (1, "x", "malformed_record"),
        (2, "y", "cast"),
        (3, "z", "oversize"),
        (4, None, "missing_field"),
        (5, "w", "malformed_record"),
    ]
    assert dead[2]["size"] == 1000  # an oversize payload is kept as a preview
    [status] = project.stream_status()
    assert (status.lag, status.dead_lettered, status.offsets) == (0, 5, {"0": 6})
    letters = topic_headers(kafka_bootstrap, dead_topic, 5)
    assert [h["assay.rule"] for h in letters] == [
        b"malformed_record",
        b"cast",
        b"oversize",
        b"missing_field",
        b"malformed_record",
    ]
    assert letters[1]["assay.offset"] == b"2" and b"seven" in letters[1]["assay.reason"]
    # Offsets were acknowledged to the group after the Delta commit.
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {"bootstrap.servers": kafka_bootstrap, "group.id": "assay-project-bronze.events"}
    )
    [committed] = consumer.committed([TopicPartition(topic, 0)], timeout=10)
    consumer.close()
    assert committed.offset == 7


@pytest.mark.parametrize(
    ("fault", "stored", "published_in_all"),
    [("stream_dead_letters_published:1", 0, 4), ("stream_after_dead_letters:1", 2, 2)],
)
def test_dead_letters_are_published_then_stored_then_the_rows_committed(
    fault: str,
    stored: int,
    published_in_all: int,
    make_project: MakeProject,
    kafka_bootstrap: str,
    kafka_topic: KafkaTopic,
) -> None:
    """Killed between the steps (see streaming/runner.py): the topic already has the two
    dead letters, the dead-letter table has them only after the publish, the stream's
    table has nothing yet. The restart stores each once; the topic gets them again only
    if the table did not hold them (at least once there)."""
    topic, dead_topic = kafka_topic(partitions=1), kafka_topic(partitions=1)
    produce(kafka_bootstrap, topic, [(b"1", event(1)), (b"x", b"{not json"), (b"y", b"[1]")])
    root = poison_project(make_project, topic, kafka_bootstrap, dead_topic)
    command = [sys.executable, "-m", "assay.cli.main", "stream", "bronze.events"]
    crashed = subprocess.run(
        [*command, "--until-idle", "--project", str(root)],
        env={**os.environ, "ASSAY_FAULT": fault},
        capture_output=True,
        timeout=300,
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr.decode()[-3000:]

    project = assay.Project(root)
    assert len(topic_headers(kafka_bootstrap, dead_topic, 2)) == 2
    dead = "deadletter.bronze_events"
    assert (project.table(dead).num_rows if project.warehouse.exists(dead) else 0) == stored
    assert not project.warehouse.exists("bronze.events")
    stats = project.stream("bronze.events", until_idle=True)
    assert (stats.written, stats.dead_lettered) == (1, 2)
    rules = project.sql(f"SELECT _offset, rule FROM {dead} ORDER BY 1").to_pylist()
    assert rules == [
        {"_offset": 1, "rule": "malformed_record"},
        {"_offset": 2, "rule": "malformed_record"},
    ]
    assert project.sql("SELECT event_id FROM bronze.events").to_pylist() == [{"event_id": 1}]
    assert len(topic_headers(kafka_bootstrap, dead_topic, published_in_all)) == published_in_all


def test_two_consumers_of_one_group_process_every_event_once(
    make_project: MakeProject, kafka_bootstrap: str, kafka_topic: KafkaTopic
) -> None:
    topic = kafka_topic(partitions=4)
    root = make_project(
        project_files(
            topic,
            kafka_bootstrap,
            max_rows=2000,
            windows="[]",
            consumer={"session.timeout.ms": 6000},
        )
    )
    project = assay.Project(root)
    produced = 0
    stop = threading.Event()

    def writers() -> set[int]:
        if not project.warehouse.exists("bronze.events"):
            return set()
        return {
            c.metadata["stream"]["pid"]
            for c in project.warehouse.history("bronze.events")
            if isinstance(c.metadata.get("stream"), dict)
        }

    def trickle() -> None:  # a live stream, in bursts, until both consumers have written
        nonlocal produced
        while not stop.is_set():
            ids = range(produced, produced + 3000)
            produce(kafka_bootstrap, topic, [(str(i).encode(), event(i)) for i in ids])
            produced += len(ids)
            time.sleep(0.3)

    producer = threading.Thread(target=trickle)
    producer.start()
    consumers = [stream_process(root)]
    time.sleep(3)
    consumers.append(stream_process(root))  # joins the group: partitions are rebalanced
    deadline = time.monotonic() + 180
    while len(writers()) < 2 and time.monotonic() < deadline:
        time.sleep(1)
    stop.set()
    producer.join()
    total = produced
    while time.monotonic() < deadline:
        n = project.sql("SELECT count(*) AS n FROM bronze.events")["n"][0].as_py()
        if n >= total:
            break
        time.sleep(1)
    for proc in consumers:
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:]  # type: ignore[union-attr]
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    counts = project.sql(
        "SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM bronze.events"
    ).to_pylist()[0]
    assert counts == {"n": total, "ids": total}
    partitions = project.sql("SELECT count(DISTINCT _partition) AS p FROM bronze.events")
    assert partitions["p"][0].as_py() == 4
    assert len(writers()) == 2  # both consumers committed batches


AVRO_SCHEMA = {
    "type": "record",
    "name": "Event",
    "fields": [
        {"name": "event_id", "type": "long"},
        {"name": "card_id", "type": "long"},
        {"name": "amount", "type": ["null", "double"], "default": None},
        {"name": "event_time", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    ],
}


@pytest.mark.parametrize("confluent", [False, True], ids=["plain", "confluent-framed"])
def test_avro_with_a_schema_held_in_the_project(
    make_project: MakeProject, kafka_bootstrap: str, kafka_topic: KafkaTopic, confluent: bool
) -> None:
    import io

    import fastavro

    parsed = fastavro.parse_schema(AVRO_SCHEMA)

    def encode(record: dict[str, Any]) -> bytes:
        out = io.BytesIO()
        fastavro.schemaless_writer(out, parsed, record)
        header = b"\x00\x00\x00\x00\x07" if confluent else b""
        return header + out.getvalue()

    topic = kafka_topic(partitions=1)
    at = datetime(2026, 3, 1, 12, 30)
    records = [
        (b"1", encode({"event_id": 1, "card_id": 7, "amount": 2.5, "event_time": at})),
        (b"2", encode({"event_id": 2, "card_id": 7, "amount": None, "event_time": at})),
        (b"3", b"\x02not avro at all"),
    ]
    produce(kafka_bootstrap, topic, records)
    files = project_files(topic, kafka_bootstrap, windows="[]")
    pipeline = (
        files["pipelines/events.py"]
        .replace(
            'timestamp="event_time",',
            f'timestamp="event_time", format="avro", avro_schema="schemas/event.avsc", '
            f"avro_confluent={confluent},",
        )
        .replace('"amount": "BIGINT"', '"amount": "DOUBLE"')
    )
    root = make_project(
        {"pipelines/events.py": pipeline, "schemas/event.avsc": json.dumps(AVRO_SCHEMA)}
    )
    project = assay.Project(root)
    stats = project.stream("bronze.events", until_idle=True)
    assert (stats.rows_in, stats.written, stats.dead_lettered) == (3, 2, 1)
    rows = project.sql("SELECT event_id, card_id, amount, event_time FROM bronze.events ORDER BY 1")
    assert rows.to_pylist() == [
        {"event_id": 1, "card_id": 7, "amount": 2.5, "event_time": at},
        {"event_id": 2, "card_id": 7, "amount": None, "event_time": at},
    ]
    [dead] = project.sql("SELECT _offset, rule, reason FROM deadletter.bronze_events").to_pylist()
    assert dead["_offset"] == 2 and dead["rule"] == "malformed_record"
    assert "not Avro of the declared schema" in dead["reason"]


def test_an_avro_stream_without_its_schema_file_says_which(
    make_project: MakeProject, kafka_bootstrap: str
) -> None:
    pipeline = project_files("t", kafka_bootstrap, windows="[]")["pipelines/events.py"].replace(
        'timestamp="event_time",', 'timestamp="event_time", format="avro", avro_schema="x.avsc",'
    )
    project = assay.Project(make_project({"pipelines/events.py": pipeline}))
    with pytest.raises(assay.AssayError, match=r"Avro schema x\.avsc not found"):
        project.stream("bronze.events", max_batches=1)


def test_a_new_table_under_an_old_group_reads_the_topic_from_the_start(
    make_project: MakeProject, kafka_bootstrap: str, kafka_topic: KafkaTopic
) -> None:
    topic = kafka_topic(partitions=2)
    produce(kafka_bootstrap, topic, [(str(i).encode(), event(i)) for i in range(100)])
    files = project_files(topic, kafka_bootstrap, windows="[]")
    first = assay.Project(make_project(files, name="one"))
    assert first.stream("bronze.events", until_idle=True).written == 100
    # Same project name (so the same consumer group, whose offsets are at the end), but
    # the warehouse is new: the table says nothing was read, so everything is read.
    again = assay.Project(make_project(files, {"name": "one"}, name="two"))
    assert again.stream("bronze.events", until_idle=True).written == 100
