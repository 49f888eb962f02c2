"""`assay stream NAME`: the micro-batch loop, exactly once from the source into Delta.

Each micro-batch, in this order. The order is what makes a crash anywhere harmless: a
restart re-reads from the offsets the stream's table records (never from what the source
was told), so every step must be either repeatable or skipped on replay, and each step
that a later one depends on must come first. The fault points (assay._faults) named
below let crash tests kill the process between the steps.

1. Read raw records (Arrow). Drop those of partitions whose recorded offset in the table
   is no longer the one the reading continued after (another process took the partition
   and moved on: this one is a zombie for it), and those at or before the recorded offsets
   (a replay).
2. Parse and cast them, check the key, event time and contract: failures become
   dead-letter rows (raw payload, partition, offset, reason).
3. Dead letters first: those the dead-letter table does not hold yet are published to
   the dead-letter topic (if one is set; fault point `stream_dead_letters_published`),
   then committed to `deadletter.<layer>_<name>` (fault point
   `stream_after_dead_letters`). Before the stream's table, because that table's offsets
   decide what is replayed: had the rows committed first, a crash would skip the batch on
   restart and its dead letters would be lost. This way a crash re-validates the batch
   (deterministically) and the dead-letter table, holding those records already, skips
   them: exactly once in the table. The topic is at least once: a crash between the
   publish and the dead-letter commit publishes them again.
4. The good rows to the stream's table (fault point `stream_after_commit`): the commit
   carries one Delta app transaction per source partition (version = last offset), made
   against the snapshot step 1 read, so a concurrent commit of the same partitions makes
   it fail and step 1's check runs again (sink.py). With `dedupe_within`, rows whose key
   the snapshot already holds within that much event time are dropped first, counted per
   partition in the same commit (dedupe.py).
5. Fold the good rows into each window (windowing.py): commit late rows, push the
   closed windows to the online store (versioned by event time), then commit the closed
   windows with an app transaction naming the stream-table version folded in (fault
   point `window_after_online` sits between the push and the commit). Online first: a
   crash between the two leaves the window table behind the stream table, so the
   restart folds that version in again and pushes the same values again, which the
   store's event-time versioning makes harmless; the other way round, the window commit
   would mark the version folded and its windows would never be served. On start, a
   window behind the stream table catches up from the table's own commits (a crash
   after step 4).
6. Acknowledge the offsets to the source (Kafka). The Delta commits are the truth.

Rows in = rows written + rows dead-lettered + duplicates dropped, per batch and in total.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assay import _faults
from assay.catalog.run_costs import RunUsage, record_usage
from assay.cost.record import BuildMeter, add_usage
from assay.errors import TransientError
from assay.governance.audit_hooks import audit_write
from assay.intervals import utcnow
from assay.streaming.dedupe import Deduplicator, counter_id, per_partition
from assay.streaming.readers import KEY, OFFSET, PARTITION, positions
from assay.streaming.sink import (
    ATTEMPTS,
    FencedTable,
    Recorded,
    after,
    commit_dead_letters,
    moved,
    without,
)
from assay.streaming.sources import KafkaSource, StreamSource
from assay.streaming.validate import RecordValidator, dead_letter_name
from assay.streaming.windowing import Windows, late_name, newest_value
from assay.tables.delta import ConcurrentCommitError

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from assay.pipelines.spec import DatasetSpec
    from assay.runtime import Runtime

__all__ = [
    "BatchStats",
    "StreamRunner",
    "StreamStats",
    "dead_letter_name",
    "late_name",
    "newest_value",
]


@dataclass
class BatchStats:
    """What one micro-batch did."""

    rows_in: int = 0  # = written + dead_lettered + duplicates
    written: int = 0
    dead_lettered: int = 0
    #: Records dropped as re-sends of a stored key (`dedupe_within`).
    duplicates: int = 0
    late: int = 0  # events that came after their window closed
    windows_emitted: int = 0
    skipped: int = 0  # records already in the table (a replay)
    version: int | None = None
    seconds: float = 0.0
    watermark: Any = None
    positions: dict[str, int] = field(default_factory=dict)
    #: Partitions another writer had moved on (to this recorded offset): dropped here.
    fenced: dict[str, int | None] = field(default_factory=dict)
    #: Per partition of the batch kept here: the offset the table now records.
    committed: dict[str, int] = field(default_factory=dict)


@dataclass
class StreamStats:
    """Totals over a `run` of the stream."""

    batches: int = 0
    rows_in: int = 0  # = written + dead_lettered + duplicates
    written: int = 0
    dead_lettered: int = 0
    duplicates: int = 0
    late: int = 0
    windows_emitted: int = 0
    skipped: int = 0
    fenced: int = 0  # records dropped because another writer had their partition
    seconds: float = 0.0

    def add(self, batch: BatchStats) -> None:
        self.batches += 1
        for name in (
            "rows_in",
            "written",
            "dead_lettered",
            "duplicates",
            "late",
            "windows_emitted",
            "skipped",
        ):
            setattr(self, name, getattr(self, name) + getattr(batch, name))

    @property
    def rows_per_second(self) -> float:
        return self.rows_in / self.seconds if self.seconds else 0.0


class StreamRunner:
    """Runs one streaming dataset of a project.

    Example: ``StreamRunner(project.runtime, project.dag["bronze.events"]).run(until_idle=True)``
    """

    def __init__(self, runtime: Runtime, spec: DatasetSpec):
        if not isinstance(spec.producer, StreamSource):
            from assay.errors import UsageError

            streams = [
                n for n, s in runtime.dag.specs.items() if isinstance(s.producer, StreamSource)
            ]
            raise UsageError(
                f"{spec.name} is not a stream",
                hint=f"streams: {', '.join(streams) or 'none declared'}",
            )
        self.runtime = runtime
        self.spec = spec
        self.source: StreamSource = spec.producer
        self.wh = runtime.warehouse
        # Micro-batches are small Arrow tables in this process: the embedded engine.
        self.engine = runtime.local
        self.run_id = uuid.uuid4().hex[:12]
        self.validator = RecordValidator(runtime, spec, self.engine, self.run_id)
        self.windows = Windows(runtime, spec.name, self.source, self.run_id)
        self.table = FencedTable(self.wh, spec.name, self.source.app_id, spec.partition_by)
        self.dead_table = FencedTable(self.wh, dead_letter_name(spec.name), self.source.app_id)
        self.dedupe = (
            Deduplicator(
                self.source.dedupe_keys,
                self.source.timestamp,
                self.source.dedupe_within,
                self.engine,
            )
            if self.source.dedupe_within
            else None
        )
        self._dead_letter_producer: Any = None
        #: What this run's micro-batches used in the current hour (see `_record_usage`).
        self._usage: RunUsage | None = None
        #: Set (by SIGINT or SIGTERM, or by the caller) to stop after the current batch.
        self.stop = threading.Event()

    @property
    def operators(self) -> list[Any]:
        return self.windows.operators

    @operators.setter
    def operators(self, value: list[Any]) -> None:
        self.windows.operators = value

    # -- positions -----------------------------------------------------------------------

    def committed(self, app_id: str) -> int | None:
        """The last offset the stream's table holds for a partition (its app transaction)."""
        return self.wh.transaction_version(self.spec.name, app_id)

    # -- the loop ------------------------------------------------------------------------

    def run(
        self,
        max_batches: int | None = None,
        until_idle: bool = False,
        on_batch: Callable[[BatchStats], None] | None = None,
    ) -> StreamStats:
        """Process micro-batches until `max_batches`, or the source is idle (`until_idle`),
        or forever, or Ctrl-C (SIGINT) or SIGTERM (the batch in hand is finished first);
        return the totals."""
        began = time.monotonic()
        totals = StreamStats()
        group = f"assay-{self.runtime.config.name}-{self.spec.name}"
        # With windows the stream runs in one process (under its lock): it reads every
        # partition itself. Otherwise processes share the partitions as static members
        # of a consumer group.
        exclusive = bool(self.source.windows)
        with contextlib.ExitStack() as stack:
            stack.enter_context(_stop_on_signals(self.stop))
            member = None
            if isinstance(self.source, KafkaSource) and not exclusive:
                from assay.streaming.membership import member_id

                member = stack.enter_context(
                    member_id(self.runtime.state_dir, self.spec.name, group, self.source.topic)
                )
            self.catch_up_windows()
            reader = self.source.reader(self.runtime.root, group, self.committed, exclusive, member)
            stack.callback(reader.close)
            while not self.stop.is_set() and (max_batches is None or totals.batches < max_batches):
                records = reader.poll(self.source.max_batch_rows, self.source.max_batch_seconds)
                base = dict(reader.base)
                self.windows.expect(reader.partitions())
                if not records.num_rows:
                    if until_idle and reader.caught_up():
                        break
                    continue
                meter = BuildMeter.begin(self.wh, self._written_tables())
                stats = self.process(records, base)
                if stats.version is not None:  # a replayed batch committed nothing: no cost
                    meter.read_bytes(records.nbytes)
                    self._record_usage(meter, stats)
                for partition, recorded in stats.fenced.items():
                    reader.rewind(partition, recorded)
                reader.acknowledge(stats.committed)
                totals.add(stats)
                totals.fenced += records.num_rows - stats.rows_in - stats.skipped
                if on_batch is not None:
                    on_batch(stats)
        totals.seconds = time.monotonic() - began
        return totals

    def process(self, records: pa.Table, base: dict[str, int | None] | None = None) -> BatchStats:
        """One micro-batch: validate, commit exactly once, fold into windows.

        `base`: per partition, the offset the table recorded that these records were read
        after (the reader's); a partition whose recorded offset has moved since is
        dropped (see BatchStats.fenced). Without it, records after the recorded offsets
        are kept."""
        began = time.monotonic()
        base = base or {}
        stats = BatchStats()
        snapshot = self.table.snapshot()
        recorded = self.table.recorded(snapshot, positions(records))
        stats.fenced = moved(recorded, base)
        records = without(records, stats.fenced)
        fresh = _distinct(after(records, recorded))
        stats.skipped = records.num_rows - fresh.num_rows
        if not fresh.num_rows:
            stats.committed = _known(recorded, stats.fenced)
            stats.seconds = time.monotonic() - began
            return stats  # all committed already (a replay): nothing to write
        good, dead = self.validator.split(fresh)
        # Only partitions with new records: a table's recorded offset never goes back.
        txns = positions(fresh)
        self._commit_dead_letters(dead, txns)
        version, good, txns = self._commit_rows(good, dead, fresh, txns, snapshot, recorded, stats)
        # Partitions fenced at commit time are not this batch's any more.
        fresh = without(fresh, stats.fenced)
        stats.rows_in = fresh.num_rows  # = written + dead-lettered + duplicates
        stats.written = good.num_rows
        stats.dead_lettered = without(dead, stats.fenced).num_rows
        stats.positions = positions(fresh)
        stats.committed = {**_known(recorded, stats.fenced), **txns}
        stats.version = version
        if version is not None:
            _faults.point("stream_after_commit")
            self._audit(stats)
            stats.windows_emitted, stats.late = self.windows.fold(good, version)
            stats.watermark = self.windows.watermark()
        stats.seconds = time.monotonic() - began
        return stats

    # -- steps ---------------------------------------------------------------------------

    def _record_usage(self, meter: BuildMeter, stats: BatchStats) -> None:
        """Add a committed micro-batch to what this stream run used in the current UTC
        hour, and store the sum: one cost row per stream run and hour (run id
        `<run>@<YYYYmmddTHH>`), so a stream that runs for days is charged to each day it
        ran, without a catalog row per micro-batch."""
        rows = (stats.rows_in, stats.written, stats.dead_lettered)
        usage_id = f"{self.run_id}@{utcnow():%Y%m%dT%H}"
        batch = meter.measure(usage_id, self.spec.name, "success", rows)
        if batch is None:
            return
        if self._usage is not None and self._usage.run_id != usage_id:
            self._usage = None  # a new hour
        self._usage = add_usage(self._usage, batch)
        try:
            record_usage(self.runtime.catalog, self._usage)
        except Exception:  # cost accounting never stops a stream whose batch is committed
            log.exception("resource use of stream %s not recorded", self.spec.name)

    def _written_tables(self) -> list[str]:
        """Every table a micro-batch may commit to: the stream's, its dead letters, and its
        windows' tables with their late rows (what `assay cost` charges the stream with)."""
        windows = [w.name for w in self.source.windows]
        return [
            self.spec.name,
            dead_letter_name(self.spec.name),
            *windows,
            *(late_name(w) for w in windows),
        ]

    def _audit(self, stats: BatchStats) -> None:
        """The batch's commit, in the audit log (one event per committed micro-batch)."""
        detail = {
            "stream": self.source.app_id,
            "run_id": self.run_id,
            "version": stats.version,
            "dead_lettered": stats.dead_lettered,
        }
        audit_write(self.runtime, self.spec.name, stats.written, "write", detail=detail)

    def _commit_dead_letters(self, dead: pa.Table, txns: dict[str, int]) -> None:
        if not dead.num_rows:
            return
        topic = getattr(self.source, "dead_letter_topic", None)
        publish = None
        if topic:
            # Before the dead-letter commit (after it, a crash would lose them: the table
            # would skip them on replay); a crash in between sends them again.
            def publish(fresh: pa.Table) -> None:
                self._publish_dead_letters(topic, fresh)
                _faults.point("stream_dead_letters_published")

        meta = {"run_id": self.run_id, "stream": self.spec.name}
        commit_dead_letters(self.dead_table, dead, txns, meta, publish)
        _faults.point("stream_after_dead_letters")

    def _publish_dead_letters(self, topic: str, dead: pa.Table) -> None:
        """Also send dead letters to a Kafka topic, with why in the headers: before they are
        committed to the dead-letter table (and so before the stream's table), at least
        once (a crash before that commit sends them again on restart)."""
        from confluent_kafka import Producer

        if self._dead_letter_producer is None:
            servers = getattr(self.source, "bootstrap_servers", "localhost:9092")
            self._dead_letter_producer = Producer({"bootstrap.servers": servers})
        producer = self._dead_letter_producer
        for row in dead.to_pylist():
            headers = {
                "assay.stream": self.spec.name,
                "assay.partition": str(row[PARTITION]),
                "assay.offset": str(row[OFFSET]),
                "assay.rule": row["rule"],
                "assay.reason": row["reason"],
            }
            value = (row["raw_record"] or "").encode()
            producer.produce(topic, value=value, key=row[KEY], headers=headers)
        if producer.flush(30):
            raise TransientError(
                f"dead letters not delivered to topic {topic}", where=self.spec.name
            )

    def _commit_rows(
        self,
        good: pa.Table,
        dead: pa.Table,
        fresh: pa.Table,
        txns: dict[str, int],
        snapshot: Any,
        recorded: Recorded,
        stats: BatchStats,
    ) -> tuple[int | None, pa.Table, dict[str, int]]:
        """Commit the good rows and the partitions' offsets against `snapshot` (fenced:
        see sink.py), without the duplicates that snapshot holds; on a conflict, drop the
        partitions another writer moved on and try again. Returns the version (None:
        nothing left) and what was committed."""
        if snapshot is None:  # no table at the check: created now, so check again
            snapshot = self.table.snapshot(good.schema, {"run_id": self.run_id})
        for _ in range(ATTEMPTS):
            gone = moved(self.table.recorded(snapshot, txns), recorded)
            stats.fenced.update(gone)
            good = without(good, gone)
            txns = {p: o for p, o in txns.items() if p not in gone}
            if not txns:
                return None, good, txns
            # Decided against the snapshot committed against: a retry decides again.
            kept, counters = self._without_duplicates(good, snapshot, stats)
            metadata = {
                "run_id": self.run_id,
                "stream": {
                    "rows_in": without(fresh, stats.fenced).num_rows,
                    "written": kept.num_rows,
                    "dead_lettered": without(dead, stats.fenced).num_rows,
                    **({"duplicates": stats.duplicates} if self.dedupe else {}),
                    "positions": txns,
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                },
                **(self.validator.shield.commit_extra() if self.validator.shield else {}),
            }
            try:
                version = self.table.commit(kept, txns, snapshot, metadata, counters)
                return version, kept, txns
            except ConcurrentCommitError:
                snapshot = self.table.snapshot()
        raise ConcurrentCommitError(
            f"gave up after {ATTEMPTS} conflicting concurrent commits",
            where=self.spec.name,
            hint="another process keeps committing to this stream's table; retry",
        )

    def _without_duplicates(
        self, good: pa.Table, snapshot: Any, stats: BatchStats
    ) -> tuple[pa.Table, dict[str, int]]:
        """The rows to commit, and per partition that dropped any its new running count of
        duplicates (an app transaction: see dedupe.py); sets `stats.duplicates`."""
        if self.dedupe is None:
            return good, {}
        kept, dropped = self.dedupe.split(good, snapshot)
        stats.duplicates = dropped.num_rows
        counters = {}
        for partition, count in per_partition(dropped).items():
            app = counter_id(self.source.app_id(partition))
            counters[app] = (snapshot.transaction_version(app) or 0) + count
        return kept, counters

    # -- windows -------------------------------------------------------------------------

    def catch_up_windows(self) -> None:
        """Rebuild each window's state from the stream table and fold in any commits it
        missed (a crash between the stream commit and the window commit)."""
        self.windows.catch_up()


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C (SIGINT) and SIGTERM set `stop` instead of raising inside the Kafka client
    (where an exception raised in a rebalance callback crashed the process); a second
    Ctrl-C interrupts at once. Only in the main thread, where signals are handled."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _known(recorded: Recorded, fenced: dict[str, int | None]) -> dict[str, int]:
    """The recorded offsets of the partitions kept (and recorded at all)."""
    return {p: o for p, o in recorded.items() if o is not None and p not in fenced}


def _distinct(records: pa.Table) -> pa.Table:
    """Records with each (partition, offset) once (a source may hand one out twice)."""
    if records.num_rows < 2:
        return records
    codes = pc.dictionary_encode(records[PARTITION]).combine_chunks().indices
    ids = np.asarray(codes, dtype=np.int64) * (1 << 40) + records[OFFSET].to_numpy()
    _, first = np.unique(ids, return_index=True)
    if len(first) == records.num_rows:
        return records
    return records.take(pa.array(np.sort(first)))
