"""Column names from the data are identifiers, never SQL: quotes in JSON keys and CSV headers."""

from __future__ import annotations

import json
from pathlib import Path

import assay
from tests.helpers import write_project

ODD = ['a"b', 'x") AS y, 1 AS "z', "it's", "batch_key"]


def test_json_keys_and_csv_headers_with_quotes_are_columns(tmp_path: Path) -> None:
    records = [{k: i for k in ODD} for i in range(3)]
    header = ",".join('"' + k.replace('"', '""') + '"' for k in ODD)
    root = write_project(
        tmp_path / "p",
        {
            "data/a.jsonl": "".join(json.dumps(r) + "\n" for r in records),
            "data/b.csv": header + "\n" + "".join(",".join([str(i)] * 4) + "\n" for i in range(3)),
            "pipelines/ingest.py": """
                import assay
                assay.files("bronze.j", path="data/*.jsonl", format="jsonl")
                assay.files("bronze.c", path="data/*.csv", format="csv")
                """,
        },
    )
    project = assay.Project(root)
    result = project.run()
    assert result.ok, [r.error for r in result.failed]
    for name in ("bronze.j", "bronze.c"):
        table = project.table(name)
        assert [c for c in table.column_names if not c.startswith("_")] == ODD
        assert [int(v) for v in table.column(ODD[1]).to_pylist()] == [0, 1, 2]
    # a changed file replaces its rows
    (root / "data/a.jsonl").write_text(json.dumps({k: 9 for k in ODD}) + "\n")
    assert project.run().ok
    assert project.table("bronze.j").column(ODD[0]).to_pylist() == [9]
