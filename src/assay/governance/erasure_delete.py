"""Delete a subject's rows from a table in one commit, and purge them from its history.

The delete is a MERGE (`Warehouse.delete_rows`): its Delta log entry names the matched
column, never the subject's value, as a predicate's text would. With `purge_history` the
table's older versions stop holding the subject: files no version needs any more are
vacuumed (time travel to versions before the erasure is lost for the table), and the
statistics of removed files (their min/max values, which can be the subject's value) are
stripped from the old log entries, old checkpoints removed and a new one written.

Example:
    >>> version_of("00000000000000000012.checkpoint.parquet")
    12
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from assay.governance.erasure_find import TablePlan, matched_rows
from assay.governance.erasure_match import Needles, row_mask

if TYPE_CHECKING:
    from assay.runtime import Runtime


@dataclass(frozen=True)
class TableErased:
    """What erasing one table did."""

    table: str
    rows_deleted: int
    files_rewritten: int
    commits: int
    version: int | None


@dataclass(frozen=True)
class HistoryPurged:
    """What purging one table's history did."""

    table: str
    files_vacuumed: int
    log_entries_rewritten: int
    checkpoints_removed: int
    checkpoint_version: int


def erase_table(rt: Runtime, plan: TablePlan, needles: Needles, run: str) -> TableErased:
    """Delete the subject's rows of `plan.table` in one commit (see `_match_column`)."""
    meta = {"maintenance": "erasure", "erasure": run}
    commits, deleted, rewritten, version = 0, 0, 0, None
    for match in _matches(rt, plan, needles):
        result = rt.warehouse.delete_rows(plan.table, match, meta)
        if result.version is not None:
            commits += 1
            version = result.version
        deleted += result.rows_deleted
        rewritten += result.files_removed
    return TableErased(plan.table, deleted, rewritten, commits, version)


def _matches(rt: Runtime, plan: TablePlan, needles: Needles) -> list[pa.Table]:
    """One match table (a column and the values to delete on it) when one column tells
    exactly the subject's rows from the others, which is the usual case (a customer's
    cards are theirs alone); otherwise one per column, each its own commit."""
    candidates = [*plan.columns, *plan.raw]
    subject = matched_rows(rt, plan, needles, candidates)
    for column in candidates:
        values = pc.unique(pc.drop_null(subject.column(column)))
        covers = len(values) and pc.all(pc.is_valid(subject.column(column))).as_py()
        if covers and _exactly(rt, plan, needles, column, values):
            return [pa.table({column: values})]
    return [
        pa.table({c: pc.unique(pc.drop_null(subject.column(c)))})
        for c in candidates
        if subject.column(c).null_count < len(subject)
    ]


def _exactly(rt: Runtime, plan: TablePlan, needles: Needles, column: str, values: Any) -> bool:
    """Whether every row with `column` in `values` is one of the subject's rows."""
    used = list(dict.fromkeys([*plan.columns, *plan.raw, column]))
    for batch in rt.warehouse.dataset(plan.table).to_batches(columns=used):
        hit = pc.fill_null(pc.is_in(batch.column(column), values), False)
        mine = row_mask(batch, plan.columns, plan.raw, needles)
        if pc.any(pc.and_(hit, pc.invert(mine))).as_py():
            return False
    return True


def purge_history(rt: Runtime, table: str, needles: Needles) -> HistoryPurged:
    """Make `table`'s older versions forget what the current one no longer holds."""
    vacuumed = rt.warehouse.vacuum(table, 0)
    log_dir = Path(rt.warehouse.uri(table)) / "_delta_log"
    live = set(rt.warehouse.file_actions(table)["path"].to_pylist())
    entries = sorted(log_dir.glob("*.json"))
    rewritten = sum(_strip_stats(path, live, needles) for path in entries)
    delta = rt.warehouse.table(table)
    delta.create_checkpoint()
    newest = delta.version()
    removed = 0
    for path in log_dir.glob("*.checkpoint*.parquet"):
        if version_of(path.name) < newest:
            path.unlink()
            removed += 1
    return HistoryPurged(table, len(vacuumed), rewritten, removed, newest)


def version_of(name: str) -> int:
    """The version a `_delta_log` file is of (its leading digits)."""
    return int(name.split(".", 1)[0])


def _strip_stats(path: Path, live: set[str], needles: Needles) -> int:
    """Drop the statistics of files no longer in the table from one log entry, and blank
    an operation's parameter that names the subject (a delete's predicate text); written
    anew, atomically; 1 when the entry changed. A reader needs no statistics (they only
    let it skip files), and these files are gone after the vacuum."""
    lines = path.read_text(encoding="utf-8").splitlines()
    changed = False
    out = []
    for line in lines:
        action: dict[str, Any] = json.loads(line) if line.strip() else {}
        for kind in ("add", "remove"):
            entry = action.get(kind)
            if entry and entry.get("path") not in live and entry.get("stats"):
                entry.pop("stats")
                changed = True
        parameters = (action.get("commitInfo") or {}).get("operationParameters") or {}
        for name, value in parameters.items():
            if needles.in_text(json.dumps(value)):
                parameters[name] = "<erased>"
                changed = True
        out.append(json.dumps(action, separators=(",", ":")) if line.strip() else line)
    if changed:
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text("\n".join(out) + "\n", encoding="utf-8")
        os.replace(temporary, path)
    return int(changed)
