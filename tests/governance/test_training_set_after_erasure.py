"""A saved training set keeps its lineage, its rebuild and its drift check after a
maintenance commit (an erasure's delete) that records no training-set metadata of its own.
Found trying the README: after `assay forget`, `assay lineage training.<name>...` failed."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import assay
from assay.lineage.build import build_lineage
from tests.governance.test_read_paths import PIPELINES, flights, labels
from tests.helpers import write_project


def test_lineage_and_rebuild_survive_an_erasure_delete(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", PIPELINES)
    (root / "data" / "flights").mkdir(parents=True)
    table = pa.Table.from_pandas(flights(), preserve_index=False)
    pq.write_table(table, root / "data/flights/a.parquet")
    project = assay.Project(root)
    assert project.run().ok
    saved = project.features.training_set(labels(), ["plane_daily:flights"], save_as="planes")
    first = saved["tailnum"][0].as_py()
    erased = pa.table({"tailnum": [first]})
    done = project.warehouse.delete_rows("training.planes", erased, {"maintenance": "erasure"})
    assert done.rows_deleted == 1
    graph = build_lineage(project.runtime)
    into = {e.target.column for e in graph.edges if e.target.name == "training.planes"}
    assert "flights" in into
    assert not [u for u in graph.unresolved if u[0] == "training.planes"]
    rebuilt = project.features.rebuild_training_set("planes")  # from its recorded versions
    assert rebuilt.num_rows == saved.num_rows - 1
    assert first not in rebuilt["tailnum"].to_pylist()
    assert project.warehouse.recorded("training.planes", "training")["features"] == [
        "plane_daily:flights"
    ]
    assert project.warehouse.recorded("training.planes", "nothing") is None
