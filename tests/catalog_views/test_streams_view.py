"""The streams page's read model on the fraud example's live folder stream (four arrivals,
two poisoned): its micro-batches, dead letters, late rows and watermark against the Delta
tables read with deltalake and pandas, and the files' lines."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from deltalake import DeltaTable

import assay
from assay.catalog_views.streams_view import streams_view


def _stored(project: assay.Project, table: str) -> pd.DataFrame:
    layer, name = table.split(".")
    return DeltaTable(str(Path(project.root) / "warehouse" / layer / name)).to_pandas()


def test_the_live_stream_its_batches_and_rejects(fraud: assay.Project) -> None:
    (live,) = streams_view(fraud.runtime)
    assert live.name == "bronze.live_transactions"
    lines = sum(
        1 for f in (Path(fraud.root) / "incoming").glob("*.jsonl") for x in f.open() if x.strip()
    )
    stored = _stored(fraud, "bronze.live_transactions")
    dead = _stored(fraud, "deadletter.bronze_live_transactions")
    assert len(live.batches) >= 4
    assert live.rows_in == sum(b.rows_in for b in live.batches) == lines
    assert sum(b.written for b in live.batches) == len(stored)
    assert sum(b.dead_lettered for b in live.batches) == len(dead) == live.status.dead_lettered > 0
    assert [b.at for b in live.batches] == sorted(b.at for b in live.batches)
    assert live.status.lag == 0  # every line of the folder is in the table


def test_late_rows_and_watermarks_over_time(fraud: assay.Project) -> None:
    (live,) = streams_view(fraud.runtime)
    late_tables = ("late.silver_card_activity_10m", "late.silver_card_activity_1h")
    stored = {t: _stored(fraud, t) for t in late_tables}
    assert live.late_rows == {t: len(frame) for t, frame in stored.items()}
    # The chart counts events, as the status card does: an event late for several
    # windows is several rows of the late tables but one event.
    events = pd.concat(stored.values()).drop_duplicates(["_partition", "_offset"])
    assert sum(m.value for m in live.late) == len(events) == live.status.late > 0
    assert sum(live.late_rows.values()) > len(events)  # the example's stragglers miss many
    first_seen = pd.concat(stored.values()).groupby(["_partition", "_offset"])["_ingested_at"]
    per_batch = first_seen.min().value_counts()
    assert {pd.Timestamp(m.at): m.value for m in live.late} == per_batch.to_dict()
    by_table: dict[str, list[object]] = {}
    for mark in live.watermarks:
        by_table.setdefault(mark.table, []).append(mark.value)
    assert set(by_table) == {"silver.card_activity_10m", "silver.card_activity_1h"}
    for marks in by_table.values():
        assert marks == sorted(marks)  # a watermark never goes back
    assert min(marks[-1] for marks in by_table.values()) == live.status.watermark


def test_an_empty_project_has_no_streams(tmp_path: Path) -> None:
    root = assay.init_project(str(tmp_path))
    assert streams_view(assay.Project(root).runtime) == []
