"""`assay stream NAME`: the micro-batch loop, exactly once from the source into Delta.

Each micro-batch, in this order (the order is what makes a crash anywhere harmless):

1. Read raw records (Arrow) and drop any at or before the offsets the table recorded.
2. Parse and cast them, check the key, event time and contract: failures become
   dead-letter rows (raw payload, partition, offset, reason).
3. Commit dead letters to `deadletter.<layer>_<name>`, then the good rows to the stream's
   table: each commit carries one Delta app transaction per source partition (version =
   last offset), so a replayed batch is recognized and skipped table by table.
4. Fold the good rows into each window; commit closed windows (and late rows) with an app
   transaction naming the stream-table version folded in. On start, a window that is
   behind the stream table catches up from the table's own commits.
5. Push closed windows to the online store (versioned by event time), then acknowledge
   the offsets to the source (Kafka). The Delta commits are the truth.

Rows in = rows written + rows dead-lettered, per batch and in total.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

from assay.catalog.store import utcnow
from assay.engines.types import arrow_to_sql
from assay.errors import TransientError
from assay.naming import split_name
from assay.pipelines.conform import RAW as CONFORM_RAW
from assay.pipelines.conform import conform, plan_columns
from assay.pipelines.files import parse_jsonl
from assay.pipelines.producers import INGESTED_AT, LINE, SOURCE_FILE
from assay.pipelines.spec import DatasetSpec, SchemaPolicy
from assay.streaming.readers import (
    KEY,
    NOT_UTF8,
    OFFSET,
    PARTITION,
    RAW,
    SIZE,
    positions,
)
from assay.streaming.sources import StreamSource
from assay.streaming.spec import WindowSpec
from assay.streaming.windows import WINDOW_END, WindowOperator
from assay.tables import WriteMode

if TYPE_CHECKING:
    from assay.project import Project

DEAD_LETTER_SCHEMA = pa.schema(
    [
        ("stream", pa.string()),
        (PARTITION, pa.string()),
        (OFFSET, pa.int64()),
        (KEY, pa.string()),
        ("raw_record", pa.large_string()),
        ("rule", pa.string()),
        ("reason", pa.string()),
        ("run_id", pa.string()),
        (INGESTED_AT, pa.timestamp("us")),
    ]
)


def dead_letter_name(stream: str) -> str:
    layer, name = split_name(stream)
    return f"deadletter.{layer}_{name}"


def late_name(window_table: str) -> str:
    layer, name = split_name(window_table)
    return f"late.{layer}_{name}"


@dataclass
class BatchStats:
    """What one micro-batch did."""

    rows_in: int = 0
    written: int = 0
    dead_lettered: int = 0
    late: int = 0
    windows_emitted: int = 0
    skipped: int = 0  # records already in the table (a replay)
    version: int | None = None
    seconds: float = 0.0
    watermark: Any = None
    positions: dict[str, int] = field(default_factory=dict)


@dataclass
class StreamStats:
    """Totals over a `run` of the stream."""

    batches: int = 0
    rows_in: int = 0
    written: int = 0
    dead_lettered: int = 0
    late: int = 0
    windows_emitted: int = 0
    skipped: int = 0
    seconds: float = 0.0

    def add(self, batch: BatchStats) -> None:
        self.batches += 1
        for name in ("rows_in", "written", "dead_lettered", "late", "windows_emitted", "skipped"):
            setattr(self, name, getattr(self, name) + getattr(batch, name))

    @property
    def rows_per_second(self) -> float:
        return self.rows_in / self.seconds if self.seconds else 0.0


class StreamRunner:
    """Runs one streaming dataset of a project.

    Example: ``StreamRunner(project, project.dag["bronze.events"]).run(until_idle=True)``
    """

    def __init__(self, project: Project, spec: DatasetSpec):
        if not isinstance(spec.producer, StreamSource):
            from assay.errors import UsageError

            streams = [
                n for n, s in project.dag.specs.items() if isinstance(s.producer, StreamSource)
            ]
            raise UsageError(
                f"{spec.name} is not a stream",
                hint=f"streams: {', '.join(streams) or 'none declared'}",
            )
        self.project = project
        self.spec = spec
        self.source: StreamSource = spec.producer
        self.wh = project.warehouse
        # Micro-batches are small Arrow tables in this process: the embedded engine.
        self.engine = project.local_engine
        self.run_id = uuid.uuid4().hex[:12]
        self.operators = [
            WindowOperator(self.engine, w, self.source.timestamp) for w in self.source.windows
        ]
        views = project.features.views
        self._avro_schema = None
        self._dead_letter_producer: Any = None
        if self.source.format == "avro":
            from assay.streaming.avro import load_schema

            self._avro_schema = load_schema(project.root, str(self.source.avro_schema))
        self.views = {w.name: views[split_name(w.name)[1]] for w in self.source.windows if w.entity}

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
        or forever; return the totals."""
        began = time.monotonic()
        totals = StreamStats()
        self.catch_up_windows()
        group = f"assay-{self.project.config.name}-{self.spec.name}"
        reader = self.source.reader(str(self.project.root), group, self.committed)
        try:
            while max_batches is None or totals.batches < max_batches:
                records = reader.poll(self.source.max_batch_rows, self.source.max_batch_seconds)
                if not records.num_rows:
                    if until_idle and reader.caught_up():
                        break
                    continue
                stats = self.process(records)
                reader.acknowledge(stats.positions)
                totals.add(stats)
                if on_batch is not None:
                    on_batch(stats)
        finally:
            reader.close()
        totals.seconds = time.monotonic() - began
        return totals

    def process(self, records: pa.Table) -> BatchStats:
        """One micro-batch: validate, commit exactly once, fold into windows."""
        began = time.monotonic()
        stats = BatchStats(positions=positions(records))
        fresh = _distinct(self._unseen(records, self.spec.name))
        stats.skipped = records.num_rows - fresh.num_rows
        stats.rows_in = fresh.num_rows  # = written + dead-lettered
        if not fresh.num_rows:
            stats.seconds = time.monotonic() - began
            return stats  # all committed already (a replay): nothing to write
        good, dead = self._validate(fresh)
        stats.dead_lettered = dead.num_rows
        # Only partitions with new records: a table's recorded offset never goes back.
        txns = {self.source.app_id(p): o for p, o in positions(fresh).items()}
        self._commit_dead_letters(dead, txns)
        stats.written = good.num_rows
        stats.version = self._commit_rows(good, txns, stats)
        if stats.version is not None:
            for op in self.operators:
                emitted, late = self._fold(op, good, stats.version)
                stats.windows_emitted += emitted
                stats.late += late
            stats.watermark = self._watermark()
        stats.seconds = time.monotonic() - began
        return stats

    # -- steps ---------------------------------------------------------------------------

    def _unseen(self, records: pa.Table, table: str) -> pa.Table:
        """Records after the offsets `table` already holds (all, on a first run)."""
        if not records.num_rows or not self.wh.exists(table):
            return records
        snapshot = self.wh.table(table)
        done = {p: snapshot.transaction_version(self.source.app_id(p)) for p in positions(records)}
        if all(v is None for v in done.values()):
            return records
        floor = pa.array(
            [done[p] if done[p] is not None else -1 for p in records[PARTITION].to_pylist()]
        )
        return records.filter(pc.greater(records[OFFSET], floor))

    def _validate(self, records: pa.Table) -> tuple[pa.Table, pa.Table]:
        """Good rows (typed, with _partition, _offset, _ingested_at) and dead letters."""
        now = utcnow()
        dead: list[dict[str, Any]] = []
        too_big = pc.greater(records[SIZE], self.source.max_record_bytes)
        if pc.any(too_big).as_py():
            for r in records.filter(too_big).to_pylist():
                dead.append(
                    self._dead(
                        r,
                        "oversize",
                        f"payload of {r[SIZE]} bytes is over {self.source.max_record_bytes}",
                        preview=True,
                    )
                )
        empty = pc.equal(pc.utf8_trim_whitespace(records[RAW]), "")
        if pc.any(empty).as_py():
            for r in records.filter(empty).to_pylist():
                dead.append(
                    self._dead(r, "empty_record", "empty payload (a blank line or a tombstone)")
                )
        all_records = records
        if dead:
            records = records.filter(pc.invert(pc.or_(too_big, empty)))
        if self.source.format == "avro":
            from assay.streaming.avro import decode

            records, undecodable = decode(records, self._avro_schema, self.source.avro_confluent)
            dead += [self._dead(r, "malformed_record", r["reason"]) for r in undecodable]
        lines = pa.table(
            {
                SOURCE_FILE: records[PARTITION],
                LINE: records[OFFSET],
                CONFORM_RAW: records[RAW],
                NOT_UTF8: records[NOT_UTF8],
            }
        )
        if not pc.any(records[NOT_UTF8]).as_py():
            lines = lines.drop_columns([NOT_UTF8])
        batch = parse_jsonl(self.engine, lines)
        dead += [
            self._dead(
                {PARTITION: r["source_file"], OFFSET: r["line"], RAW: r["raw_record"]},
                r["rule"],
                r["reason"],
            )
            for r in batch.rejects
        ]
        table_types = self._table_types()
        # A stream never stops on drift: a column missing from a batch is null, a value
        # that does not cast to the table's type is a dead letter, a new column is added.
        observed = {c: (table_types or {}).get(c, t) for c, t in batch.observed.items()}
        plan = plan_columns(
            self.spec.name, observed, table_types, self.source.columns, SchemaPolicy.EVOLVE, False
        )
        good, bad = conform(
            self.engine, batch.table, observed, plan, now, batch.source_sql, batch.text_values
        )
        dead += [
            self._dead(
                {PARTITION: r[SOURCE_FILE], OFFSET: r[LINE], RAW: r[CONFORM_RAW]},
                "cast",
                r["__reason"],
            )
            for r in bad.to_pylist()
        ]
        good, missing = self._required(good)
        dead += missing
        good, rejected = self._contract(good)
        dead += rejected
        good = good.rename_columns(
            [{SOURCE_FILE: PARTITION, LINE: OFFSET}.get(c, c) for c in good.column_names]
        )
        keys = (
            {
                (r[PARTITION], r[OFFSET]): r[KEY]
                for r in all_records.select([PARTITION, OFFSET, KEY]).to_pylist()
            }
            if dead
            else {}
        )
        for row in dead:
            row[KEY] = keys.get((row[PARTITION], row[OFFSET]))
        dead.sort(key=lambda row: (row[PARTITION], row[OFFSET]))  # in arrival order
        return good, pa.Table.from_pylist(dead, schema=DEAD_LETTER_SCHEMA)

    def _required(self, good: pa.Table) -> tuple[pa.Table, list[dict[str, Any]]]:
        """Rows without the declared key or event time cannot be placed: dead letters."""
        required = [c for c in (self.source.key, self.source.timestamp) if c]
        checks = [c for c in required if c in good.column_names]
        absent = [c for c in required if c not in good.column_names]
        if absent and good.num_rows:
            missing_mask = pa.array([True] * good.num_rows)
        elif checks:
            missing_mask = pc.is_null(good[checks[0]])
            for c in checks[1:]:
                missing_mask = pc.or_(missing_mask, pc.is_null(good[c]))
        else:
            return good, []
        if not pc.any(missing_mask).as_py():
            return good, []
        dead = []
        for r in good.filter(missing_mask).to_pylist():
            gone = [c for c in required if r.get(c) is None]
            dead.append(
                self._dead(
                    {PARTITION: r[SOURCE_FILE], OFFSET: r[LINE], RAW: _as_json(r)},
                    "missing_field",
                    f"record has no {' or '.join(gone)}",
                )
            )
        return good.filter(pc.invert(missing_mask)), dead

    def _contract(self, good: pa.Table) -> tuple[pa.Table, list[dict[str, Any]]]:
        contracts = self.project.contracts.get(self.spec.name)
        if not contracts or not good.num_rows:
            return good, []
        from assay.catalog.store import record_checks
        from assay.contracts.enforce import enforce, rows_as_json

        result = enforce(self.engine, contracts, good)
        record_checks(self.project.catalog, self.run_id, result.results, {})
        rows = result.rejected
        raws = rows_as_json(rows) if rows.num_rows else []
        dead = [
            self._dead(
                {PARTITION: r[SOURCE_FILE], OFFSET: r[LINE], RAW: raw},
                reason.split(":", 1)[0],
                reason,
            )
            for r, raw, reason in zip(rows.to_pylist(), raws, result.reasons, strict=True)
        ]
        return result.good, dead

    def _dead(
        self, record: dict[str, Any], rule: str, reason: str, preview: bool = False
    ) -> dict[str, Any]:
        raw = record.get(RAW)
        if preview and raw is not None:
            raw = raw[:1000]  # an oversize payload is kept as a preview, not in full
        return {
            "stream": self.spec.name,
            PARTITION: record[PARTITION],
            OFFSET: record[OFFSET],
            KEY: None,
            "raw_record": raw,
            "rule": rule,
            "reason": reason,
            "run_id": self.run_id,
            INGESTED_AT: utcnow(),
        }

    def _table_types(self) -> dict[str, str] | None:
        if not self.wh.exists(self.spec.name):
            return None
        skip = {PARTITION, OFFSET, INGESTED_AT}
        return {
            f.name: arrow_to_sql(f.type)
            for f in self.wh.schema(self.spec.name)
            if f.name not in skip
        }

    def _commit_dead_letters(self, dead: pa.Table, txns: dict[str, int]) -> None:
        name = dead_letter_name(self.spec.name)
        dead = self._unseen(dead, name)
        if not dead.num_rows:
            return
        topic = getattr(self.source, "dead_letter_topic", None)
        if topic:
            # Before the table commit: a crash in between sends them again (at least once).
            self._publish_dead_letters(topic, dead)
        self.wh.write(
            name,
            dead,
            mode=WriteMode.APPEND,
            metadata={"run_id": self.run_id, "stream": self.spec.name},
            app_transactions=txns,
        )

    def _publish_dead_letters(self, topic: str, dead: pa.Table) -> None:
        """Also send dead letters to a Kafka topic (after the table commit; at least once:
        a crash between the two sends them again on restart), with why in the headers."""
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

    def _commit_rows(self, good: pa.Table, txns: dict[str, int], stats: BatchStats) -> int | None:
        if not txns:
            return None
        exists = self.wh.exists(self.spec.name)
        metadata = {
            "run_id": self.run_id,
            "stream": {
                "rows_in": stats.rows_in,
                "written": good.num_rows,
                "dead_lettered": stats.dead_lettered,
                "positions": stats.positions,
                "host": socket.gethostname(),
                "pid": os.getpid(),
            },
        }
        return self.wh.write(
            self.spec.name,
            good,
            mode=WriteMode.APPEND if exists else WriteMode.OVERWRITE,
            metadata=metadata,
            partition_by=self.spec.partition_by,
            app_transactions=txns,
        )

    # -- windows -------------------------------------------------------------------------

    def _fold(self, op: WindowOperator, rows: pa.Table, version: int) -> tuple[int, int]:
        """Fold the rows of stream-table commit `version` into a window; commit its output."""
        window = op.spec
        out = op.process(rows)
        app = {f"stream:{self.spec.name}": version}
        meta = {"run_id": self.run_id, "stream": self.spec.name, "stream_version": version}
        late_done = self.wh.transaction_version(late_name(window.name), f"stream:{self.spec.name}")
        if out.late.num_rows and (late_done is None or late_done < version):
            self.wh.write(
                late_name(window.name),
                out.late,
                mode=WriteMode.APPEND,
                metadata=meta,
                app_transactions=app,
            )
        # Online first: versioned by event time, so a repeat after a crash is harmless,
        # while a window committed but not yet served would never be served.
        if window.name in self.views and out.emitted.num_rows:
            self._online(window, out.emitted, out.emitted[WINDOW_END])
        if window.name in self.views and window.emit == "update":
            current = op.current(rows, rows.schema)
            if current.num_rows:  # after the closed ones: fresher values win ties
                self._online(window, current, current["__tmax"])
        # Written even when nothing closed: the app transaction records the progress.
        exists = self.wh.exists(window.name)
        self.wh.write(
            window.name,
            out.emitted,
            mode=WriteMode.APPEND if exists else WriteMode.OVERWRITE,
            metadata=meta,
            app_transactions=app,
        )
        return out.emitted.num_rows, out.late.num_rows

    def _online(self, window: WindowSpec, emitted: pa.Table, stamps: Any) -> None:
        """Upsert windows' aggregates, versioned by `stamps` (window end, or latest event)."""
        from assay.features.online import EVENT_TS, to_micros

        view = self.views[window.name]
        rows = emitted.select([*window.keys, *(a.name for a in window.aggregations)])
        rows = rows.append_column(EVENT_TS, to_micros(stamps))
        self.project.features.online_store.write(view, rows)

    def catch_up_windows(self) -> None:
        """Rebuild each window's state from the stream table and fold in any commits it
        missed (a crash between the stream commit and the window commit)."""
        if not self.operators or not self.wh.exists(self.spec.name):
            return
        current = self.wh.version(self.spec.name) or 0
        # Only the stream's own appends hold new rows; a compaction or rewrite re-adds
        # rows already folded in.
        appends = {c.version for c in self.wh.history(self.spec.name) if "stream" in c.metadata}
        for op in self.operators:
            done = self.wh.transaction_version(op.spec.name, f"stream:{self.spec.name}")
            op.restore(self._rows_for_restore(op, done))
            start = 0 if done is None else done + 1
            schema = self.wh.schema(self.spec.name)
            for version in range(start, current + 1):
                if version not in appends:
                    continue
                added = self.wh.added_files(self.spec.name, version)
                rows = (
                    pads.dataset(added, format="parquet", schema=schema).to_table()
                    if added
                    else schema.empty_table()
                )
                self._fold(op, rows, version)

    def _rows_for_restore(self, op: WindowOperator, version: int | None) -> pa.Table:
        """The stream table at `version`, only the rows recent enough to be in open windows."""
        schema = self.wh.schema(self.spec.name)
        if version is None:
            return schema.empty_table()
        data = self.wh.dataset(self.spec.name, version)
        ts = self.source.timestamp
        # From the files' statistics (at most rounded down: the horizon only has to be low
        # enough); a scan of the column only when the table has none.
        newest = newest_value(self.wh, self.spec.name, ts, version)
        if newest is None:
            newest = pc.max(data.to_table(columns=[ts])[ts]).as_py()
        if newest is None:
            return schema.empty_table()
        horizon = newest - op.spec.allowed_lateness - op.spec.window.size - op.spec.window.slide
        return data.to_table(filter=pads.field(ts) >= pa.scalar(horizon, schema.field(ts).type))

    def _watermark(self) -> Any:
        from assay.streaming.windows import to_datetime

        marks = [op.watermark for op in self.operators if op.watermark is not None]
        return to_datetime(min(marks)) if marks else None


def _as_json(row: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in row.items() if not k.startswith("_")}, default=str)


def newest_value(warehouse: Any, table: str, column: str, version: int | None = None) -> Any:
    """The largest value of `column` by the data files' statistics (None without them)."""
    actions = warehouse.file_actions(table, version)
    stat = f"max.{column}"
    if stat not in actions.column_names:
        return None
    values = [v for v in actions[stat].to_pylist() if v is not None]
    if not values or len(values) < actions.num_rows:
        return None  # some file has no statistics: they cannot bound the column
    newest = max(values)
    return newest.replace(tzinfo=None) if hasattr(newest, "tzinfo") else newest


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
