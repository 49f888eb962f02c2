"""A stream's micro-batches are metered like a run's datasets: the committed batches of a
stream run add up, per UTC hour, into one cost row (CPU, bytes read and written, rows),
checked against the files delta-rs lists; a run that finds nothing new costs nothing."""

from __future__ import annotations

import os
from pathlib import Path

from deltalake import DeltaTable

import assay
from assay.catalog.run_costs import usage_between
from assay.streaming.runner import StreamRunner
from assay.streaming.validate import dead_letter_name
from tests.conftest import MakeProject
from tests.streaming.test_folder_stream import PIPELINE, event, write


def _bytes_on_disk(table: Path) -> int:
    files = DeltaTable(str(table)).file_uris()
    return sum(os.path.getsize(f.removeprefix("file://")) for f in files)


def test_each_committed_micro_batch_records_what_it_used(make_project: MakeProject) -> None:
    root = make_project({"pipelines/events.py": PIPELINE.replace("MAX_ROWS", "20")})
    write(root, "a.jsonl", [event(i, i) for i in range(50)] + ["{not json"])
    project = assay.Project(root)
    runner = StreamRunner(project.runtime, project.dag["bronze.events"])
    totals = runner.run(until_idle=True)

    used = [u for u in usage_between(project.catalog) if u.dataset == "bronze.events"]
    assert totals.batches >= 3  # 51 lines in batches of at most 20
    # One row per stream run and hour (a test crossing the hour may hold two).
    assert 1 <= len(used) <= 2
    assert all(u.run_id.startswith(f"{runner.run_id}@") for u in used)
    assert sum(u.rows_written for u in used) == 50
    assert sum(u.rows_quarantined for u in used) == 1  # the dead letter
    assert sum(u.rows_in for u in used) == 51
    assert all(u.cpu_seconds > 0 and u.bytes_read > 0 for u in used)
    # Every file the stream's tables hold was written by one of the metered batches (the
    # windows' tables and the dead letters included: the stream pays for them).
    tables = [
        project.warehouse.uri(name)
        for name in ("bronze.events", dead_letter_name("bronze.events"), "silver.card_10m")
        if project.warehouse.exists(name)
    ]
    on_disk = sum(_bytes_on_disk(Path(t)) for t in tables)
    assert sum(u.bytes_written for u in used) == on_disk

    # A second run finds every line committed already: it commits nothing and costs nothing.
    again = StreamRunner(project.runtime, project.dag["bronze.events"])
    again.run(until_idle=True)
    replayed = [u for u in usage_between(project.catalog) if again.run_id in u.run_id]
    assert replayed == []
