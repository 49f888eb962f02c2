"""Where micro-batches come from: a Kafka topic (confluent-kafka) or a folder receiving
JSON-lines files. Both hand out Arrow tables of raw records with their partition and
offset, and resume from the positions the Delta table recorded (never from their own)."""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from assay.errors import MissingExtraError, TransientError, UsageError

PARTITION, OFFSET, KEY, RAW, SIZE = "_partition", "_offset", "_key", "_raw", "_size"
#: The payload's bytes (for binary formats such as Avro).
PAYLOAD = "_payload"
#: Payload bytes that are not UTF-8 (the text in RAW then has replacement characters).
NOT_UTF8 = "__not_utf8"

#: Bytes of a file read per poll.
READ_BYTES = 64 * 1024 * 1024

#: Per partition: the last offset the table holds (None: nothing yet).
Committed = Callable[[str], int | None]


def records_table(
    partitions: list[str], offsets: list[int], keys: list[bytes | None], values: list[bytes | None]
) -> pa.Table:
    """Raw records as Arrow; payloads stay one text column (decoded once, in bulk)."""
    payload = pa.array([v or b"" for v in values], pa.large_binary())
    columns: dict[str, Any] = {
        PARTITION: pa.array(partitions, pa.string()),
        OFFSET: pa.array(offsets, pa.int64()),
        KEY: pa.array([k.decode("utf-8", "replace") if k is not None else None for k in keys]),
        SIZE: pa.array([len(v or b"") for v in values], pa.int64()),
        PAYLOAD: payload,
    }
    try:
        columns[RAW] = payload.cast(pa.large_string())
        columns[NOT_UTF8] = pa.array(np.zeros(len(values), dtype=bool))
    except pa.ArrowInvalid:
        decoded, broken = [], []
        for v in values:
            try:
                decoded.append((v or b"").decode("utf-8"))
                broken.append(False)
            except UnicodeDecodeError:
                decoded.append((v or b"").decode("utf-8", "replace"))
                broken.append(True)
        columns[RAW] = pa.array(decoded, pa.large_string())
        columns[NOT_UTF8] = pa.array(broken)
    return pa.table(columns)


class Reader(ABC):
    """A stream's source of raw records.

    `base` says, per partition being read, the offset the table recorded that the reading
    continues after (None: the table holds nothing of it): a batch's commit is fenced on
    it (see sink.py). It is set when a partition starts being read, and moves with each
    `acknowledge` or `rewind`.
    """

    def __init__(self) -> None:
        self.base: dict[str, int | None] = {}

    @abstractmethod
    def poll(self, max_rows: int, max_seconds: float) -> pa.Table:
        """Up to `max_rows` records, waiting at most `max_seconds` (may be empty)."""

    def acknowledge(self, positions: Mapping[str, int]) -> None:
        """Tell the source these positions are committed to Delta (Kafka: commit offsets)."""
        for p, o in positions.items():
            if p in self.base:
                self.base[p] = o

    def rewind(self, partition: str, recorded: int | None) -> None:
        """Another writer moved `partition` on to `recorded`: read it again from there (if
        this reader still reads it)."""
        self.base.pop(partition, None)

    def partitions(self) -> list[str]:
        """The partitions being read now."""
        return list(self.base)

    def caught_up(self) -> bool:
        """Whether nothing is waiting (after a poll came back empty)."""
        return True

    def close(self) -> None:  # noqa: B027 - optional
        """Release connections."""


class FolderReader(Reader):
    """JSON-lines files arriving in a folder; a file's lines are its offsets (1-based).

    Files may grow (only complete lines are read) but must not be rewritten; write them
    elsewhere and rename them in, as with any folder stream.
    """

    def __init__(self, root: str, pattern: str, committed: Committed):
        import glob

        super().__init__()
        self._glob = glob
        self.pattern = pattern if os.path.isabs(pattern) else os.path.join(root, pattern)
        self.root = root
        self.committed = committed
        #: Per file: (bytes consumed up to a line end, lines consumed).
        self.position: dict[str, tuple[int, int]] = {}

    def _files(self) -> list[str]:
        found = []
        for path in self._glob.glob(self.pattern, recursive=True):
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue  # moved away between the listing and now (archived, say)
            if not os.path.isdir(path):
                found.append((st.st_mtime_ns, path))
        return [path for _, path in sorted(found)]

    def _start(self, rel: str, full: str) -> tuple[int, int]:
        """Where to continue in a file first seen now: after its committed lines."""
        recorded = self.committed(rel)
        self.base[rel] = recorded
        done = recorded or 0
        if not done:
            return 0, 0
        with open(full, "rb") as fh:
            data = fh.read()
        ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
        if len(ends) < done:
            raise UsageError(
                f"{rel} has {len(ends)} lines but the table holds {done} of its lines",
                hint="a streamed file was rewritten; files in a folder stream may only grow",
            )
        return int(ends[done - 1]) + 1, done

    def rewind(self, partition: str, recorded: int | None) -> None:
        super().rewind(partition, recorded)
        self.position.pop(partition, None)  # found again, it starts after `recorded`

    def poll(self, max_rows: int, max_seconds: float) -> pa.Table:
        deadline = time.monotonic() + max_seconds
        parts: list[pa.Table] = []
        rows = 0
        while True:
            for full in self._files():
                if rows >= max_rows:
                    break
                table = self._read_new(full, max_rows - rows)
                if table is not None:
                    parts.append(table)
                    rows += table.num_rows
            if rows or time.monotonic() >= deadline:
                break
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        return pa.concat_tables(parts) if parts else records_table([], [], [], [])

    def _read_new(self, full: str, limit: int) -> pa.Table | None:
        rel = os.path.relpath(full, self.root)
        if rel not in self.position:
            self.position[rel] = self._start(rel, full)
        start, line = self.position[rel]
        try:
            if os.path.getsize(full) <= start:
                return None
            with open(full, "rb") as fh:
                fh.seek(start)
                data = fh.read(READ_BYTES)  # a block at a time, however big the file
                while data.find(b"\n") < 0 and len(data) % READ_BYTES == 0 and data:
                    more = fh.read(READ_BYTES)  # one line longer than a block
                    if not more:
                        break
                    data += more
        except FileNotFoundError:
            return None
        ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)[:limit]
        if not len(ends):
            return None  # only a partial line so far
        bounds = np.concatenate(([0], ends + 1)).astype(np.int64)
        values = [data[a : b - 1].rstrip(b"\r") for a, b in itertools.pairwise(bounds)]
        self.position[rel] = (start + int(bounds[-1]), line + len(values))
        offsets = list(range(line + 1, line + len(values) + 1))
        return records_table([rel] * len(values), offsets, [None] * len(values), list(values))


class KafkaReader(Reader):
    """A Kafka consumer. Partitions it reads resume after the offsets the Delta table
    recorded, and records of partitions taken away before their batch was committed are
    dropped (the new owner reads them again).

    `exclusive`: this process alone reads the topic (a stream with windows, under the
    stream's lock): it assigns itself every partition, as Spark does, so a restart reads
    at once instead of waiting for the group to expire the dead member. Otherwise it is a
    member of a consumer group (static when the config has `group.instance.id`, so a
    restarted member takes its partitions back without a rebalance).
    """

    #: How often an exclusive reader looks for partitions added to the topic.
    REFRESH_SECONDS = 30.0

    def __init__(
        self,
        topic: str,
        config: Mapping[str, Any],
        committed: Committed,
        exclusive: bool = False,
    ):
        super().__init__()
        try:
            from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise MissingExtraError("confluent-kafka", "kafka") from exc
        self._tp = TopicPartition
        self._kafka_error = KafkaException
        self._beginning = OFFSET_BEGINNING
        self.topic = topic
        self.committed = committed
        self.exclusive = exclusive
        #: (partition, offset, key, value) of the poll in progress.
        self._collected: list[tuple[int, int, bytes | None, bytes | None]] = []
        settings = {
            # Offset and watermark queries wait behind a pending fetch: keep that short.
            "fetch.wait.max.ms": 100,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": False,
            **config,
        }
        if exclusive:
            settings.pop("group.instance.id", None)  # no group membership at all
        self.consumer = Consumer(settings)
        self._refreshed = 0.0
        if exclusive:
            self._assign_new()
        else:
            self.consumer.subscribe([topic], on_assign=self._on_assign, on_revoke=self._on_revoke)

    def _start(self, partitions: list[Any]) -> list[Any]:
        for tp in partitions:
            done = self.committed(str(tp.partition))
            # The table, not the group, says where to resume: from the start when it holds
            # nothing of this partition (a new or emptied table under an old group name).
            tp.offset = done + 1 if done is not None else self._beginning
            self.base[str(tp.partition)] = done
        return partitions

    def _assign_new(self) -> None:
        """Exclusive: read every partition of the topic (those added since, too)."""
        self._refreshed = time.monotonic()
        meta = self.consumer.list_topics(self.topic, timeout=10).topics.get(self.topic)
        if meta is None or meta.error is not None or not meta.partitions:
            # Not there yet (or the broker is away): look again in a second.
            self._refreshed -= self.REFRESH_SECONDS - 1.0
            return
        new = [self._tp(self.topic, p) for p in sorted(meta.partitions) if str(p) not in self.base]
        if new:
            self.consumer.incremental_assign(self._start(new))

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        consumer.assign(self._start(partitions))

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        # Records of these partitions collected so far are dropped now: whoever owns the
        # partition next (maybe this consumer again, after a seek) reads them again.
        gone = {tp.partition for tp in partitions}
        self._collected = [r for r in self._collected if r[0] not in gone]
        for p in gone:
            self.base.pop(str(p), None)

    def rewind(self, partition: str, recorded: int | None) -> None:
        owned = partition in self.base
        super().rewind(partition, recorded)
        if not owned:
            return
        offset = recorded + 1 if recorded is not None else self._beginning
        try:
            self.consumer.seek(self._tp(self.topic, int(partition), offset))
        except self._kafka_error:
            return  # no longer assigned here: the group gave it to another member
        self.base[partition] = recorded

    def poll(self, max_rows: int, max_seconds: float) -> pa.Table:
        if self.exclusive and time.monotonic() - self._refreshed > self.REFRESH_SECONDS:
            self._assign_new()
        deadline = time.monotonic() + max_seconds
        self._collected = []
        while len(self._collected) < max_rows:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            wanted = min(10_000, max_rows - len(self._collected))
            batch = self.consumer.consume(wanted, remaining)
            for msg in batch:
                error = msg.error()
                if error is not None:
                    if error.fatal():
                        raise TransientError(f"Kafka: {error.str()}", where=self.topic)
                    continue  # partition EOF and transient errors: librdkafka retries
                self._collected.append(
                    (msg.partition() or 0, msg.offset() or 0, msg.key(), msg.value())
                )
            if not batch and self._collected:
                break  # caught up: commit what we have rather than wait
        found, self._collected = self._collected, []
        return records_table(
            [str(r[0]) for r in found],
            [r[1] for r in found],
            [r[2] for r in found],
            [r[3] for r in found],
        )

    def acknowledge(self, positions: Mapping[str, int]) -> None:
        super().acknowledge(positions)
        offsets = [self._tp(self.topic, int(p), o + 1) for p, o in positions.items()]
        if offsets:
            with contextlib.suppress(Exception):
                self.consumer.commit(offsets=offsets, asynchronous=False)

    def caught_up(self) -> bool:
        """Assigned partitions, all read to their end (before assignment: not yet)."""
        assigned = self.consumer.assignment()
        if not assigned:
            return False
        for tp in self.consumer.position(assigned):
            _, high = self.consumer.get_watermark_offsets(tp, timeout=5, cached=False)
            if tp.offset < 0:  # nothing consumed yet: compare with the table's position
                done = self.committed(str(tp.partition))
                low, _ = self.consumer.get_watermark_offsets(tp, timeout=5, cached=False)
                start = done + 1 if done is not None else low
                if start < high:
                    return False
            elif tp.offset < high:
                return False
        return True

    def close(self) -> None:
        self.consumer.close()


def positions(table: pa.Table) -> dict[str, int]:
    """The last offset per partition in a batch of records."""
    if not table.num_rows:
        return {}
    grouped = table.group_by(PARTITION).aggregate([(OFFSET, "max")])
    return dict(
        zip(grouped[PARTITION].to_pylist(), grouped[f"{OFFSET}_max"].to_pylist(), strict=True)
    )
