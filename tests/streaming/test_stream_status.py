"""What `assay status` and `assay plan` say about a folder stream: its lag in lines, the
files it read most recently, late events counted once however many windows they miss,
and a plan that says the stream is left to `assay stream`."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import assay
from tests.conftest import MakeProject

T0 = datetime(2026, 3, 1, 12)
PIPELINE = """
import assay
from assay import Aggregation

events = assay.folder_stream(
    "bronze.events", path="incoming/*.jsonl", timestamp="event_time", key="event_id",
    columns={"event_id": "BIGINT", "card_id": "BIGINT"}, max_batch_seconds=0.2,
    windows=[assay.window("silver.card_10m", keys=["card_id"],
                          window=assay.hopping("10m", every="5m"),
                          aggregations=[Aggregation(function="count")])],
)
"""


def event(i: int, minutes: float) -> dict[str, Any]:
    return {
        "event_id": i,
        "card_id": 1,
        "event_time": (T0 + timedelta(minutes=minutes)).isoformat(),
    }


def write(root: Path, name: str, events: list[dict[str, Any]]) -> None:
    (root / "incoming").mkdir(exist_ok=True)
    (root / "incoming" / name).write_text("".join(json.dumps(e) + "\n" for e in events))


def test_status_shows_folder_lag_newest_files_and_late_events(make_project: MakeProject) -> None:
    root = make_project({"pipelines/events.py": PIPELINE})
    project = assay.Project(root)
    [work] = [w for w in project.plan() if w.dataset == "bronze.events"]
    assert work.reasons == ["a stream: `assay run` leaves it to `assay stream`"]
    for n in range(6):  # six files, in arrival order
        write(root, f"{n}.jsonl", [event(n, 10 * n)])
    project.stream("bronze.events", until_idle=True)
    # Watermark 50m: an event at 31m is late for both hopping windows that hold it.
    write(root, "6.jsonl", [event(6, 31)])
    project.stream("bronze.events", until_idle=True)
    assert project.sql("SELECT count(*) AS n FROM late.silver_card_10m")["n"][0].as_py() == 2
    write(root, "7.jsonl", [event(7, 60), event(8, 61)])  # not streamed yet
    [status] = project.stream_status()
    assert status.late == 1  # one event, late for two windows
    assert status.lag == 2 and status.files == 7
    # The files read most recently (the last one first), not the oldest.
    assert next(iter(status.offsets)) == "incoming/6.jsonl" and len(status.offsets) == 4
