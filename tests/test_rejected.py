"""Rejected rows: quarantine tables and dead-letter tables share one shape and one writer,
and tables created before that shape (the old layouts, written here by hand) stay writable
and read in the shared shape."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest

from assay.pipelines.quarantine import quarantine_name, rows_to_table
from assay.pipelines.rejected import (
    DEAD_LETTERS,
    QUARANTINE,
    SCHEMA,
    Rejected,
    read_rejected,
    write_quarantine,
)
from assay.streaming.sink import FencedTable, commit_dead_letters
from assay.tables import Warehouse, WriteMode

AT = datetime(2026, 1, 2, 3, 4, 5)

#: The layouts before the shared shape, as tables created then hold them.
OLD_QUARANTINE = pa.schema(
    [
        ("run_id", pa.string()),
        ("dataset", pa.string()),
        ("batch_key", pa.string()),
        ("source_file", pa.string()),
        ("line", pa.int64()),
        ("raw_record", pa.string()),
        ("rule", pa.string()),
        ("reason", pa.string()),
        ("quarantined_at", pa.timestamp("us")),
    ]
)
OLD_DEAD_LETTERS = pa.schema(
    [
        ("stream", pa.string()),
        ("_partition", pa.string()),
        ("_offset", pa.int64()),
        ("_key", pa.string()),
        ("raw_record", pa.large_string()),
        ("rule", pa.string()),
        ("reason", pa.string()),
        ("run_id", pa.string()),
        ("_ingested_at", pa.timestamp("us")),
    ]
)


@pytest.fixture
def wh(tmp_path: Path) -> Warehouse:
    return Warehouse(str(tmp_path / "wh"))


def _quarantine_row(file: str, line: int, raw: str) -> dict[str, object]:
    return {
        "batch_key": file,
        "source_file": file,
        "line": line,
        "raw_record": raw,
        "rule": "cast",
        "reason": f"column n: {raw} is not BIGINT",
    }


def test_both_families_hold_the_shared_shape_and_their_own_columns() -> None:
    for family in (QUARANTINE, DEAD_LETTERS):
        schema = family.schema
        for f in SCHEMA:
            # raw_record keeps each family's Arrow width; Delta stores both as `string`
            assert f.name in schema.names
            if f.name != "raw_record":
                assert schema.field(f.name).type == f.type, (family.layer, f.name)
    # every column users query today is still there, in its old order, first
    assert QUARANTINE.schema.names[: len(OLD_QUARANTINE)] == OLD_QUARANTINE.names
    assert DEAD_LETTERS.schema.names[: len(OLD_DEAD_LETTERS)] == OLD_DEAD_LETTERS.names


def test_quarantine_rows_fill_shared_and_own_columns() -> None:
    rows = rows_to_table([_quarantine_row("a.jsonl", 2, "x")], "r1", "bronze.t", AT)
    (row,) = rows.to_pylist()
    assert (row["source_file"], row["line"], row["quarantined_at"]) == ("a.jsonl", 2, AT)
    assert (row["source"], row["position"], row["rejected_at"]) == ("a.jsonl", 2, AT)
    assert (row["dataset"], row["run_id"], row["record_key"]) == ("bronze.t", "r1", None)


def test_old_quarantine_table_stays_writable_and_reads_in_the_shared_shape(
    wh: Warehouse,
) -> None:
    name = quarantine_name("bronze.t")
    old = pa.Table.from_pylist(
        [
            {**_quarantine_row("a.jsonl", 1, "old-a"), "run_id": "r0", "dataset": "bronze.t"},
            {**_quarantine_row("b.jsonl", 4, "old-b"), "run_id": "r0", "dataset": "bronze.t"},
        ],
        schema=OLD_QUARANTINE,
    )
    wh.write(name, old, mode=WriteMode.OVERWRITE, metadata={"run_id": "r0"})
    # a.jsonl is re-read: its earlier reject is replaced, b.jsonl's stays
    new = rows_to_table([_quarantine_row("a.jsonl", 3, "new-a")], "r1", "bronze.t", AT)
    write_quarantine(wh, "bronze.t", new, {"run_id": "r1"}, batch_keys=["a.jsonl"])
    table = wh.read(name)
    assert set(QUARANTINE.schema.names) <= set(table.column_names)
    kept = sorted((r["source_file"], r["line"], r["raw_record"]) for r in table.to_pylist())
    assert kept == [("a.jsonl", 3, "new-a"), ("b.jsonl", 4, "old-b")]
    shared = read_rejected(wh, name).sort_by("position").to_pylist()
    assert [(r["source"], r["position"], r["run_id"]) for r in shared] == [
        ("a.jsonl", 3, "r1"),
        ("b.jsonl", 4, "r0"),  # an old row: source and position read from its own columns
    ]
    assert read_rejected(wh, name).schema == SCHEMA


def test_write_quarantine_creates_appends_and_replaces(wh: Warehouse) -> None:
    assert write_quarantine(wh, "bronze.t", None, {"run_id": "r0"}) is None  # nothing to hold
    assert not wh.exists("quarantine.bronze_t")
    first = rows_to_table([_quarantine_row("a", 1, "1")], "r1", "bronze.t", AT)
    write_quarantine(wh, "bronze.t", first, {"run_id": "r1"})
    second = rows_to_table([_quarantine_row("b", 1, "2")], "r2", "bronze.t", AT)
    write_quarantine(wh, "bronze.t", second, {"run_id": "r2"})  # no batch keys: appended
    assert sorted(wh.read("quarantine.bronze_t")["batch_key"].to_pylist()) == ["a", "b"]
    write_quarantine(wh, "bronze.t", None, {"run_id": "r3"}, batch_keys=["a"])  # a is clean now
    assert wh.read("quarantine.bronze_t")["batch_key"].to_pylist() == ["b"]
    write_quarantine(wh, "bronze.t", first, {"run_id": "r4"}, replace_all=True)
    assert wh.read("quarantine.bronze_t")["batch_key"].to_pylist() == ["a"]


def _old_dead_letters(offsets: list[int]) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "stream": "bronze.events",
                "_partition": "p0",
                "_offset": o,
                "_key": f"k{o}",
                "raw_record": "{oops",
                "rule": "malformed_record",
                "reason": "not JSON",
                "run_id": "r0",
                "_ingested_at": AT,
            }
            for o in offsets
        ],
        schema=OLD_DEAD_LETTERS,
    )


def test_old_dead_letter_table_stays_writable_and_fenced(wh: Warehouse) -> None:
    name = DEAD_LETTERS.name("bronze.events")
    table = FencedTable(wh, name, lambda p: f"file:{p}")
    wh.write(
        name,
        _old_dead_letters([1]),
        mode=WriteMode.APPEND,
        metadata={"run_id": "r0"},
        app_transactions={"file:p0": 1},
    )
    # the validator's rows, in the old layout, land in the shared shape too
    assert commit_dead_letters(table, _old_dead_letters([1, 5]), {"p0": 5}, {"run_id": "r1"}) == 1
    assert commit_dead_letters(table, _old_dead_letters([5]), {"p0": 5}, {"run_id": "r2"}) == 0
    assert wh.transaction_version(name, "file:p0") == 5
    rows = wh.read(name).sort_by("_offset").to_pylist()
    assert [(r["_offset"], r["position"], r["source"]) for r in rows] == [
        (1, None, None),  # written before the shared shape
        (5, 5, "p0"),
    ]
    shared = read_rejected(wh, name).sort_by("position").to_pylist()
    assert [(r["dataset"], r["source"], r["position"], r["record_key"]) for r in shared] == [
        ("bronze.events", "p0", 1, "k1"),
        ("bronze.events", "p0", 5, "k5"),
    ]


def test_dead_letters_in_the_shared_shape_fill_the_tables_own_columns(wh: Warehouse) -> None:
    name = DEAD_LETTERS.name("bronze.events")
    rows = DEAD_LETTERS.table(
        [Rejected("empty_record", "empty payload", "", "p1", 9, record_key="k")],
        "bronze.events",
        "r1",
        AT,
    )
    table = FencedTable(wh, name, lambda p: f"file:{p}")
    assert commit_dead_letters(table, rows, {"p1": 9}, {"run_id": "r1"}) == 1
    (row,) = wh.read(name).to_pylist()
    assert (row["stream"], row["_partition"], row["_offset"], row["_key"]) == (
        "bronze.events",
        "p1",
        9,
        "k",
    )
    assert row["_ingested_at"] == row["rejected_at"] == AT
