"""Each kind's write strategy on its own: what a batch records, how it is written, how its
rejected rows are keyed (no project, no runner)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pyarrow as pa
import pytest

from assay.engines import TableRef, get_engine
from assay.errors import AssayError, UsageError
from assay.intervals import Interval
from assay.pipelines.producers import Output, Producer, RunContext
from assay.pipelines.sources import PythonSource
from assay.pipelines.spec import DatasetSpec, Kind
from assay.pipelines.strategies import (
    AppendStrategy,
    Batch,
    FullStrategy,
    IncrementalStrategy,
    MergeStrategy,
    StreamStrategy,
    strategy_for,
)
from assay.pipelines.transforms import SqlTransform
from assay.tables import Warehouse, WriteMode
from assay.tables.commitmeta import CommitMeta, DatasetState, FileStamp

DAYS = [Interval(datetime(2026, 1, d), datetime(2026, 1, d + 1)) for d in (1, 2)]


class RecordingWriter:
    """Stands in for the table writer: records what the strategy asked it to do."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def write(self, name: str, data: Any, **options: Any) -> int:
        self.calls.append(("write", options))
        return 3

    def merge(self, name: str, data: Any, **options: Any) -> int | None:
        self.calls.append(("merge", options))
        return None


class AStream(Producer):
    """A stream's producer, as streaming declares them: `assay stream` runs it."""

    is_source = is_stream = True

    def code_fingerprint(self) -> str:
        return "s"

    def produce(self, ctx: RunContext) -> Iterator[Output]:
        raise UsageError("a stream")


def spec(kind: Kind, **options: Any) -> DatasetSpec:
    producer = SqlTransform("SELECT 1") if kind is not Kind.APPEND else PythonSource(print)
    return DatasetSpec(name="silver.x", kind=kind, producer=producer, **options)


def context(tmp_path, dataset: DatasetSpec, **options: Any) -> RunContext:
    wh = Warehouse(str(tmp_path))
    return RunContext(
        run_id="r1",
        dataset=dataset,
        engine=get_engine("duckdb", wh),
        warehouse=wh,
        project_root=str(tmp_path),
        ingested_at=datetime(2026, 1, 9),
        inputs={"bronze.a": TableRef("bronze.a", 4), "bronze.b": TableRef("bronze.b", None)},
        state=DatasetState(),
        **options,
    )


def test_strategy_per_kind_and_streams_have_their_own():
    assert type(strategy_for(spec(Kind.APPEND))) is AppendStrategy
    assert type(strategy_for(spec(Kind.FULL))) is FullStrategy
    assert type(strategy_for(spec(Kind.MERGE, keys=("id",)))) is MergeStrategy
    incremental = spec(Kind.INCREMENTAL, time_column="ts")
    assert type(strategy_for(incremental)) is IncrementalStrategy
    stream = DatasetSpec("bronze.s", Kind.APPEND, AStream())
    assert type(strategy_for(stream)) is StreamStrategy


def test_recorded_metadata_names_run_code_inputs_and_what_the_batch_did(tmp_path):
    dataset = spec(Kind.INCREMENTAL, time_column="ts")
    ctx = context(tmp_path, dataset)
    meta = strategy_for(dataset).record(ctx, Output(data=None), DAYS)
    assert meta == CommitMeta(
        run_id="r1",
        fingerprint=dataset.fingerprint,
        inputs={"bronze.a": 4},  # an input not built has no version to record
        intervals=tuple(DAYS),
    )
    files = (FileStamp("data/a.csv", 1, 2),)
    out = Output(data=None, metadata=CommitMeta(files=files))
    ctx.replace_table = True
    meta = strategy_for(spec(Kind.APPEND)).record(ctx, out, None)
    assert (meta.files, meta.intervals, meta.reset) == (files, None, True)


def test_which_empty_batches_still_commit(tmp_path):
    out, with_files = Output(data=None), Output(data=None, metadata=CommitMeta(files=()))
    ctx = context(tmp_path, spec(Kind.FULL))
    assert FullStrategy().commits_when_empty(ctx, out, exists=True)
    assert IncrementalStrategy().commits_when_empty(ctx, out, exists=True)
    assert not MergeStrategy().commits_when_empty(ctx, out, exists=True)
    assert MergeStrategy().commits_when_empty(ctx, out, exists=False)
    assert not AppendStrategy().commits_when_empty(ctx, out, exists=True)
    assert AppendStrategy().commits_when_empty(ctx, with_files, exists=True)
    empty = pa.table({"a": pa.array([], pa.int64())})
    assert IncrementalStrategy().is_empty_batch(empty, counted=True)
    assert not IncrementalStrategy().is_empty_batch(empty, counted=False)
    assert not FullStrategy().is_empty_batch(empty, counted=True)


def test_append_replaces_the_rows_of_files_read_before(tmp_path):
    ctx = context(tmp_path, spec(Kind.APPEND))
    files = (FileStamp("data/it's.csv", 1, 2),)
    data = pa.table({"a": [1]})
    writer = RecordingWriter()
    AppendStrategy().write(writer, ctx.warehouse, Batch(ctx, data, CommitMeta(files=files)))
    [(_, options)] = writer.calls
    assert options["mode"] is WriteMode.OVERWRITE
    assert options["predicate"].sql() == "\"_source_file\" IN ('data/it''s.csv')"
    writer = RecordingWriter()
    batch = Batch(ctx, data, CommitMeta(files=files), append_only=True)
    AppendStrategy().write(writer, ctx.warehouse, batch)
    assert writer.calls[0][1]["mode"] is WriteMode.APPEND and "predicate" not in writer.calls[0][1]


def test_incremental_replaces_exactly_its_intervals_as_the_column_type_reads(tmp_path):
    dataset = spec(Kind.INCREMENTAL, time_column="day")
    ctx = context(tmp_path, dataset)
    ctx.warehouse.write(
        dataset.name,
        pa.table({"day": pa.array([datetime(2026, 1, 1).date()], pa.date32())}),
        mode=WriteMode.OVERWRITE,
        metadata={},
    )
    writer = RecordingWriter()
    batch = Batch(ctx, pa.table({"day": [DAYS[0].start.date()]}), CommitMeta(), DAYS)
    IncrementalStrategy().write(writer, ctx.warehouse, batch)
    predicate = writer.calls[0][1]["predicate"]
    assert predicate.sql() == "\"day\" >= '2026-01-01' AND \"day\" < '2026-01-03'"
    assert IncrementalStrategy().may_hold_rows(ctx.warehouse, dataset, DAYS[:1])
    later = [Interval(datetime(2026, 2, 1), datetime(2026, 2, 2))]
    assert not IncrementalStrategy().may_hold_rows(ctx.warehouse, dataset, later)
    assert FullStrategy().may_hold_rows(ctx.warehouse, dataset, later)


def test_merge_refuses_a_batch_holding_a_key_twice(tmp_path):
    dataset = spec(Kind.MERGE, keys=("id", "select"))
    ctx = context(tmp_path, dataset)
    unique = pa.table({"id": [1, 1], "select": ["a", "b"]})
    MergeStrategy().check(ctx, unique, ctx.engine)
    twice = pa.table({"id": [1, 1, 2], "select": ["a", "a", "b"]})
    with pytest.raises(AssayError, match=r"duplicate keys .*id=1, select='a' \(2 rows\)"):
        MergeStrategy().check(ctx, twice, ctx.engine)


def test_merge_and_full_write_as_their_kind(tmp_path):
    ctx = context(tmp_path, spec(Kind.MERGE, keys=("id",)))
    writer = RecordingWriter()
    batch = Batch(ctx, pa.table({"id": [1]}), CommitMeta(run_id="r1"))
    assert MergeStrategy().write(writer, ctx.warehouse, batch) is None  # no row changed
    assert writer.calls == [("merge", {"keys": ("id",), "metadata": {"run_id": "r1"}})]
    writer = RecordingWriter()
    assert FullStrategy().write(writer, ctx.warehouse, batch) == 3
    assert writer.calls[0][1]["mode"] is WriteMode.OVERWRITE


def test_a_run_never_writes_a_stream(tmp_path):
    ctx = context(tmp_path, spec(Kind.APPEND))
    with pytest.raises(UsageError, match="written by its stream"):
        StreamStrategy().write(
            RecordingWriter(), ctx.warehouse, Batch(ctx, pa.table({}), CommitMeta())
        )


def test_rejected_rows_are_keyed_so_a_rerun_replaces_them():
    incremental = spec(Kind.INCREMENTAL, time_column="ts")
    inc = IncrementalStrategy()
    assert inc.reject_key(incremental, {"ts": datetime(2026, 1, 2, 5)}, DAYS) == DAYS[1].key()
    assert inc.reject_key(incremental, {"ts": None}, DAYS) == DAYS[0].key()
    assert inc.cleared_keys(incremental, DAYS) == [d.key() for d in DAYS]
    merge = spec(Kind.MERGE, keys=("id", "region"))
    assert MergeStrategy().reject_key(merge, {"id": 7, "region": "eu"}, None) == 'key:[7, "eu"]'
    assert MergeStrategy().cleared_keys(merge, None) == []
    full = spec(Kind.FULL)
    assert FullStrategy().reject_key(full, {"a": 1}, None) == "full"
    assert FullStrategy().cleared_keys(full, None) == ["full"]
