"""Commit metadata and dataset state: one codec, and logs written by older versions decode."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from assay.intervals import Interval
from assay.tables import Warehouse, WriteMode
from assay.tables.commitmeta import (
    CommitMeta,
    DatasetState,
    FileStamp,
    decode_metadata,
    encode_metadata,
)

DAY1 = Interval(datetime(2026, 1, 1), datetime(2026, 1, 2))
DAY2 = Interval(datetime(2026, 1, 2), datetime(2026, 1, 3))

#: A commit's `commitInfo` as an earlier assay wrote it (delta-rs custom metadata: text).
OLD_ENTRY = {
    "version": 4,
    "operation": "WRITE",
    "assay.run_id": "a1b2c3",
    "assay.fingerprint": "f00d",
    "assay.inputs": '{"bronze.events": 7}',
    "assay.intervals": '["2026-01-01T00:00:00/2026-01-02T00:00:00"]',
    "assay.files": '[{"path": "data/a.jsonl", "size": 12, "mtime_ns": 99}]',
    "assay.reset": "true",
    "assay.content_hash": "3:42:abc",
    "assay.widened": '{"amount": "DOUBLE"}',
}


def test_a_commit_written_by_an_older_version_decodes_typed():
    meta = CommitMeta.decode(decode_metadata(OLD_ENTRY))
    assert meta.run_id == "a1b2c3"
    assert meta.fingerprint == "f00d"
    assert meta.inputs == {"bronze.events": 7}
    assert meta.intervals == (DAY1,)
    assert meta.files == (FileStamp("data/a.jsonl", 12, 99),)
    assert meta.reset is True
    assert meta.content_hash == "3:42:abc"
    assert meta.extra == {"widened": {"amount": "DOUBLE"}}


def test_encoding_writes_the_keys_older_versions_wrote():
    meta = CommitMeta.decode(decode_metadata(OLD_ENTRY))
    encoded = encode_metadata(meta)
    assert encoded == {k: v for k, v in OLD_ENTRY.items() if k.startswith("assay.")}


def test_a_spark_commit_carries_its_keys_in_user_metadata():
    entry = {"userMetadata": '{"assay": {"assay.run_id": "r9", "assay.intervals": "[]"}}'}
    assert CommitMeta.decode(decode_metadata(entry)) == CommitMeta(run_id="r9", intervals=())


def test_absent_keys_stay_absent():
    # A quarantine or widening commit says nothing of fingerprint or inputs.
    meta = CommitMeta(run_id="r1", extra={"dataset": "bronze.x"})
    assert meta.encode() == {"run_id": "r1", "dataset": "bronze.x"}
    assert CommitMeta.decode(meta.encode()) == meta


def test_state_folds_commits_in_order_and_a_reset_starts_over():
    state = DatasetState()
    state = state.folded(CommitMeta(run_id="r1", fingerprint="f1", inputs={"a.b": 1}), 0)
    state = state.folded(CommitMeta(run_id="r2", cursor="2026-01-05"), 1)
    assert state == DatasetState(
        version=1, fingerprint="f1", inputs={"a.b": 1}, cursor="2026-01-05", run_id="r2"
    )
    state = state.folded(CommitMeta(run_id="r3", fingerprint="f2", inputs={}, reset=True), 2)
    assert state == DatasetState(version=2, fingerprint="f2", inputs={}, run_id="r3")


def test_state_round_trips_through_the_catalog_json_and_reads_old_rows():
    state = DatasetState(version=3, fingerprint="f", inputs={"a.b": 2}, content_hash="h")
    assert DatasetState.from_json(state.to_json()) == state
    # A row an older version stored: a plain dict, keys as the log names them.
    old = {"fingerprint": "f", "inputs": {"a.b": 2}, "run_id": "r", "version": 3}
    assert DatasetState.from_json(old) == DatasetState(
        version=3, fingerprint="f", inputs={"a.b": 2}, run_id="r"
    )


def test_the_log_reader_returns_typed_metadata(tmp_path):
    wh = Warehouse(str(tmp_path))
    meta = CommitMeta(run_id="r1", fingerprint="f", inputs={}, intervals=(DAY1, DAY2))
    wh.write("silver.x", pa.table({"a": [1]}), mode=WriteMode.OVERWRITE, metadata=meta)
    [commit] = wh.history("silver.x")
    assert commit.meta == meta
    assert commit.metadata["intervals"] == [DAY1.key(), DAY2.key()]
