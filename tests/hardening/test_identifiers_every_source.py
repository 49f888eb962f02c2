"""Column names from data are identifiers, never SQL, through every source kind.

Before: a JSONL key `x", (SELECT content FROM read_text('<file>')) AS "note` put that file's
content into every row, and the run exited 0. Names with quotes, backslashes, newlines and
SQL fragments are now columns of exactly that name; names no table can hold (empty, or with
a NUL byte) are quarantined with the record (files) or refused naming the column (typed
sources), never cut short or renamed.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import assay
from tests.helpers import write_project

SECRET = "top secret contents"


def usable_names(secret_file: Path) -> list[str]:
    return [
        f"x\", (SELECT content FROM read_text('{secret_file}')) AS \"note",
        'q"uote',
        "back\\slash",
        "new\nline",
        "tab\there",
        "it's",
        "a'); DROP TABLE t; --",
        "ünïcødé",
    ]


UNUSABLE = ["", "nul\x00byte"]

PIPELINES = """
import assay, json
from pathlib import Path

assay.files("bronze.j", path="data/*.jsonl", format="jsonl")
assay.files("bronze.c", path="data/*.csv", format="csv")
assay.files("bronze.p", path="data/*.parquet", format="parquet")
assay.sql_table("bronze.s", url="sqlite:///{db}", table="t")
assay.folder_stream("bronze.f", path="incoming/*.jsonl", timestamp="ts")

NAMES = json.loads(Path(__file__).with_name("names.json").read_text())

@assay.source("bronze.py")
def src(ctx):
    return [{{"id": 1, **{{n: "v" for n in NAMES}}}}]
"""


def build(root: Path, names: list[str]) -> assay.Project:
    db = root.parent / f"{root.name}.db"
    # SQLite cannot name a column with a NUL byte at all: that table leaves it out
    in_db = [n for n in names if "\x00" not in n]
    with sqlite3.connect(db) as con:
        quoted = ", ".join('"' + n.replace('"', '""') + '" TEXT' for n in in_db)
        con.execute(f"CREATE TABLE t (id INTEGER, {quoted})")
        con.execute(f"INSERT INTO t VALUES (1{', ?' * len(in_db)})", ["v"] * len(in_db))
    record = {"id": 1, **{n: "v" for n in names}}
    header = ",".join(["id", *('"' + n.replace('"', '""') + '"' for n in names)])
    write_project(
        root,
        {
            "pipelines/p.py": PIPELINES.format(db=db),
            "pipelines/names.json": json.dumps(names),
            "data/a.jsonl": json.dumps(record) + "\n",
            "data/a.csv": header + "\n" + ",".join(["1", *("v" for _ in names)]) + "\n",
            "incoming/a.jsonl": json.dumps({**record, "ts": "2026-01-01T00:00:00"}) + "\n",
        },
    )
    pq.write_table(pa.table({k: [v] for k, v in record.items()}), root / "data/a.parquet")
    return assay.Project(root)


def test_names_with_quotes_and_sql_are_columns_of_exactly_that_name(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    names = usable_names(secret)
    project = build(tmp_path / "p", names)
    result = project.run()
    assert result.ok, [(r.dataset, r.error) for r in result.failed]
    project.stream("bronze.f", until_idle=True)
    for dataset in ("bronze.j", "bronze.c", "bronze.p", "bronze.s", "bronze.py", "bronze.f"):
        table = project.table(dataset)
        user = [c for c in table.column_names if not c.startswith("_") and c not in ("id", "ts")]
        assert sorted(user) == sorted(names), dataset
        assert "note" not in table.column_names
        for name in names:
            assert table.column(name).to_pylist() == ["v"], (dataset, name)
        assert SECRET not in json.dumps(table.to_pylist(), default=str)


@pytest.mark.parametrize("bad", UNUSABLE, ids=["empty", "nul"])
def test_names_no_table_can_hold_are_quarantined_or_refused_by_name(
    tmp_path: Path, bad: str
) -> None:
    project = build(tmp_path / "p", ["fine", bad])
    result = project.run()
    for dataset in ("bronze.j", "bronze.c", "bronze.p"):  # files: quarantined, run goes on
        outcome = result.result(dataset)
        assert outcome.status != "failed", outcome.error
        assert outcome.rows_quarantined == 1 and outcome.rows_written == 0
    quarantine = project.table("quarantine.bronze_j").to_pylist()
    assert "key is empty or holds a NUL byte" in quarantine[0]["reason"]
    assert json.loads(quarantine[0]["raw_record"])[bad] == "v"  # the record is kept whole
    assert "the header has" in project.table("quarantine.bronze_c").to_pylist()[0]["reason"]
    typed = ["bronze.py"] + (["bronze.s"] if bad == "" else [])
    for dataset in typed:  # typed sources: refused, naming the column
        outcome = result.result(dataset)
        assert outcome.status == "failed"
        error = outcome.error or ""
        assert "no table can hold" in error or "cannot be stored" in error, error
        assert "Traceback" not in error
