"""What `assay status` shows for a stream, read from its Delta tables (and, for Kafka,
the broker's high watermarks; for a folder, its files): committed offsets, lag,
watermark, rows/s, dead letters and late events."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from assay.pipelines.spec import DatasetSpec
from assay.streaming.readers import OFFSET, PARTITION
from assay.streaming.sources import FolderSource, KafkaSource, StreamSource
from assay.streaming.validate import dead_letter_name
from assay.streaming.windowing import MARKS, late_name, newest_value
from assay.streaming.windows import to_datetime

if TYPE_CHECKING:
    from assay.runtime import Runtime

#: Recent commits the throughput is measured over.
RECENT_COMMITS = 50
#: Folder streams: the files shown (the most recently committed).
SHOWN_FILES = 4


@dataclass
class StreamStatus:
    name: str
    source: str
    #: Per partition (Kafka) or file (a folder, the newest few), the last offset (line)
    #: the table holds.
    offsets: dict[str, int] = field(default_factory=dict)
    #: Records (messages, or lines of the folder's files) not in the table yet.
    lag: int | None = None
    watermark: datetime | None = None
    rows_per_second: float | None = None
    dead_lettered: int = 0
    #: Events that came after their window had closed (once, whatever the windows).
    late: int = 0
    last_commit: datetime | None = None
    #: Folder streams: files the table holds lines of.
    files: int | None = None
    #: Records dropped as re-sends of a stored key (`dedupe_within`), in total; None when
    #: the stream does not deduplicate.
    duplicates: int | None = None


def stream_status(runtime: Runtime, spec: DatasetSpec) -> StreamStatus:
    """The status of one streaming dataset."""
    source = spec.producer
    assert isinstance(source, StreamSource)
    wh = runtime.warehouse
    where = f"kafka {source.topic}" if isinstance(source, KafkaSource) else "folder"
    status = StreamStatus(spec.name, where)
    if not wh.exists(spec.name):
        return status
    commits = [c for c in wh.history(spec.name, RECENT_COMMITS) if "stream" in c.metadata]
    for commit in reversed(commits):  # oldest first, so the newest position wins
        status.offsets.update(commit.metadata["stream"].get("positions", {}))
    if source.dedupe_within:
        status.duplicates = _duplicates(runtime, spec, source, set(status.offsets))
    if isinstance(source, FolderSource):
        status.lag, status.files = _folder_lag(runtime, spec, source)
        newest = []  # the files most recently committed, newest first
        for commit in commits:
            for name in commit.metadata["stream"].get("positions", {}):
                if name not in newest:
                    newest.append(name)
        status.offsets = {n: status.offsets[n] for n in newest[:SHOWN_FILES]}
    if commits:
        status.last_commit = commits[0].timestamp
    status.rows_per_second = _throughput(commits)
    status.watermark = _watermark(runtime, spec, source)
    dead = dead_letter_name(spec.name)
    status.dead_lettered = runtime.row_count(dead) if wh.exists(dead) else 0
    status.late = _late_events(runtime, [late_name(w.name) for w in source.windows])
    if isinstance(source, KafkaSource):
        status.lag = _kafka_lag(runtime, spec, source)
    return status


def _duplicates(runtime: Runtime, spec: DatasetSpec, source: StreamSource, recent: set[str]) -> int:
    """Duplicates dropped over the stream's life: the per-partition counters its table
    records (dedupe.py), over the partitions of recent commits, the topic's and the
    folder's files."""
    from assay.streaming.dedupe import counter_id

    partitions = set(recent)
    if isinstance(source, FolderSource):
        partitions |= set(_folder_files(runtime, source))
    elif isinstance(source, KafkaSource):
        partitions |= {str(p) for p in _kafka_partitions(source)}
    table = runtime.warehouse.table(spec.name)
    return sum(table.transaction_version(counter_id(source.app_id(p))) or 0 for p in partitions)


def _kafka_partitions(source: KafkaSource) -> list[int]:
    """The topic's partitions (none when the broker cannot be reached)."""
    try:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": source.bootstrap_servers})
        meta = admin.list_topics(source.topic, timeout=5).topics.get(source.topic)
    except Exception:  # status is best effort when the broker is away
        return []
    return [] if meta is None or meta.error is not None else list(meta.partitions)


def _folder_files(runtime: Runtime, source: FolderSource) -> list[str]:
    """The folder stream's files, relative to the project (as partitions are named)."""
    import glob

    root = runtime.root
    pattern = source.path if os.path.isabs(source.path) else os.path.join(root, source.path)
    return [
        os.path.relpath(full, root)
        for full in glob.glob(pattern, recursive=True)
        if not os.path.isdir(full)
    ]


def _throughput(commits: list[Any]) -> float | None:
    """Rows in per second over the recent commits (None with fewer than two)."""
    if len(commits) < 2:
        return None
    span = (commits[0].timestamp - commits[-1].timestamp).total_seconds()
    rows = sum(c.metadata["stream"].get("rows_in", 0) for c in commits[:-1])
    return rows / span if span > 0 else None


def _watermark(runtime: Runtime, spec: DatasetSpec, source: StreamSource) -> datetime | None:
    """The slowest window's watermark, as `assay stream` reports it: from the partition
    marks saved with the windows' commits (for tables written before marks were kept,
    the latest event time by the files' statistics minus the allowed lateness)."""
    if not source.windows:
        return None
    wh = runtime.warehouse
    marks = []
    for w in source.windows:
        if not wh.exists(w.name):
            continue
        saved = [c for c in wh.history(w.name, 20) if MARKS in c.metadata]
        frontier = saved[0].metadata[MARKS].get("frontier") if saved else None
        if frontier is not None:
            marks.append(int(frontier) - round(w.allowed_lateness.total_seconds() * 1e6))
    if marks:
        return to_datetime(min(marks))
    newest = newest_value(runtime.warehouse, spec.name, source.timestamp)
    if newest is None:
        return None
    lateness = max((w.allowed_lateness for w in source.windows), default=timedelta(0))
    return newest - lateness


def _kafka_lag(runtime: Runtime, spec: DatasetSpec, source: KafkaSource) -> int | None:
    """Messages in the topic after the offsets the table holds (None if unreachable)."""
    try:
        from confluent_kafka import Consumer, TopicPartition
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    consumer = Consumer({"bootstrap.servers": source.bootstrap_servers, "group.id": "assay-status"})
    try:
        meta = consumer.list_topics(source.topic, timeout=5).topics.get(source.topic)
        if meta is None or meta.error is not None:
            return None
        lag = 0
        for partition in meta.partitions:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(source.topic, partition), timeout=5
            )
            done = runtime.warehouse.transaction_version(spec.name, source.app_id(str(partition)))
            lag += high - (done + 1 if done is not None else low)
        return lag
    except Exception:  # status is best effort when the broker is away
        return None
    finally:
        consumer.close()


def _late_events(runtime: Runtime, tables: list[str]) -> int:
    """Distinct events in the late tables (a row late for several windows counts once)."""
    wh = runtime.warehouse
    present = [t for t in tables if wh.exists(t)]
    if not present:
        return 0
    positions = pa.concat_tables(
        [wh.dataset(t).to_table(columns=[PARTITION, OFFSET]) for t in present],
        promote_options="permissive",
    )
    # Distinct (partition, offset) pairs, in Arrow: no SQL text to build.
    return positions.group_by([PARTITION, OFFSET]).aggregate([]).num_rows


def _folder_lag(
    runtime: Runtime, spec: DatasetSpec, source: FolderSource
) -> tuple[int | None, int]:
    """Lines in the folder's files that the table does not hold yet, and the number of
    files it holds lines of (lag None when the folder cannot be read)."""
    import glob

    root = runtime.root
    pattern = source.path if os.path.isabs(source.path) else os.path.join(root, source.path)
    table = runtime.warehouse.table(spec.name)
    held = 0
    lag = 0
    try:
        for full in glob.glob(pattern, recursive=True):
            if os.path.isdir(full):
                continue
            rel = os.path.relpath(full, root)
            done = table.transaction_version(source.app_id(rel)) or 0
            held += 1 if done else 0
            with open(full, "rb") as fh:
                lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
            lag += max(0, lines - done)
    except OSError:
        return None, held
    return lag, held
