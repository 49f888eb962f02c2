"""Folder streams end to end: exactly once into Delta across restarts and replays, dead
letters for poison records, windows and late rows, online freshness, and downstream SQL."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from typer.testing import CliRunner

import assay
from assay.cli.main import app
from assay.streaming.readers import records_table
from assay.streaming.runner import StreamRunner
from tests.conftest import MakeProject

T0 = datetime(2026, 3, 1, 12)

PIPELINE = """
import assay
from assay import Aggregation, Entity

card = Entity("card", join_keys=["card_id"])
events = assay.folder_stream(
    "bronze.events", path="incoming/*.jsonl", timestamp="event_time", key="event_id",
    columns={"event_id": "BIGINT", "card_id": "BIGINT", "amount": "DOUBLE"},
    max_batch_rows=MAX_ROWS, max_batch_seconds=0.2,
    windows=[assay.window("silver.card_10m", keys=["card_id"], window=assay.tumbling("10m"),
                          aggregations=[Aggregation(function="count"),
                                        Aggregation("amount", "sum")],
                          allowed_lateness="2m", entity=card)],
)
"""

DOWNSTREAM = """
-- name: gold.card_totals
SELECT card_id, count(*) AS events, sum(amount) AS amount
FROM {{ ref('bronze.events') }} GROUP BY card_id
"""


def event(i: int, minutes: float, card: int = 1, amount: float = 1.0) -> dict[str, Any]:
    at = T0 + timedelta(minutes=minutes)
    return {"event_id": i, "card_id": card, "amount": amount, "event_time": at.isoformat()}


def write(root: Path, name: str, lines: list[Any]) -> None:
    folder = root / "incoming"
    folder.mkdir(exist_ok=True)
    text = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
    (folder / name).write_text(text)


@pytest.fixture
def root(make_project: MakeProject) -> Path:
    return make_project(
        {
            "pipelines/events.py": PIPELINE.replace("MAX_ROWS", "1000"),
            "pipelines/gold.sql": DOWNSTREAM,
        }
    )


def test_every_line_lands_once_and_poison_goes_to_dead_letters(root: Path) -> None:
    write(root, "a.jsonl", [event(i, i) for i in range(50)])
    write(
        root,
        "b.jsonl",
        [
            event(100, 1),
            "{not json",
            "[1, 2]",
            {"event_id": 101, "card_id": 1, "amount": "lots", "event_time": T0.isoformat()},
            {"event_id": 102, "card_id": 1, "amount": 2.0},  # no event time
            {"card_id": 1, "amount": 2.0, "event_time": T0.isoformat()},  # no key
            "",
        ],
    )
    project = assay.Project(root)
    stats = project.stream("bronze.events", until_idle=True)
    # Rows in = written + dead-lettered: the blank line is an empty record.
    assert (stats.rows_in, stats.written, stats.dead_lettered) == (57, 51, 6)
    dead = project.sql("SELECT _partition, _offset, rule FROM deadletter.bronze_events ORDER BY 2")
    assert dead.to_pylist() == [
        {"_partition": "incoming/b.jsonl", "_offset": 2, "rule": "malformed_record"},
        {"_partition": "incoming/b.jsonl", "_offset": 3, "rule": "malformed_record"},
        {"_partition": "incoming/b.jsonl", "_offset": 4, "rule": "cast"},
        {"_partition": "incoming/b.jsonl", "_offset": 5, "rule": "missing_field"},
        {"_partition": "incoming/b.jsonl", "_offset": 6, "rule": "missing_field"},
        {"_partition": "incoming/b.jsonl", "_offset": 7, "rule": "empty_record"},
    ]
    # Again, and after more lines are appended: only the new line arrives.
    assert project.stream("bronze.events", until_idle=True).rows_in == 0
    with (root / "incoming" / "a.jsonl").open("a") as fh:
        fh.write(json.dumps(event(50, 50)) + "\n" + '{"event_id": 51')  # a partial line
    assert project.stream("bronze.events", until_idle=True).written == 1
    ids = project.sql("SELECT event_id FROM bronze.events")["event_id"].to_pylist()
    assert sorted(ids) == [*range(51), 100]
    # Downstream SQL reads the streamed table as any other.
    assert project.run().ok
    assert project.sql("SELECT sum(events) AS n FROM gold.card_totals")["n"][0].as_py() == 52


def test_a_replayed_batch_is_skipped(root: Path) -> None:
    write(root, "a.jsonl", [event(i, i) for i in range(10)])
    project = assay.Project(root)
    project.stream("bronze.events", until_idle=True)
    runner = StreamRunner(project.runtime, project.dag["bronze.events"])
    # The same records again (a consumer that crashed before acknowledging them).
    values = [json.dumps(event(i, i)).encode() for i in range(10)]
    replay = records_table(["incoming/a.jsonl"] * 10, list(range(1, 11)), [None] * 10, values)
    stats = runner.process(replay)
    assert (stats.skipped, stats.written, stats.version) == (10, 0, stats.version)
    assert project.sql("SELECT count(*) AS n FROM bronze.events")["n"][0].as_py() == 10


def test_windows_close_on_the_watermark_and_late_rows_are_kept(root: Path) -> None:
    project = assay.Project(root)
    write(root, "1.jsonl", [event(1, 1), event(2, 5, amount=2.0), event(3, 12, card=2)])
    project.stream("bronze.events", until_idle=True)
    # Watermark 12m - 2m = 10m: the [0, 10m) window of card 1 has closed.
    closed = project.sql("SELECT card_id, window_start, count, amount_sum FROM silver.card_10m")
    assert closed.to_pylist() == [{"card_id": 1, "window_start": T0, "count": 2, "amount_sum": 3.0}]
    write(root, "2.jsonl", [event(4, 3, amount=5.0), event(5, 31, card=2)])
    project.stream("bronze.events", until_idle=True)
    late = project.sql("SELECT event_id, window_start FROM late.silver_card_10m")
    assert late.to_pylist() == [{"event_id": 4, "window_start": T0}]
    windows = project.sql("SELECT card_id, window_start, count FROM silver.card_10m ORDER BY 2")
    assert windows.to_pylist()[-1] == {
        "card_id": 2,
        "window_start": T0 + timedelta(minutes=10),
        "count": 1,
    }
    [status] = project.stream_status()
    assert (status.dead_lettered, status.late) == (0, 1)
    assert status.offsets == {"incoming/1.jsonl": 3, "incoming/2.jsonl": 2}
    assert status.watermark == T0 + timedelta(minutes=29)  # latest event 31m, lateness 2m
    out = CliRunner().invoke(app, ["status", "--project", str(root)])
    assert out.exit_code == 0 and "streams" in out.output and "folder" in out.output
    # The closed windows are served online, stamped with their end.
    served = project.features.online(
        [{"card_id": 2}], ["card_10m:count"], now=T0 + timedelta(minutes=21)
    )
    assert served[0]["count"] == {
        "value": 1,
        "event_timestamp": T0 + timedelta(minutes=20),
        "status": "present",
    }


def test_windows_catch_up_after_a_crash_between_commits(root: Path) -> None:
    project = assay.Project(root)
    write(root, "1.jsonl", [event(1, 1), event(2, 3)])
    project.stream("bronze.events", until_idle=True)
    # A crash right after the stream-table commit: the window never saw these rows.
    runner = StreamRunner(project.runtime, project.dag["bronze.events"])
    runner.operators = []
    values = [json.dumps(event(i, 15 + i)).encode() for i in (3, 4)]
    runner.process(records_table(["incoming/2.jsonl"] * 2, [1, 2], [None] * 2, values))
    assert project.sql("SELECT count(*) AS n FROM silver.card_10m")["n"][0].as_py() == 0
    # The next start folds the missed commit in first.
    StreamRunner(project.runtime, project.dag["bronze.events"]).catch_up_windows()
    rows = project.sql("SELECT window_start, count FROM silver.card_10m").to_pylist()
    assert rows == [{"window_start": T0, "count": 2}]


def test_assay_run_leaves_streams_alone_and_the_cli_streams(root: Path) -> None:
    write(root, "a.jsonl", [event(i, i) for i in range(5)])
    project = assay.Project(root)
    result = project.run()
    assert result.ok and not project.warehouse.exists("bronze.events")
    out = CliRunner().invoke(
        app, ["stream", "bronze.events", "--until-idle", "--project", str(root)]
    )
    assert out.exit_code == 0, out.output
    assert "stream bronze.events" in out.output and "5 written" in out.output
    bad = CliRunner().invoke(app, ["stream", "gold.card_totals", "--project", str(root)])
    assert bad.exit_code != 0 and "not a stream" in bad.output


def test_micro_batches_respect_max_rows(make_project: MakeProject) -> None:
    root = make_project({"pipelines/events.py": PIPELINE.replace("MAX_ROWS", "7")})
    write(root, "a.jsonl", [event(i, i) for i in range(20)])
    batches: list[int] = []
    stats = assay.Project(root).stream(
        "bronze.events", until_idle=True, on_batch=lambda b: batches.append(b.rows_in)
    )
    assert batches == [7, 7, 6] and stats.written == 20
    table = assay.Project(root).warehouse.read("bronze.events")
    assert table.schema.field("event_time").type == pa.timestamp("us")


CONTRACT = """
apiVersion: v3.1.0
kind: DataContract
id: events
name: Events
version: 1.0.0
status: active
schema:
  - name: events
    physicalName: bronze.events
    properties:
      - {name: event_id, logicalType: integer, required: true}
      - name: amount
        logicalType: number
        logicalTypeOptions: {minimum: 0, maximum: 1000}
      - {name: card_id, logicalType: integer}
      - {name: event_time, logicalType: timestamp}
"""


def test_the_bound_contract_is_checked_at_ingress(make_project: MakeProject) -> None:
    root = make_project(
        {
            "pipelines/events.py": PIPELINE.replace("MAX_ROWS", "1000"),
            "contracts/events.yaml": CONTRACT,
        }
    )
    write(root, "a.jsonl", [event(1, 1), event(2, 2, amount=-5.0), event(3, 3, amount=5000.0)])
    project = assay.Project(root)
    stats = project.stream("bronze.events", until_idle=True)
    assert (stats.rows_in, stats.written, stats.dead_lettered) == (3, 1, 2)
    dead = project.sql("SELECT _offset, rule, reason FROM deadletter.bronze_events ORDER BY 1")
    rows = dead.to_pylist()
    assert [r["_offset"] for r in rows] == [2, 3]
    assert all("amount" in r["rule"] for r in rows), rows


HOLD_STREAM_LOCK = """
import sys
from pathlib import Path
from assay.lock import project_lock
with project_lock(Path(sys.argv[1]), 0, "stream-bronze.events.lock"):
    print("locked", flush=True)
    sys.stdin.read()  # hold the lock until the test closes our stdin
"""


def test_one_process_at_a_time_runs_a_folder_stream(root: Path) -> None:
    """The second process is told which process holds the stream and to stop it, not to
    raise lock_timeout (which a stream's lock does not wait for)."""
    import subprocess
    import sys

    from assay.errors import LockedError
    from tests.helpers import base_env

    project = assay.Project(root)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_STREAM_LOCK, str(project.state_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=base_env(),
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(LockedError) as held:
            project.stream("bronze.events", until_idle=True)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    assert held.value.message == (
        f"another `assay stream bronze.events` (pid {holder.pid}) is running on this project"
    )
    assert held.value.hint == (
        f"stop the other `assay stream bronze.events` (pid {holder.pid}), or wait for it"
    )
    # Once the other process is gone, the stream runs.
    write(root, "1.jsonl", [event(1, 1)])
    assert project.stream("bronze.events", until_idle=True).written == 1


def test_drift_never_stops_a_stream(root: Path) -> None:
    project = assay.Project(root)
    write(root, "1.jsonl", [event(1, 1)])
    project.stream("bronze.events", until_idle=True)
    # A batch without a declared column, then one whose amount is not a number.
    no_amount = {k: v for k, v in event(2, 2).items() if k != "amount"}
    write(root, "2.jsonl", [no_amount])
    assert project.stream("bronze.events", until_idle=True).written == 1
    write(root, "3.jsonl", [dict(event(3, 3), amount=True), dict(event(4, 4), extra="new")])
    stats = project.stream("bronze.events", until_idle=True)
    assert (stats.written, stats.dead_lettered) == (1, 1)
    rows = project.sql("SELECT event_id, amount, extra FROM bronze.events ORDER BY 1").to_pylist()
    assert rows == [
        {"event_id": 1, "amount": 1.0, "extra": None},
        {"event_id": 2, "amount": None, "extra": None},
        {"event_id": 4, "amount": 1.0, "extra": "new"},
    ]


def test_event_times_with_offsets_are_stored_in_utc(root: Path) -> None:
    lines = [
        dict(event(1, 0), event_time="2026-03-01T14:00:00+02:00"),
        dict(event(2, 0), event_time="2026-03-01T12:00:00Z"),
        dict(event(3, 0), event_time="2026-03-01T07:00:00-05:00"),
        dict(event(4, 0), event_time="2026-03-01 12:00:00"),
    ]
    write(root, "a.jsonl", lines)
    project = assay.Project(root)
    project.stream("bronze.events", until_idle=True)
    times = project.sql("SELECT DISTINCT event_time FROM bronze.events")["event_time"]
    assert times.to_pylist() == [T0]


def test_records_handed_out_twice_are_written_once(root: Path) -> None:
    project = assay.Project(root)
    runner = StreamRunner(project.runtime, project.dag["bronze.events"])
    values = [json.dumps(event(i, i)).encode() for i in (1, 2, 2)]
    twice = records_table(["p"] * 3, [1, 2, 2], [None] * 3, values)
    stats = runner.process(twice)
    assert (stats.rows_in, stats.written, stats.skipped) == (2, 2, 1)
    # Replaying older offsets never moves the recorded offset back.
    runner.process(records_table(["p"], [1], [None], values[:1]))
    assert project.warehouse.transaction_version("bronze.events", "file:p") == 2


def test_windows_are_not_recounted_after_a_compaction(root: Path) -> None:
    from deltalake import DeltaTable

    project = assay.Project(root)
    write(root, "1.jsonl", [event(1, 1), event(2, 2)])
    project.stream("bronze.events", until_idle=True)
    DeltaTable(project.warehouse.uri("bronze.events")).optimize.compact()
    write(root, "2.jsonl", [event(3, 20)])  # closes the first window
    project.stream("bronze.events", until_idle=True)
    rows = project.sql("SELECT window_start, count FROM silver.card_10m").to_pylist()
    assert rows == [{"window_start": T0, "count": 2}]


def test_windows_need_their_columns_declared(make_project: MakeProject) -> None:
    broken = PIPELINE.replace("MAX_ROWS", "10").replace('"card_id": "BIGINT", ', "")
    root = make_project({"pipelines/events.py": broken})
    with pytest.raises(assay.AssayError, match=r"undeclared column\(s\) card_id"):
        assay.Project(root)


def test_emit_update_serves_open_windows_after_every_batch(make_project: MakeProject) -> None:
    pipeline = PIPELINE.replace("MAX_ROWS", "1000").replace(
        'allowed_lateness="2m", entity=card', 'allowed_lateness="2m", entity=card, emit="update"'
    )
    root = make_project({"pipelines/events.py": pipeline})
    project = assay.Project(root)

    def served(card: int, minutes: float) -> dict[str, Any]:
        at = T0 + timedelta(minutes=minutes)
        return project.features.online([{"card_id": card}], ["card_10m:count"], now=at)[0]["count"]

    write(root, "1.jsonl", [event(1, 1), event(2, 5)])
    project.stream("bronze.events", until_idle=True)
    # No window has closed, yet the open one is served, stamped with its latest event.
    assert served(1, 6) == {
        "value": 2,
        "event_timestamp": T0 + timedelta(minutes=5),
        "status": "present",
    }
    write(root, "2.jsonl", [event(3, 7)])
    project.stream("bronze.events", until_idle=True)
    assert served(1, 8)["value"] == 3
    write(root, "3.jsonl", [event(4, 13, card=2)])  # watermark 11m: card 1's window closes
    project.stream("bronze.events", until_idle=True)
    assert served(1, 14) == {
        "value": 3,
        "event_timestamp": T0 + timedelta(minutes=10),
        "status": "present",
    }
    assert served(2, 14)["value"] == 1
    assert project.sql("SELECT count(*) AS n FROM silver.card_10m")["n"][0].as_py() == 1
