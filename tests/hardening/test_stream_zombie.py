"""Hardening: a consumer-group member paused (SIGSTOP) right after one of its commits, for
longer than its session, while the other member takes its partitions, then resumed
(SIGCONT) with its in-flight batch: every event is still stored exactly once, and the
table's recorded offsets never move backwards. Several pauses, at different moments."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import assay
from tests.conftest import KafkaTopic, MakeProject
from tests.streaming.test_kafka_stream import event, produce, project_files, stream_process

PAUSES = 3
#: Longer than the session timeout below, so the group gives the partitions away.
PAUSE_SECONDS = 9.0


def latest_commit(log: Path) -> tuple[int, int | None]:
    """The newest Delta log version and the pid of the stream process that wrote it."""
    import json

    versions = sorted(int(p.stem) for p in log.glob("*.json") if p.stem.isdigit())
    if not versions:
        return -1, None
    try:
        lines = (log / f"{versions[-1]:020d}.json").read_text().splitlines()
    except FileNotFoundError:
        return versions[-1], None
    for line in lines:
        info = json.loads(line).get("commitInfo")
        if info and "assay.stream" in info:
            return versions[-1], json.loads(info["assay.stream"]).get("pid")
    return versions[-1], None


def test_a_member_paused_past_its_session_and_resumed_writes_nothing_twice(
    make_project: MakeProject, kafka_bootstrap: str, kafka_topic: KafkaTopic
) -> None:
    topic = kafka_topic(partitions=4)
    consumer = {
        "group.id": f"zombie-{topic}",  # its own group, whatever else runs on the broker
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 1000,
    }
    root = make_project(
        project_files(topic, kafka_bootstrap, max_rows=500, windows="[]", consumer=consumer)
    )
    project = assay.Project(root)
    log = Path(project.warehouse.uri("bronze.events")) / "_delta_log"
    produced = 0
    stop = threading.Event()

    def trickle() -> None:  # a live stream, so both members always have batches in flight
        nonlocal produced
        while not stop.is_set():
            ids = range(produced, produced + 500)
            produce(kafka_bootstrap, topic, [(str(i).encode(), event(i)) for i in ids])
            produced += len(ids)
            time.sleep(0.25)

    producer = threading.Thread(target=trickle)
    producer.start()
    members = [stream_process(root), stream_process(root)]
    try:
        for pause in range(PAUSES):
            victim = members[pause % 2]
            # Wait for a commit by the victim, then stop it at once: it holds the next
            # batch (or is reading it) when it resumes.
            deadline = time.monotonic() + 120
            seen, _ = latest_commit(log)
            while time.monotonic() < deadline:
                version, pid = latest_commit(log)
                if version > seen and pid == victim.pid:
                    break
                seen = max(seen, version)
                time.sleep(0.01)
            else:
                raise AssertionError(f"member {victim.pid} committed nothing for 120 s")
            os.kill(victim.pid, signal.SIGSTOP)
            time.sleep(PAUSE_SECONDS)
            os.kill(victim.pid, signal.SIGCONT)
            time.sleep(3.0)  # let it act on what it held
    finally:
        stop.set()
        producer.join()
    total = produced
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if project.sql("SELECT count(DISTINCT event_id) AS n FROM bronze.events")["n"][0] == total:
            break
        time.sleep(1)
    for proc in members:
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:]  # type: ignore[union-attr]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0, proc.stderr.read().decode()[-3000:]  # type: ignore[union-attr]
    counts = project.sql(
        "SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM bronze.events"
    ).to_pylist()[0]
    assert counts == {"n": total, "ids": total}
    # Per partition, the recorded offset never went down from one version to the next.
    wh = project.warehouse
    last = wh.version("bronze.events")
    assert last is not None
    for partition in range(4):
        app = f"kafka:{topic}:{partition}"
        trail = [wh.transaction_version("bronze.events", app, v) for v in range(last + 1)]
        values = [v for v in trail if v is not None]
        assert values == sorted(values), (partition, values)
