"""Committing a micro-batch to Delta exactly once, fenced against zombie writers.

The stream's table records, per source partition, the last offset it holds (a Delta app
transaction). A batch read from a partition after offset `b` may only land if the table
still records `b` for that partition: the check reads a snapshot, and the commit is made
against that snapshot, so any commit since that recorded the same partition conflicts
(delta-rs checks app transactions the way Delta's protocol says) and the check runs
again. A writer that stalled (SIGSTOP, a long GC, a network partition) while another took
its partitions therefore finds them moved on and drops its batch for them, and a table's
recorded offsets only ever move forward.

Dead letters go to their own table first, with the same partitions recorded; that table
only records a partition when a batch has dead letters for it, so there the rule is
"skip what it holds, never record less than it holds": validation is deterministic, so a
dead letter written by a stalled writer is the one its successor would write, and the
successor skips it. Dead letters have the shape of every rejected row
(`assay.pipelines.rejected`): the table holds the shared columns and its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from assay.pipelines.rejected import DEAD_LETTERS
from assay.streaming.readers import OFFSET, PARTITION
from assay.tables import WriteMode
from assay.tables.delta import ConcurrentCommitError

if TYPE_CHECKING:
    from deltalake import DeltaTable

    from assay.tables import Warehouse

#: Recorded offset per partition (None: nothing of it yet).
Recorded = dict[str, int | None]

#: Attempts at a commit that keeps meeting concurrent commits before giving up.
ATTEMPTS = 20


class FencedTable:
    """One Delta table a stream commits to, with its partitions' recorded offsets.

    Example: ``FencedTable(warehouse, "bronze.events", source.app_id)``
    """

    def __init__(
        self,
        warehouse: Warehouse,
        name: str,
        app_id: Callable[[str], str],
        partition_by: Sequence[str] = (),
    ):
        self.wh = warehouse
        self.name = name
        self.app_id = app_id
        self.partition_by = tuple(partition_by)

    def snapshot(self, schema: pa.Schema | None = None, metadata: Any = None) -> DeltaTable | None:
        """The table's latest snapshot; with `schema`, an empty table is created first
        when there is none (so the first batch, too, commits against a snapshot)."""
        if not self.wh.exists(self.name):
            if schema is None:
                return None
            # Two writers may both create it: each adds an empty commit, harmlessly.
            self.wh.write(
                self.name,
                schema.empty_table(),
                mode=WriteMode.APPEND,
                metadata=metadata or {},
                partition_by=self.partition_by,
            )
        return self.wh.table(self.name)

    def recorded(self, snapshot: DeltaTable | None, partitions: Any) -> Recorded:
        return {
            p: None if snapshot is None else snapshot.transaction_version(self.app_id(p))
            for p in partitions
        }

    def commit(
        self,
        data: pa.Table,
        txns: Mapping[str, int],
        snapshot: DeltaTable,
        metadata: Mapping[str, Any],
        counters: Mapping[str, int] | None = None,
    ) -> int:
        """Append `data` recording `txns` (partition -> last offset), against `snapshot`:
        raises ConcurrentCommitError if a commit since recorded any of them. `counters`:
        more app transactions (app id -> value) recorded in the same commit."""
        return self.wh.write(
            self.name,
            data,
            mode=WriteMode.APPEND,
            metadata=metadata,
            partition_by=self.partition_by,
            app_transactions={**{self.app_id(p): o for p, o in txns.items()}, **(counters or {})},
            against=snapshot,
        )


def after(records: pa.Table, recorded: Recorded) -> pa.Table:
    """Records after the offsets recorded for their partitions (all, where none is)."""
    if not records.num_rows or all(v is None for v in recorded.values()):
        return records
    floor = pa.array(
        [-1 if (v := recorded.get(p)) is None else v for p in records[PARTITION].to_pylist()],
        pa.int64(),
    )
    return records.filter(pc.greater(records[OFFSET], floor))


def without(records: pa.Table, partitions: Any) -> pa.Table:
    """`records` without those of `partitions`."""
    gone = list(partitions)
    if not gone or not records.num_rows:
        return records
    return records.filter(pc.invert(pc.is_in(records[PARTITION], pa.array(gone, pa.string()))))


def moved(recorded: Recorded, base: Mapping[str, int | None]) -> Recorded:
    """Partitions whose recorded offset is no longer the one this writer read after."""
    return {p: r for p, r in recorded.items() if p in base and base[p] != r}


def commit_dead_letters(
    table: FencedTable,
    dead: pa.Table,
    txns: Mapping[str, int],
    metadata: Mapping[str, Any],
    before_commit: Callable[[pa.Table], None] | None = None,
) -> int:
    """Append the dead letters the table does not hold yet; record each partition's offset,
    never less than the table holds. Returns how many were new.

    `dead` may be in the dead-letter table's own layout (stream, _partition, _offset, ...)
    or the shared shape of rejected rows: it is written with both. A table created before
    the shared shape gains its columns (schema evolution).
    """
    dead = DEAD_LETTERS.complete(dead)
    for _ in range(ATTEMPTS):
        snapshot = table.snapshot(dead.schema, metadata)
        assert snapshot is not None
        recorded = table.recorded(snapshot, txns)
        fresh = after(dead, recorded)
        if not fresh.num_rows:
            return 0
        if before_commit is not None:
            before_commit(fresh)
        forward = {p: max(o, r if (r := recorded[p]) is not None else -1) for p, o in txns.items()}
        try:
            table.commit(fresh, forward, snapshot, metadata)
            return fresh.num_rows
        except ConcurrentCommitError:
            continue
    raise ConcurrentCommitError(
        f"gave up after {ATTEMPTS} conflicting concurrent commits",
        where=table.name,
        hint="more than one process writes this stream's dead letters; retry",
    )
