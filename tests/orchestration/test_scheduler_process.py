"""`assay schedule` as a real process: kill -9 at any point and restart never skips nor
doubles a scheduled interval; SIGTERM finishes the current run and exits 0; streams are
kept running (restarted when they die) and stopped with the scheduler."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

import assay
from assay.intervals import utcnow
from tests.conftest import KafkaTopic, MakeProject
from tests.helpers import base_env
from tests.orchestration.sched_helpers import (
    events,
    interval_rows,
    scheduled_files,
    set_baseline,
    tick_rows,
    write_events,
)

ASSAY = Path(sys.executable).parent / "assay"


def _schedule(
    root: Path, *args: str, fault: str | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    env = base_env() | ({"ASSAY_FAULT": fault} if fault else {})
    return subprocess.run(
        [str(ASSAY), "schedule", "--project", str(root), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _start(root: Path, log: Path, *args: str) -> subprocess.Popen[bytes]:
    out = open(log, "wb")  # noqa: SIM115 - the child writes it; closed when the test ends
    return subprocess.Popen(
        [str(ASSAY), "schedule", "--project", str(root), *args],
        env=base_env(),
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def _wait_for(predicate, timeout: float = 60, what: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


# -- crash safety -------------------------------------------------------------------------

FAULTS = [
    "scheduler.after_claim:1",  # claimed, nothing run
    "scheduler.after_claim:2",  # one tick done, the second claimed
    "after_commit:2",  # silver's first interval committed to Delta, not yet in the catalog
    "after_catalog:3",  # silver's second interval recorded, its tick not marked done
    "scheduler.after_run:2",  # second tick run, not marked done
    "scheduler.after_done:3",  # third tick done, gold not run yet
]


@pytest.mark.parametrize("fault", FAULTS)
def test_kill_9_and_restart_runs_every_tick_interval_exactly_once(
    make_project: MakeProject, fault: str
) -> None:
    hour = utcnow().replace(minute=0, second=0, microsecond=0)
    root = make_project(scheduled_files(silver="@hourly"))
    source = events(hour - timedelta(hours=4), 5)
    write_events(root, "a.jsonl", source)
    set_baseline(assay.Project(root), "silver.events", hour - timedelta(hours=3))

    killed = _schedule(root, "--once", fault=fault)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    again = _schedule(root, "--once")
    assert again.returncode == 0, again.stdout + again.stderr

    ticks = tick_rows(root, "silver.events")
    assert ticks[0] == (hour - timedelta(hours=3), "baseline")
    assert len(ticks) >= 4 and {s for _, s in ticks[1:]} == {"done"}, ticks
    windows = [(t - timedelta(hours=1), t) for t, _ in ticks[1:]]
    # The ledger holds each tick's interval once, and nothing else.
    assert [datetime.fromisoformat(s) for s, _ in interval_rows(root, "silver.events")] == [
        start for start, _ in windows
    ]
    # Each interval was written by exactly one Delta commit.
    project = assay.Project(root)
    written = Counter(
        key for c in project.history("silver.events") for key in c.metadata.get("intervals", [])
    )
    assert len(written) == len(windows) and set(written.values()) == {1}, written
    # Rows: exactly the source rows inside the ticks' intervals, none twice.
    expected = sorted(
        r["event_id"]
        for r in source
        if any(s <= datetime.fromisoformat(r["event_time"]) < e for s, e in windows)
    )
    silver = sorted(r["event_id"] for r in project.table("silver.events").to_pylist())
    assert silver == expected
    gold = project.table("gold.user_totals").to_pandas().set_index("user_id").sort_index()
    oracle = (
        pd.DataFrame([r for r in source if r["event_id"] in set(expected)])
        .groupby("user_id")
        .agg(events=("event_id", "count"), amount=("amount", "sum"))
    )
    assert gold["events"].tolist() == oracle["events"].tolist()
    assert gold["amount"].tolist() == pytest.approx(oracle["amount"].tolist())


# -- graceful stop ------------------------------------------------------------------------

SLOW = """
import time
from pathlib import Path

import assay

@assay.transform("silver.slow", inputs=["bronze.events"], schedule="on_upstream")
def slow(ctx, events):
    Path(ctx.project_root, "started").write_text("x")
    time.sleep(3)
    return events
"""


def test_sigterm_finishes_the_current_run_and_exits_0(
    make_project: MakeProject, tmp_path: Path
) -> None:
    root = make_project({**scheduled_files(), "pipelines/slow.py": SLOW})
    write_events(root, "a.jsonl", events(datetime(2026, 1, 2), 2))
    log = tmp_path / "schedule.log"
    proc = _start(root, log, "--tick", "0.5")
    try:
        _wait_for(lambda: (root / "started").exists(), what="the slow run to start")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert "received SIGTERM" in text and "scheduler stopped" in text, text
    project = assay.Project(root)
    assert project.table("silver.slow").num_rows == 6  # the run in flight was finished
    assert project.catalog.last_dataset_runs()["silver.slow"].status == "success"


# -- streams ------------------------------------------------------------------------------

STREAM = """
import assay

events = assay.folder_stream(
    "bronze.clicks", path="incoming/*.jsonl", timestamp="event_time",
    columns={"click_id": "BIGINT", "page": "VARCHAR"}, max_batch_seconds=0.2,
)
"""


def _clicks(root: Path, name: str, ids: range) -> None:
    folder = root / "incoming"
    folder.mkdir(exist_ok=True)
    rows = [
        {"click_id": i, "page": f"p{i % 3}", "event_time": f"2026-01-02T00:{i % 60:02d}:00"}
        for i in ids
    ]
    (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows))


def _rows(root: Path) -> int:
    project = assay.Project(root)
    return project.row_count("bronze.clicks") if project.warehouse.exists("bronze.clicks") else 0


def test_streams_are_kept_running_and_stopped_with_the_scheduler(
    make_project: MakeProject, tmp_path: Path
) -> None:
    root = make_project({"pipelines/stream.py": STREAM})
    _clicks(root, "a.jsonl", range(10))
    log = tmp_path / "schedule.log"
    proc = _start(root, log, "--tick", "0.3")
    try:
        _wait_for(lambda: _rows(root) == 10, what="the stream's first rows")
        first = int(re.findall(r"stream bronze.clicks started \(pid (\d+)", log.read_text())[0])
        os.kill(first, signal.SIGKILL)  # the stream dies: the scheduler restarts it
        _wait_for(
            lambda: len(re.findall(r"stream bronze.clicks started", log.read_text())) == 2,
            what="the restart",
        )
        assert "exited with code -9" in log.read_text()
        _clicks(root, "b.jsonl", range(10, 25))
        _wait_for(lambda: _rows(root) == 25, what="rows through the restarted stream")
        second = int(re.findall(r"stream bronze.clicks started \(pid (\d+)", log.read_text())[1])
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "stream bronze.clicks stopped" in log.read_text()
    with pytest.raises(ProcessLookupError):
        os.kill(second, 0)  # stopped (and reaped) with the scheduler
    ids = sorted(r["click_id"] for r in assay.Project(root).table("bronze.clicks").to_pylist())
    assert ids == list(range(25))  # exactly once across the kill


def test_catch_up_after_downtime_in_a_real_process(make_project: MakeProject) -> None:
    hour = utcnow().replace(minute=0, second=0, microsecond=0)
    root = make_project(scheduled_files(silver="@hourly", catchup=3))
    write_events(root, "a.jsonl", events(hour - timedelta(hours=6), 6))
    set_baseline(assay.Project(root), "silver.events", hour - timedelta(hours=5))

    done = _schedule(root, "--once")

    assert done.returncode == 0, done.stdout + done.stderr
    ticks = tick_rows(root, "silver.events")
    statuses = [s for _, s in ticks]
    assert statuses[:3] == ["baseline", "skipped", "skipped"] and statuses[3:] == ["done"] * 3
    skipped = ", ".join(str(t) for t, s in ticks if s == "skipped")
    assert (
        f"silver.events: skipped 2 missed tick(s) older than the catch-up limit of 3: {skipped}"
        in (" ".join(done.stdout.split()))
    )
    hours = [datetime.fromisoformat(s) for s, _ in interval_rows(root, "silver.events")]
    assert hours == [hour - timedelta(hours=h) for h in (3, 2, 1)]


HOLD = """
import sys, time
from pathlib import Path
from assay.lock import project_lock
with project_lock(Path(sys.argv[1]) / ".assay", 0):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_cli_run_holding_the_lock_delays_the_tick_and_nothing_is_lost(
    make_project: MakeProject,
) -> None:
    hour = utcnow().replace(minute=0, second=0, microsecond=0)
    root = make_project(scheduled_files(silver="@hourly"), {"lock_timeout": 0.5})
    write_events(root, "a.jsonl", events(hour - timedelta(hours=3), 3))
    set_baseline(assay.Project(root), "silver.events", hour - timedelta(hours=2))
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(root), "6"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        waited = _schedule(root, "--once")  # waits lock_timeout, then leaves it due
    finally:
        holder.wait(30)
    assert waited.returncode == 0, waited.stdout + waited.stderr
    assert "stays due for the next tick" in " ".join(waited.stdout.split())
    assert not assay.Project(root).warehouse.exists("silver.events")

    again = _schedule(root, "--once")
    assert again.returncode == 0, again.stdout + again.stderr
    ticks = tick_rows(root, "silver.events")
    assert [s for _, s in ticks] == ["baseline"] + ["done"] * (len(ticks) - 1)
    starts = [datetime.fromisoformat(s) for s, _ in interval_rows(root, "silver.events")]
    assert starts == [t - timedelta(hours=1) for t, _ in ticks[1:]]


KAFKA = """
import assay

events = assay.kafka(
    "bronze.kevents", topic="TOPIC", bootstrap_servers="BOOTSTRAP", timestamp="event_time",
    key="event_id", columns={"event_id": "BIGINT", "amount": "BIGINT"}, max_batch_seconds=0.3,
)
"""


def test_a_kafka_stream_is_kept_running_by_the_scheduler(
    make_project: MakeProject, tmp_path: Path, kafka_topic: KafkaTopic, kafka_bootstrap: str
) -> None:
    from confluent_kafka import Producer

    topic = kafka_topic()
    pipeline = KAFKA.replace("TOPIC", topic).replace("BOOTSTRAP", kafka_bootstrap)
    root = make_project({"pipelines/events.py": pipeline})
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True})
    for i in range(40):
        record = {"event_id": i, "amount": i, "event_time": f"2026-01-02T00:00:{i % 60:02d}"}
        producer.produce(topic, json.dumps(record).encode(), key=str(i).encode())
    producer.flush(30)

    def rows() -> int:
        project = assay.Project(root)
        exists = project.warehouse.exists("bronze.kevents")
        return project.row_count("bronze.kevents") if exists else 0

    log = tmp_path / "schedule.log"
    proc = _start(root, log, "--tick", "0.3")
    try:
        _wait_for(lambda: rows() == 40, timeout=120, what="the Kafka stream's rows")
        pid = int(re.findall(r"stream bronze.kevents started \(pid (\d+)", log.read_text())[0])
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(90) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "stream bronze.kevents stopped" in log.read_text()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert rows() == 40
