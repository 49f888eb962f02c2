"""A CSV file is never all or nothing: broken rows are quarantined one by one."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

import assay
from tests.helpers import write_project

BIG = "x" * (2 * 1024 * 1024)  # a field over pyarrow's 1 MiB block

LINES = [
    b"id,note\n",  # line 1
    b"1,plain\n",  # 2
    b"2,caf\xe9 latin-1\n",  # 3: not UTF-8
    b"3,too,many\n",  # 4: three fields
    b"\n",  # 5: blank
    b'4,"two\nlines"\n',  # 6-7: a quoted line break
    b"5," + BIG.encode() + b"\n",  # 8
    b"6,NA\n",  # 9: pyarrow's null token
    b"7,last\n",  # 10
]


def project_with(tmp_path: Path, data: bytes) -> assay.Project:
    root = write_project(
        tmp_path / "p",
        {
            "data/a.csv": data,
            "pipelines/ingest.py": """
                import assay
                assay.files("bronze.notes", path="data/*.csv", format="csv",
                            columns={"id": "INTEGER"})
                """,
        },
    )
    return assay.Project(root)


def test_bad_rows_are_quarantined_one_by_one_and_good_rows_kept(tmp_path: Path) -> None:
    project = project_with(tmp_path, b"".join(LINES))
    result = project.run()
    assert result.ok, [r.error for r in result.failed]
    bronze = result.result("bronze.notes")
    assert (bronze.rows_in, bronze.rows_written, bronze.rows_quarantined) == (7, 5, 2)
    table = project.table("bronze.notes").to_pylist()
    assert [(r["id"], r["_line"]) for r in sorted(table, key=lambda r: r["id"])] == [
        (1, 2),
        (4, 6),
        (5, 8),
        (6, 9),
        (7, 10),
    ]
    notes = {r["id"]: r["note"] for r in table}
    assert notes[4] == "two\nlines" and notes[5] == BIG and notes[6] is None
    quarantine = sorted(
        project.table("quarantine.bronze_notes").to_pylist(), key=lambda r: r["line"]
    )
    assert [(q["line"], q["reason"]) for q in quarantine] == [
        (3, "line is not valid UTF-8"),
        (4, "expected 2 fields, found 3"),
    ]
    assert quarantine[0]["raw_record"] == "2,caf\ufffd latin-1"
    assert quarantine[1]["raw_record"] == "3,too,many"


def test_a_clean_file_reads_like_pandas_with_lines_from_two(tmp_path: Path) -> None:
    csv = "id,note\n" + "".join(f"{i},n{i}\n" for i in range(1, 1001))
    project = project_with(tmp_path, csv.encode())
    assert project.run().ok
    table = project.table("bronze.notes").to_pandas().sort_values("id")
    expected = pd.read_csv(io.StringIO(csv))
    assert table["id"].tolist() == expected["id"].tolist()
    assert table["note"].tolist() == expected["note"].tolist()
    assert table["_line"].tolist() == list(range(2, 1002))


def test_a_header_only_file_is_an_empty_batch(tmp_path: Path) -> None:
    project = project_with(tmp_path, b"id,note\n")
    result = project.run()
    assert result.ok, [r.error for r in result.failed]
    assert result.result("bronze.notes").rows_in == 0


def test_null_values_are_configurable_so_namibia_keeps_its_code(tmp_path: Path) -> None:
    """pyarrow's default null list reads the country code NA (Namibia) and the name null as
    nulls; `null_values=[""]` keeps them as text, and changing it re-ingests the file."""
    csv = 'iso2,name\nNA,Namibia\nNO,Norway\n"",null\n,empty\n'
    project = project_with(tmp_path, csv.encode())
    root = project.root
    (root / "pipelines/ingest.py").write_text(
        'import assay\nassay.files("bronze.notes", path="data/*.csv", format="csv")\n'
    )
    project = assay.Project(root)
    assert project.run().ok
    defaults = sorted(project.table("bronze.notes").to_pylist(), key=lambda r: r["_line"])
    assert [(r["iso2"], r["name"]) for r in defaults] == [
        (None, "Namibia"),
        ("NO", "Norway"),
        (None, None),
        (None, "empty"),
    ]
    (root / "pipelines/ingest.py").write_text(
        "import assay\n"
        'assay.files("bronze.notes", path="data/*.csv", format="csv", null_values=[""])\n'
    )
    project = assay.Project(root)
    assert project.run().ok
    kept = sorted(project.table("bronze.notes").to_pylist(), key=lambda r: r["_line"])
    expected = pd.read_csv(io.StringIO(csv), keep_default_na=False, na_values=[""])
    assert [(r["iso2"], r["name"]) for r in kept] == [
        (None if pd.isna(a) else a, None if pd.isna(b) else b)
        for a, b in zip(expected["iso2"], expected["name"], strict=True)
    ]
    assert kept[0]["iso2"] == "NA" and kept[2]["name"] == "null"
