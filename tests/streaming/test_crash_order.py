"""The order of a micro-batch's steps, tested by killing `assay stream` (SIGKILL) at the
fault points between them (see streaming/runner.py): what the crash left shows the order,
and a restart ends with exactly what an uninterrupted stream leaves."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import assay
from tests.conftest import MakeProject
from tests.helpers import base_env
from tests.streaming.test_folder_stream import PIPELINE, T0
from tests.streaming.test_folder_stream import event as folder_event


def event(i: int, minutes: float, card: int = 1, amount: float = 1.0) -> str:
    return json.dumps(folder_event(i, minutes, card, amount))


#: One batch: card 1's [0, 10m) window closes (watermark 12m - 2m), one poison line.
LINES = [event(1, 1), event(2, 5, amount=2.0), "{not json", event(3, 12, card=2)]


@pytest.fixture
def root(make_project: MakeProject) -> Path:
    root = make_project({"pipelines/events.py": PIPELINE.replace("MAX_ROWS", "1000")})
    (root / "incoming").mkdir()
    (root / "incoming" / "a.jsonl").write_text("\n".join(LINES) + "\n")
    return root


def stream_killed_at(root: Path, fault: str) -> None:
    """`assay stream` in a fresh interpreter, killed at `fault`."""
    code = f"import assay; assay.Project({str(root)!r}).stream('bronze.events', until_idle=True)"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**base_env(), "ASSAY_FAULT": fault},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr


def rows(project: assay.Project, table: str) -> int:
    return project.table(table).num_rows if project.warehouse.exists(table) else 0


def served(project: assay.Project) -> dict[str, Any]:
    at = T0 + timedelta(minutes=11)
    vector = project.features.online([{"card_id": 1}], ["card_10m:count"], as_of=at)
    return vector[0]["count"]


def end_state(project: assay.Project) -> dict[str, Any]:
    window = "SELECT card_id, window_start, count, amount_sum FROM silver.card_10m ORDER BY ALL"
    dead = "SELECT _partition, _offset, rule FROM deadletter.bronze_events ORDER BY ALL"
    return {
        "rows": project.sql("SELECT event_id FROM bronze.events ORDER BY 1").to_pylist(),
        "dead": project.sql(dead).to_pylist(),
        "windows": project.sql(window).to_pylist(),
        "online": served(project),
    }


EXPECTED = {
    "rows": [{"event_id": 1}, {"event_id": 2}, {"event_id": 3}],
    "dead": [{"_partition": "incoming/a.jsonl", "_offset": 3, "rule": "malformed_record"}],
    "windows": [{"card_id": 1, "window_start": T0, "count": 2, "amount_sum": 3.0}],
    "online": {"value": 2, "event_timestamp": T0 + timedelta(minutes=10), "status": "present"},
}


def test_uninterrupted_stream(root: Path) -> None:
    project = assay.Project(root)
    project.stream("bronze.events", until_idle=True)
    assert end_state(project) == EXPECTED


def test_dead_letters_are_committed_before_the_rows_and_not_repeated(root: Path) -> None:
    stream_killed_at(root, "stream_after_dead_letters:1")

    project = assay.Project(root)
    assert rows(project, "deadletter.bronze_events") == 1
    assert rows(project, "bronze.events") == 0  # the batch is replayed on restart
    project.stream("bronze.events", until_idle=True)
    assert end_state(project) == EXPECTED  # its dead letter once, not twice


def test_a_crash_after_the_rows_commit_catches_the_windows_up(root: Path) -> None:
    stream_killed_at(root, "stream_after_commit:1")

    project = assay.Project(root)
    assert rows(project, "bronze.events") == 3
    assert rows(project, "silver.card_10m") == 0
    assert served(project)["status"] == "missing"
    stats = project.stream("bronze.events", until_idle=True)
    assert stats.rows_in == 0  # nothing re-read: the windows caught up from the table
    assert end_state(project) == EXPECTED


def test_windows_are_served_online_before_their_commit_and_both_survive_a_crash(
    root: Path,
) -> None:
    stream_killed_at(root, "window_after_online:1")

    project = assay.Project(root)
    # Served, not yet committed: the restart folds the stream version in again.
    assert served(project) == EXPECTED["online"]
    assert rows(project, "silver.card_10m") == 0
    project.stream("bronze.events", until_idle=True)
    assert end_state(project) == EXPECTED
