"""sqlbuild: names and values reach SQL as expressions, and mean the same in every dialect.

Each hostile name is run through the real reader of its dialect (DuckDB, SQLite, delta-rs)
or parsed back by sqlglot (Spark), and must come out as the same one name or value.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
import sqlglot
from deltalake import DeltaTable, write_deltalake
from sqlglot import exp

from assay import sqlbuild as sb
from assay.naming import quote as naming_quote
from assay.tables.predicates import in_predicate, interval_predicate
from assay.tables.predicates import render as predicate_render

HOSTILE = [
    'a"; DROP TABLE x; --',
    "a`b",
    "it's",
    "card id",
    "名前 ü",
    "select",
    "a.b",
    'q""',
    "back\\slash",
    "new\nline",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_duckdb_reads_each_name_as_one_column(name: str) -> None:
    table = pa.table({name: [1, 2, 3], "other": [4, 5, 6]})
    sql = (
        f"SELECT {sb.render_list(sb.columns([name]), 'duckdb')} FROM t "
        f"WHERE {sb.render(sb.in_list(name, [1, 3]), 'duckdb')}"
    )
    con = duckdb.connect()
    con.register("t", table)
    out = con.sql(sql).to_arrow_table()
    assert out.column_names == [name]
    assert out[name].to_pylist() == [1, 3]


@pytest.mark.parametrize("name", HOSTILE)
def test_values_round_trip_as_literals(name: str) -> None:
    con = duckdb.connect()
    sql = f"SELECT {sb.render(exp.alias_(sb.literal(name), sb.identifier(name)), 'duckdb')}"
    row = con.sql(sql).to_arrow_table()
    assert row.column_names == [name]
    assert row[name].to_pylist() == [name]


@pytest.mark.parametrize("name", HOSTILE)
def test_sqlite_reads_each_name_as_one_column(name: str) -> None:
    con = sqlite3.connect(":memory:")
    t = sb.render(sb.table("fv_" + name), "sqlite")
    col = sb.render(sb.column(name), "sqlite")
    con.execute(f"CREATE TABLE {t} ({col} TEXT, other TEXT)")
    con.execute(f"INSERT INTO {t} VALUES ({sb.render(sb.literal(name), 'sqlite')}, 'o')")
    rows = con.execute(f"SELECT {col} FROM {t}").fetchall()
    assert rows == [(name,)]
    names = [d[0] for d in con.execute(f"SELECT * FROM {t}").description]
    assert names == [name, "other"]


@pytest.mark.parametrize("name", HOSTILE)
def test_spark_sql_parses_back_to_the_same_name_and_value(name: str) -> None:
    where = sb.render(sb.column(name).eq(sb.literal(name)), "spark")
    parsed = sqlglot.parse_one(where, read="spark")
    assert isinstance(parsed, exp.EQ)
    assert parsed.this.name == name
    assert parsed.expression.this == name


@pytest.mark.parametrize("name", ['a"; DROP TABLE x; --', "it's", "card id", "名前 ü"])
def test_delta_rs_predicate_selects_by_a_hostile_column(tmp_path: Path, name: str) -> None:
    path = str(tmp_path / "t")
    write_deltalake(path, pa.table({name: ["a'", "b", "c"], "n": [1, 2, 3]}))
    predicate = sb.render(sb.in_list(name, ["a'", "c"]), "delta")
    DeltaTable(path).delete(predicate)
    assert DeltaTable(path).to_pyarrow_table()["n"].to_pylist() == [2]


def test_delta_rs_time_range_replaces_exactly_the_interval(tmp_path: Path) -> None:
    path = str(tmp_path / "t")
    days = [date(2024, 1, d) for d in (1, 2, 3)]
    write_deltalake(path, pa.table({"event day": days, "n": [1, 2, 3]}))
    p = sb.time_range("event day", datetime(2024, 1, 2), datetime(2024, 1, 3), pa.date32())
    DeltaTable(path).delete(sb.render(p, "delta"))
    assert sorted(DeltaTable(path).to_pyarrow_table()["n"].to_pylist()) == [1, 3]


def test_literal_kinds_per_dialect() -> None:
    aware = datetime(2024, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))
    assert sb.render(sb.literal(aware), "duckdb") == (
        "CAST('2024-01-01 00:00:00+00:00' AS TIMESTAMPTZ)"
    )
    assert sb.render(sb.literal(Decimal("1.50")), "spark") == "1.50"
    assert sb.render(sb.literal(False), "sqlite") in ("0", "FALSE")
    assert sb.render(sb.literal(None), "spark") == "NULL"
    assert sb.render(sb.literal("a\\b'"), "spark") == "'a\\\\b\\''"
    con = duckdb.connect()
    got = con.execute(
        f"SELECT {sb.render(sb.literal(aware), 'duckdb')} AT TIME ZONE 'UTC', "
        f"{sb.render(sb.literal(date(2024, 2, 29)), 'duckdb')}, "
        f"{sb.render(sb.literal(datetime(2024, 1, 1, 0, 0, 0, 5)), 'duckdb')}"
    ).fetchone()
    assert got == (
        datetime(2024, 1, 1, 0, 0),
        date(2024, 2, 29),
        datetime(2024, 1, 1, 0, 0, 0, 5),
    )
    assert aware.astimezone(UTC).hour == 0


def test_in_list_is_canonical() -> None:
    one = sb.render(sb.in_list("k", ["b", "a", "b"]), "duckdb")
    two = sb.render(sb.in_list("k", ["a", "b"]), "duckdb")
    assert one == two == "\"k\" IN ('a', 'b')"
    mixed = sb.render(sb.in_list("k", [2, None, 1]), "duckdb")
    assert mixed == '"k" IN (1, 2, NULL)'


def test_table_names_its_schema() -> None:
    assert sb.render(sb.table("bronze_x", "quarantine"), "spark") == "`quarantine`.`bronze_x`"
    assert sb.render(sb.table('we"ird'), "duckdb") == '"we""ird"'


def test_old_names_keep_working() -> None:
    # naming.quote and tables.predicates are the same functions, re-exported.
    for name in HOSTILE:
        assert naming_quote(name) == '"' + name.replace('"', '""') + '"'
    p = interval_predicate("ts", datetime(2024, 1, 1), datetime(2024, 1, 2))
    assert predicate_render(p, "delta") == (
        "\"ts\" >= '2024-01-01 00:00:00' AND \"ts\" < '2024-01-02 00:00:00'"
    )
    assert predicate_render("x = 1", "spark") == "x = 1"
    assert predicate_render(in_predicate("f", ["x"]), "spark") == "`f` IN ('x')"


def test_cast_builds_duckdb_types() -> None:
    con = duckdb.connect()
    value = sb.cast(sb.literal("2.5"), "DOUBLE")
    bad = sb.cast(sb.literal("N/A"), "BIGINT", safe=True)
    assert con.execute(f"SELECT {sb.render_list([value, bad], 'duckdb')}").fetchone() == (
        2.5,
        None,
    )


# Not a backtick: delta-rs's update_all/insert_all quote column names with backticks
# themselves, unescaped (a delta-rs limitation, whatever predicate assay passes).
@pytest.mark.parametrize("name", ['a"; DROP TABLE x; --', "it's", "select", "名前 ü"])
def test_delta_rs_merge_on_hostile_keys_and_columns(tmp_path: Path, name: str) -> None:
    path = str(tmp_path / "t")
    key, value = "k " + name, "v " + name
    write_deltalake(path, pa.table({key: [1, 2], value: ["a", "b"]}))
    source = pa.table({key: [2, 3], value: ["b", "c"], "new": [None, "n"]})
    changed = sb.changed_row(source.column_names, [key], [key, value])
    (
        DeltaTable(path)
        .merge(
            source,
            predicate=sb.render(sb.keys_match([key]), "delta"),
            source_alias="s",
            target_alias="t",
            merge_schema=True,
        )
        .when_matched_update_all(predicate=sb.render(changed, "delta"))
        .when_not_matched_insert_all()
        .execute()
    )
    rows = DeltaTable(path).to_pyarrow_table().sort_by(key).to_pylist()
    assert [(r[key], r[value], r["new"]) for r in rows] == [
        (1, "a", None),
        (2, "b", None),
        (3, "c", "n"),
    ]
    # key 2 was unchanged: the merge rewrote nothing but the insert
    history = DeltaTable(path).history(1)[0]["operationMetrics"]
    assert history["num_target_rows_updated"] == 0


@pytest.mark.parametrize("name", HOSTILE)
def test_merge_conditions_parse_back_in_spark(name: str) -> None:
    on = sqlglot.parse_one(sb.render(sb.keys_match([name]), "spark"), read="spark")
    assert [c.name for c in on.find_all(exp.Column)] == [name, name]
    changed = sb.changed_row([name, "k"], ["k"], [name, "k"])
    parsed = sqlglot.parse_one(sb.render(changed, "spark"), read="spark")
    assert {c.name for c in parsed.find_all(exp.Column)} == {name}


def test_template_splices_lists_and_takes_parts_without_copying() -> None:
    keys = sb.columns(["a b", 'c"d'])
    ts = sb.column("t")
    query = sb.template(
        "SELECT $keys, $ts AS x FROM t GROUP BY $keys HAVING max($ts) > 0",
        keys=keys,
        ts=ts,
    )
    text = sb.render(query, "duckdb")
    assert text.startswith('SELECT "a b", "c""d", "t" AS x FROM t')
    assert 'GROUP BY "a b", "c""d"' in text and 'MAX("t") > 0' in text
    # the first use takes the fresh expression, later uses copy it
    assert ts.parent is not None
    assert sum(1 for c in query.find_all(exp.Column) if c is ts) == 1
    # an empty list removes the item that held it
    empty = sb.template("SELECT a, $more FROM t", more=[])
    assert sb.render(empty, "duckdb") == "SELECT a FROM t"


def test_template_refuses_a_list_outside_a_list() -> None:
    with pytest.raises(ValueError, match=r"\$k is not in a list"):
        sb.template("SELECT a FROM t WHERE $k", k=[sb.column("a")])


def test_template_places_a_query_as_a_subquery() -> None:
    inner = sb.template("SELECT * FROM src WHERE $c > 1", c=sb.column("x y"))
    outer = sb.template("SELECT * FROM ($rows) AS r", rows=inner)
    assert sb.render(outer, "duckdb") == 'SELECT * FROM (SELECT * FROM src WHERE "x y" > 1) AS r'


@pytest.mark.parametrize("zone", [None, "UTC", "Europe/Paris", "America/New_York"])
def test_utc_timestamp_is_the_naive_utc_time_in_duckdb(zone: str | None) -> None:
    moment = datetime(2024, 3, 31, 1, 30, tzinfo=UTC)
    kind = pa.timestamp("us", zone)
    value = moment if zone else moment.replace(tzinfo=None)
    table = pa.table({'we`i rd"': pa.array([value], kind)})
    sql = sb.render(
        sb.template("SELECT $v AS v FROM t", v=sb.utc_timestamp(sb.column('we`i rd"'), kind)),
        "duckdb",
    )
    con = duckdb.connect()
    con.register("t", table)
    assert con.execute(sql).fetchall() == [(datetime(2024, 3, 31, 1, 30),)]


def test_struct_and_field_round_trip_hostile_names_in_duckdb() -> None:
    name = 'a"; `b c'
    query = sb.template(
        "SELECT $f AS v FROM (SELECT $s AS hit) AS x",
        s=sb.struct([(name, sb.literal(7))]),
        f=sb.field("hit", name, table="x"),
    )
    assert duckdb.sql(sb.render(query, "duckdb")).fetchall() == [(7,)]
