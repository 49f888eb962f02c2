"""What `assay status` shows for a stream, read from its Delta tables (and, for Kafka,
the broker's high watermarks): committed offsets, lag, watermark, rows/s, dead letters
and late rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from assay.pipelines.spec import DatasetSpec
from assay.streaming.runner import dead_letter_name, late_name, newest_value
from assay.streaming.sources import KafkaSource, StreamSource

if TYPE_CHECKING:
    from assay.project import Project

#: Recent commits the throughput is measured over.
RECENT_COMMITS = 50


@dataclass
class StreamStatus:
    name: str
    source: str
    offsets: dict[str, int] = field(default_factory=dict)
    lag: int | None = None
    watermark: datetime | None = None
    rows_per_second: float | None = None
    dead_lettered: int = 0
    late: int = 0
    last_commit: datetime | None = None


def stream_status(project: Project, spec: DatasetSpec) -> StreamStatus:
    """The status of one streaming dataset."""
    source = spec.producer
    assert isinstance(source, StreamSource)
    wh = project.warehouse
    where = f"kafka {source.topic}" if isinstance(source, KafkaSource) else "folder"
    status = StreamStatus(spec.name, where)
    if not wh.exists(spec.name):
        return status
    commits = [c for c in wh.history(spec.name, RECENT_COMMITS) if "stream" in c.metadata]
    for commit in reversed(commits):  # oldest first, so the newest position wins
        status.offsets.update(commit.metadata["stream"].get("positions", {}))
    if commits:
        status.last_commit = commits[0].timestamp
    status.rows_per_second = _throughput(commits)
    status.watermark = _watermark(project, spec, source)
    dead = dead_letter_name(spec.name)
    status.dead_lettered = project.row_count(dead) if wh.exists(dead) else 0
    status.late = sum(
        project.row_count(late_name(w.name)) for w in source.windows if wh.exists(late_name(w.name))
    )
    if isinstance(source, KafkaSource):
        status.lag = _kafka_lag(project, spec, source)
    return status


def _throughput(commits: list[Any]) -> float | None:
    """Rows in per second over the recent commits (None with fewer than two)."""
    if len(commits) < 2:
        return None
    span = (commits[0].timestamp - commits[-1].timestamp).total_seconds()
    rows = sum(c.metadata["stream"].get("rows_in", 0) for c in commits[:-1])
    return rows / span if span > 0 else None


def _watermark(project: Project, spec: DatasetSpec, source: StreamSource) -> datetime | None:
    """Latest event time (from the files' statistics) minus the largest allowed lateness:
    the slowest window's watermark, as `assay stream` reports it."""
    if not source.windows:
        return None
    newest = newest_value(project.warehouse, spec.name, source.timestamp)
    if newest is None:
        return None
    lateness = max((w.allowed_lateness for w in source.windows), default=timedelta(0))
    return newest - lateness


def _kafka_lag(project: Project, spec: DatasetSpec, source: KafkaSource) -> int | None:
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
            done = project.warehouse.transaction_version(spec.name, source.app_id(str(partition)))
            lag += high - (done + 1 if done is not None else low)
        return lag
    except Exception:  # status is best effort when the broker is away
        return None
    finally:
        consumer.close()
