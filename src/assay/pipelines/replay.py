"""`assay quarantine replay`: re-validate quarantined rows after a fix (a declared type, a
relaxed contract) and move the rows that now pass into the dataset's table.

Crash-safe in two commits: the data commit names the rows it took (`replayed`), and the
quarantine rewrite that removes them names that data commit (`replay_commits`). A data
commit no rewrite names is unfinished: the next replay first removes its rows from the
quarantine, whatever ran in between (a run may have committed to the table since), and only
the rows quarantined before it, so a row quarantined again later by a re-read file stays.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from assay.contracts import Contract
from assay.engines import Engine
from assay.engines.types import arrow_to_sql
from assay.intervals import utcnow
from assay.pipelines.conform import RAW, conform, plan_columns
from assay.pipelines.files import parse_jsonl
from assay.pipelines.producers import INGESTED_AT, LINE, SOURCE_FILE, SYSTEM_COLUMNS
from assay.pipelines.quarantine import quarantine_name
from assay.pipelines.spec import SchemaPolicy
from assay.tables import Warehouse, WriteMode


@dataclass(frozen=True)
class ReplayOutcome:
    replayed: int
    remaining: int


def row_id(row: Mapping[str, Any]) -> str:
    """A stable id of a quarantine row: its batch, line and raw record."""
    text = f"{row.get('batch_key')}|{row.get('line')}|{row.get('raw_record')}"
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def replay_quarantine(
    engine: Engine,
    warehouse: Warehouse,
    dataset: str,
    contracts: Sequence[Contract],
    run_id: str,
    protected: Collection[str] = (),
) -> ReplayOutcome:
    """Move the quarantined rows of `dataset` that now pass into its table.

    `protected`: the columns the source masks or drops at ingest. A row rejected because
    one of them did not cast stays: its raw record holds the mask of a value that never
    was valid (stored as text, the mask would pass), or no value at all."""
    qname = quarantine_name(dataset)
    if not warehouse.exists(qname) or not warehouse.exists(dataset):
        return ReplayOutcome(0, 0)
    finished = _finish_unfinished(warehouse, dataset, qname, run_id)
    rows = warehouse.read(qname)
    ids = [row_id(r) for r in rows.select(["batch_key", "line", "raw_record"]).to_pylist()]
    eligible = _replayable(rows, protected)
    passing, indices = _revalidate(engine, warehouse, dataset, contracts, rows.filter(eligible))
    positions = [i for i, ok in enumerate(eligible.to_pylist()) if ok]
    indices = [positions[i] for i in indices]
    taken = {ids[i] for i in indices}
    if not passing.num_rows:
        return ReplayOutcome(finished, rows.num_rows)
    version = warehouse.write(
        dataset,
        passing,
        mode=WriteMode.APPEND,
        evolve_schema=False,
        metadata={"run_id": run_id, "replay_of": qname, "replayed": sorted(taken)},
    )
    keep = pa.array([i not in taken for i in ids])
    _rewrite(warehouse, qname, rows.filter(keep), dataset, run_id, [version], len(taken))
    return ReplayOutcome(finished + len(taken), rows.num_rows - len(taken))


def _replayable(rows: pa.Table, protected: Collection[str]) -> pa.Array:
    """Per quarantine row, whether it may be replayed: not rejected on a protected column
    (its reason names the column: `column seats: (value withheld) is not INTEGER`)."""
    reasons = pc.fill_null(rows["reason"], "") if "reason" in rows.column_names else None
    keep = pa.array([True] * rows.num_rows)
    for column in protected if reasons is not None else ():
        named = pc.match_substring(reasons, f"column {column}: ")
        keep = pc.and_(keep, pc.invert(named))
    return keep


def _finish_unfinished(warehouse: Warehouse, dataset: str, qname: str, run_id: str) -> int:
    """Remove from the quarantine the rows of replay commits whose rewrite never happened
    (a replay killed between its two commits); return how many rows that removed."""
    named = {v for c in warehouse.history(qname) for v in c.metadata.get("replay_commits", [])}
    unfinished = []
    for commit in warehouse.history(dataset):  # newest first
        if "replay_of" in commit.metadata and commit.version not in named:
            unfinished.append(commit)
        if commit.metadata.get("reset"):
            break  # the table was replaced: older replays are gone with it
    if not unfinished:
        return 0
    rows = warehouse.read(qname)
    ids = [row_id(r) for r in rows.select(["batch_key", "line", "raw_record"]).to_pylist()]
    stamps = rows["quarantined_at"].to_pylist()
    drop = [False] * rows.num_rows
    for commit in unfinished:
        taken = set(commit.metadata.get("replayed", []))
        committed_at = commit.timestamp.replace(tzinfo=None)
        for i, (rid, at) in enumerate(zip(ids, stamps, strict=True)):
            drop[i] = drop[i] or (rid in taken and (at is None or at <= committed_at))
    versions = [c.version for c in unfinished]
    _rewrite(
        warehouse, qname, rows.filter(pa.array([not d for d in drop])), dataset, run_id,
        versions, sum(drop),
    )  # fmt: skip
    return sum(drop)


def _rewrite(
    warehouse: Warehouse,
    qname: str,
    rows: pa.Table,
    dataset: str,
    run_id: str,
    replay_commits: list[int],
    removed: int,
) -> None:
    """The quarantine without the replayed rows, naming the replay commits it finishes."""
    warehouse.write(
        qname,
        rows,
        mode=WriteMode.OVERWRITE,
        metadata={
            "run_id": run_id,
            "dataset": dataset,
            "replayed": removed,
            "replay_commits": replay_commits,
        },
    )


def _revalidate(
    engine: Engine,
    warehouse: Warehouse,
    dataset: str,
    contracts: Sequence[Contract],
    rows: pa.Table,
) -> tuple[pa.Table, list[int]]:
    """Parse raw records as JSON against the table's current types and contracts; return
    the passing rows (in the table's schema) and their positions in `rows`."""
    schema = warehouse.schema(dataset)
    n = rows.num_rows
    raw = pc.fill_null(rows["raw_record"], "")
    lines = pa.table(
        {
            SOURCE_FILE: pa.array([""] * n, pa.string()),
            LINE: pa.array(range(n), pa.int64()),
            RAW: raw.cast(pa.large_string()),
        }
    )
    batch = parse_jsonl(engine, lines)
    types = {f.name: arrow_to_sql(f.type) for f in schema if f.name not in SYSTEM_COLUMNS}
    plan = plan_columns(dataset, batch.observed, types, {}, SchemaPolicy.DISCARD, True)
    good, _ = conform(
        engine, batch.table, batch.observed, plan, utcnow(), batch.source_sql, batch.text_values
    )
    if contracts and good.num_rows:
        from assay.contracts.enforce import enforce

        good = enforce(engine, contracts, good).good
    indices = good[LINE].to_pylist()
    taken = pa.array(indices, pa.int64())
    # Provenance of source rows is kept: the original file and line, ingested now.
    columns = {}
    for f in schema:
        if f.name == SOURCE_FILE:
            columns[f.name] = rows["source_file"].take(taken).cast(f.type)
        elif f.name == LINE:
            columns[f.name] = rows["line"].take(taken).cast(f.type)
        elif f.name == INGESTED_AT:
            columns[f.name] = good[INGESTED_AT].cast(f.type)
        elif f.name in good.column_names:
            columns[f.name] = good[f.name].cast(f.type)
        else:
            columns[f.name] = pa.nulls(good.num_rows, f.type)
    return pa.table(columns, schema=schema), indices
