"""`dedupe_within=`: producer re-sends (a key already stored with an event time within the
duration) are dropped and counted, across batches and restarts, on a folder stream and on
a real Kafka broker; distinct events and re-sends from further away are kept; rows in =
written + dead-lettered + duplicates dropped."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import assay
from assay.cli.main import app
from assay.errors import DefinitionError
from assay.streaming.runner import StreamStats
from tests.conftest import KafkaTopic, MakeProject
from tests.streaming.test_kafka_stream import produce

T0 = datetime(2026, 3, 1, 12)

FOLDER = """
import assay

events = assay.folder_stream(
    "bronze.events", path="incoming/*.jsonl", timestamp="event_time", key="event_id",
    columns={"event_id": "BIGINT", "amount": "DOUBLE"}, max_batch_rows=MAX_ROWS,
    max_batch_seconds=0.2, dedupe_within="10m",
)
"""

KAFKA = """
import assay

events = assay.kafka(
    "bronze.events", topic="TOPIC", bootstrap_servers="BOOTSTRAP", timestamp="event_time",
    key="event_id", columns={"event_id": "BIGINT", "amount": "DOUBLE"},
    max_batch_rows=4, max_batch_seconds=0.5, dedupe_within="10m",
)
"""


def event(i: int, minutes: float, amount: float = 1.0) -> dict[str, Any]:
    return {
        "event_id": i,
        "amount": amount,
        "event_time": (T0 + timedelta(minutes=minutes)).isoformat(),
    }


#: (event, minutes): what a producer sent, re-sends included, in order.
SENT = [
    (1, 0), (2, 1), (3, 2), (2, 1),  # 2 re-sent at once: dropped
    (4, 3), (3, 2), (5, 4),  # 3 re-sent a batch or more later: dropped
    (4, 13),  # 4 again, exactly 10 minutes on: within, dropped
    (1, 30),  # 1 again, 30 minutes on: a new event, kept
    (6, 40), (6, 45), (6, 52),  # 45 is a re-send of 40; 52 is 12 minutes after the kept 40
]  # fmt: skip
KEPT = [(1, 0), (1, 30), (2, 1), (3, 2), (4, 3), (5, 4), (6, 40), (6, 52)]


def write(root: Path, name: str, rows: list[dict[str, Any]]) -> None:
    folder = root / "incoming"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows))


def stored(project: assay.Project) -> list[tuple[int, int]]:
    rows = project.sql("SELECT event_id, event_time FROM bronze.events ORDER BY 1, 2").to_pylist()
    return [(r["event_id"], round((r["event_time"] - T0).total_seconds() / 60)) for r in rows]


def balanced(stats: StreamStats) -> None:
    assert stats.rows_in == stats.written + stats.dead_lettered + stats.duplicates


@pytest.mark.parametrize("batch_rows", [1, 3, 1000])
def test_folder_re_sends_are_dropped_whatever_the_batching(
    make_project: MakeProject, batch_rows: int
) -> None:
    root = make_project({"pipelines/events.py": FOLDER.replace("MAX_ROWS", str(batch_rows))})
    write(root, "a.jsonl", [event(i, m) for i, m in SENT] + [{"event_id": 9}])  # no time
    project = assay.Project(root)
    stats = project.stream("bronze.events", until_idle=True)
    assert (stats.rows_in, stats.written, stats.dead_lettered, stats.duplicates) == (
        13,
        8,
        1,
        4,
    )
    balanced(stats)
    assert stored(project) == KEPT
    # The table's commits say so too: rows in = written + dead-lettered + duplicates.
    meta = [
        c.metadata["stream"]
        for c in project.warehouse.history("bronze.events")
        if "stream" in c.metadata
    ]
    assert sum(m["rows_in"] for m in meta) == 13
    assert sum(m["duplicates"] for m in meta) == 4
    assert all(m["rows_in"] == m["written"] + m["dead_lettered"] + m["duplicates"] for m in meta)


def test_state_survives_a_restart_and_status_counts_every_run(make_project: MakeProject) -> None:
    root = make_project({"pipelines/events.py": FOLDER.replace("MAX_ROWS", "3")})
    write(root, "a.jsonl", [event(i, m) for i, m in SENT])
    first = assay.Project(root).stream("bronze.events", until_idle=True)
    assert first.duplicates == 4
    # A new process: the re-sends of a later file are known from the table alone.
    write(root, "b.jsonl", [event(5, 4), event(6, 50), event(7, 60), event(5, 20)])
    project = assay.Project(root)
    second = project.stream("bronze.events", until_idle=True)
    assert (second.rows_in, second.written, second.duplicates) == (4, 2, 2)
    assert stored(project) == sorted([*KEPT, (7, 60), (5, 20)])
    [status] = project.stream_status()
    assert status.duplicates == 6
    shown = CliRunner().invoke(app, ["status", "--project", str(root)], env={"COLUMNS": "240"})
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    header = next(line for line in lines if "duplicates dropped" in line)
    row = next(line for line in lines if line.startswith("│ bronze.events │ folder"))
    columns = [c.strip() for c in header.split("┃")]
    assert row.split("│")[columns.index("duplicates dropped")].strip() == "6"


def test_dedupe_keys_choose_the_columns(make_project: MakeProject) -> None:
    """Like Spark's dropDuplicatesWithinWatermark(["device", "seq"]): the key columns."""
    pipeline = FOLDER.replace("MAX_ROWS", "100").replace(
        'dedupe_within="10m"', 'dedupe_within="10m", dedupe_keys=["device", "seq"]'
    )
    root = make_project({"pipelines/events.py": pipeline})
    rows = [
        {**event(1, 0), "device": "a", "seq": 1},
        {**event(2, 1), "device": "a", "seq": 1},  # another id, same device and seq: dropped
        {**event(3, 1), "device": "b", "seq": 1},
        {**event(4, 2), "device": None, "seq": 2},
        {**event(5, 3), "device": None, "seq": 2},  # a null key matches a null key
    ]
    write(root, "a.jsonl", rows)
    project = assay.Project(root)
    assert project.stream("bronze.events", until_idle=True).duplicates == 2
    assert [r for r, _ in stored(project)] == [1, 3, 4]


@pytest.mark.parametrize(
    ("options", "said"),
    [
        ({"dedupe_within": "10m", "key": None}, "dedupe_within needs the columns"),
        ({"dedupe_within": "soon"}, "invalid dedupe_within 'soon'"),
        ({"dedupe_within": "0"}, "invalid dedupe_within '0'"),
        ({"dedupe_keys": ["event_id"]}, "dedupe_keys without dedupe_within"),
        ({"dedupe_within": "1m", "dedupe_keys": "event_id"}, "dedupe_keys='event_id' is a"),
    ],
)
def test_bad_declarations_say_what_to_write(options: dict[str, Any], said: str) -> None:
    args: dict[str, Any] = {"path": "in/*.jsonl", "timestamp": "t", "key": "id", **options}
    with pytest.raises(DefinitionError, match=said) as refused:
        assay.folder_stream("bronze.x", **args)
    assert refused.value.hint


def test_kafka_re_sends_are_dropped_across_restarts(
    make_project: MakeProject, kafka_bootstrap: str, kafka_topic: KafkaTopic
) -> None:
    topic = kafka_topic(partitions=2)
    root = make_project(
        {"pipelines/events.py": KAFKA.replace("TOPIC", topic).replace("BOOTSTRAP", kafka_bootstrap)}
    )

    def send(events: list[tuple[int, float]]) -> None:
        # Keyed, as producers send: a key's re-sends land on its partition.
        produce(
            kafka_bootstrap,
            topic,
            [(str(i).encode(), json.dumps(event(i, m)).encode()) for i, m in events],
        )

    send(SENT)
    project = assay.Project(root)
    first = project.stream("bronze.events", until_idle=True)
    balanced(first)
    assert (first.rows_in, first.written, first.duplicates) == (12, 8, 4)
    assert stored(project) == KEPT
    send([(2, 1), (6, 52), (8, 70), (3, 25)])  # two re-sends, two new
    again = assay.Project(root)
    second = again.stream("bronze.events", until_idle=True)
    assert (second.rows_in, second.written, second.duplicates) == (4, 2, 2)
    assert stored(again) == sorted([*KEPT, (8, 70), (3, 25)])
    [status] = again.stream_status()
    assert status.duplicates == 6 and status.lag == 0
