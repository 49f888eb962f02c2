"""`Project.run`: exact contents, idempotence, incremental ingest, changed code, time travel,
SQL over `layer.name`, and bad input accounted for in quarantine."""

from __future__ import annotations

import json
import os
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import assay
from assay.errors import TableNotFoundError
from assay.intervals import Interval
from tests.conftest import MakeProject
from tests.helpers import EVENTS_PIPELINES, event, jsonl, rows, versions, with_engine

# Engine-generic: every test runs on DuckDB and on Spark (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("engine_name")

DAY = datetime(2026, 1, 1)


def day(n: int) -> Interval:
    return Interval(datetime(2026, 1, n), datetime(2026, 1, n + 1))


@pytest.fixture
def shop(tmp_path: Path, engine_name: str) -> assay.Project:
    root = assay.init_project(tmp_path / "shop")
    with_engine(root, engine_name)
    return assay.Project(root)


def test_first_run_builds_every_table_exactly(shop: assay.Project) -> None:
    result = shop.run()

    assert result.ok
    assert {r.dataset: r.status for r in result.results} == {
        "bronze.customers": "success",
        "bronze.orders": "success",
        "silver.orders": "success",
        "gold.daily_totals": "success",
    }
    assert rows(shop.table("bronze.customers")) == [
        {"customer_id": 1, "name": "Ada", "country": "GB"},
        {"customer_id": 2, "name": "Grace", "country": "US"},
    ]
    src = "data/orders/2026-01-01.csv"
    assert rows(shop.table("bronze.orders")) == [
        {"order_id": 1, "customer_id": "1", "amount": 12.5,
         "ordered_at": datetime(2026, 1, 1, 9, 15), "_source_file": src, "_line": 2},
        {"order_id": 2, "customer_id": "2", "amount": 7.25,
         "ordered_at": datetime(2026, 1, 1, 11, 2), "_source_file": src, "_line": 3},
        {"order_id": 3, "customer_id": "1", "amount": 30.0,
         "ordered_at": datetime(2026, 1, 2, 8, 45), "_source_file": src, "_line": 4},
    ]  # fmt: skip
    assert rows(shop.table("silver.orders")) == [
        {"order_id": 1, "customer_id": "1", "amount": 12.5,
         "ordered_at": datetime(2026, 1, 1, 9, 15)},
        {"order_id": 2, "customer_id": "2", "amount": 7.25,
         "ordered_at": datetime(2026, 1, 1, 11, 2)},
        {"order_id": 3, "customer_id": "1", "amount": 30.0,
         "ordered_at": datetime(2026, 1, 2, 8, 45)},
    ]  # fmt: skip
    assert rows(shop.table("gold.daily_totals")) == [
        {"day": datetime(2026, 1, 1), "country": "GB", "orders": 1, "revenue": 12.5},
        {"day": datetime(2026, 1, 1), "country": "US", "orders": 1, "revenue": 7.25},
        {"day": datetime(2026, 1, 2), "country": "GB", "orders": 1, "revenue": 30.0},
    ]
    (reject,) = shop.table("quarantine.bronze_orders").to_pylist()
    assert reject["run_id"] == result.run_id
    assert reject["source_file"] == src and reject["line"] == 5  # the header is line 1
    assert json.loads(reject["raw_record"]) == {
        "order_id": "4",
        "customer_id": "2",
        "amount": "not-a-number",
        "ordered_at": "2026-01-02 10:00:00",
    }
    assert "amount" in reject["reason"] and "not-a-number" in reject["reason"]
    orders = result.result("bronze.orders")
    assert (orders.rows_in, orders.rows_written, orders.rows_quarantined) == (4, 3, 1)
    assert shop.intervals("silver.orders") == [day(1), day(2)]


def test_second_run_commits_nothing(shop: assay.Project) -> None:
    shop.run()
    before = versions(shop)

    again = shop.run()

    assert again.ok
    assert again.commits == 0
    assert versions(shop) == before
    assert {r.status for r in again.results} == {"up_to_date"}
    # a fresh Project (a new process, in effect) agrees
    assert assay.Project(shop.root).run().commits == 0
    assert versions(shop) == before


def test_plan_says_what_run_would_do_without_writing(events: assay.Project) -> None:
    assert [(w.dataset, w.needed) for w in events.plan()] == [
        ("bronze.events", True),
        ("silver.events", True),
        ("gold.user_daily", True),
    ]
    assert events.warehouse.list_tables() == []  # planning writes nothing
    events.run()
    assert [w.needed for w in events.plan()] == [False, False, False]
    (events.root / "data/events/b.jsonl").write_text(
        jsonl([event(9, 10, 1.0, "2026-01-02 12:00:00")])
    )
    before = versions(events)

    plan = {w.dataset: w for w in events.plan()}

    assert versions(events) == before
    assert plan["bronze.events"].needed
    assert plan["bronze.events"].reasons == ["1 new or changed file(s)"]
    assert plan["silver.events"].needed
    assert any("bronze.events" in r for r in plan["silver.events"].reasons)
    assert plan["gold.user_daily"].needed


def test_new_csv_file_ingests_only_that_file(shop: assay.Project) -> None:
    shop.run()
    first_ingest = {
        r["order_id"]: r["_ingested_at"] for r in shop.table("bronze.orders").to_pylist()
    }
    (shop.root / "data/orders/2026-01-03.csv").write_text(
        "order_id,customer_id,amount,ordered_at\n"
        "5,2,1.00,2026-01-03 12:00:00\n"
        "6,1,2.00,2026-01-03 13:00:00\n"
    )

    result = shop.run()

    orders = result.result("bronze.orders")
    assert (orders.commits, orders.rows_in, orders.rows_written) == (1, 2, 2)
    table = shop.table("bronze.orders").to_pylist()
    assert sorted(r["order_id"] for r in table) == [1, 2, 3, 5, 6]
    # the old file's rows were not rewritten
    assert {r["order_id"]: r["_ingested_at"] for r in table if r["order_id"] <= 3} == first_ingest
    assert shop.table("quarantine.bronze_orders").num_rows == 1
    assert shop.intervals("silver.orders") == [day(1), day(2), day(3)]
    assert sorted(r["order_id"] for r in shop.table("silver.orders").to_pylist()) == [1, 2, 3, 5, 6]
    gold = {
        (r["day"].day, r["country"]): r["orders"]
        for r in shop.table("gold.daily_totals").to_pylist()
    }
    assert gold == {(1, "GB"): 1, (1, "US"): 1, (2, "GB"): 1, (3, "US"): 1, (3, "GB"): 1}


@pytest.fixture
def events(make_project: MakeProject) -> assay.Project:
    """Events on Jan 1-3 in one file."""
    data = [
        event(1, 10, 1.0, "2026-01-01 10:00:00"),
        event(2, 11, 2.0, "2026-01-01 11:00:00"),
        event(3, 10, 3.0, "2026-01-02 10:00:00"),
        event(4, 12, 4.0, "2026-01-03 09:00:00"),
    ]
    root = make_project({**EVENTS_PIPELINES, "data/events/a.jsonl": jsonl(data)})
    return assay.Project(root)


def interval_versions(project: assay.Project, name: str) -> dict[Interval, int]:
    spec = project.dag[name]
    return {r.interval: r.version for r in project.catalog.done_intervals(name, spec.fingerprint)}


def test_new_jsonl_file_recomputes_only_the_intervals_it_touches(events: assay.Project) -> None:
    events.run()
    built = interval_versions(events, "silver.events")
    assert sorted(built) == [day(1), day(2), day(3)]
    silver_version = events.warehouse.version("silver.events")
    bronze_version = events.warehouse.version("bronze.events")
    (events.root / "data/events/b.jsonl").write_text(
        jsonl([event(5, 10, 5.0, "2026-01-03 18:00:00"), event(6, 13, 6.0, "2026-01-04 01:00:00")])
    )

    result = events.run()

    bronze = result.result("bronze.events")
    assert (bronze.commits, bronze.rows_in, bronze.rows_written) == (1, 2, 2)
    (commit,) = [c for c in events.history("bronze.events") if c.version > bronze_version]
    assert [f["path"] for f in commit.metadata["files"]] == ["data/events/b.jsonl"]
    silver = result.result("silver.events")
    assert silver.status == "success"
    assert silver.intervals == 2  # day 3 (changed) and day 4 (new); days 1 and 2 untouched
    # the Delta log says the same: this run's commits wrote exactly days 3 and 4
    written = [
        key
        for c in events.history("silver.events")
        if c.version > silver_version
        for key in c.metadata["intervals"]
    ]
    assert sorted(written) == [day(3).key(), day(4).key()]
    assert {c.metadata["run_id"] for c in events.history("silver.events")[:1]} == {result.run_id}
    now = interval_versions(events, "silver.events")
    assert sorted(now) == [day(1), day(2), day(3), day(4)]
    assert now[day(1)] == built[day(1)] and now[day(2)] == built[day(2)]
    assert now[day(3)] > silver_version and now[day(4)] > silver_version
    assert sorted(r["event_id"] for r in events.table("silver.events").to_pylist()) == [
        1, 2, 3, 4, 5, 6,
    ]  # fmt: skip
    assert {
        (r["user_id"], r["day"], r["events"], r["cents"])
        for r in events.table("gold.user_daily").to_pylist()
    } == {
        (10, date(2026, 1, 1), 1, 100),
        (11, date(2026, 1, 1), 1, 200),
        (10, date(2026, 1, 2), 1, 300),
        (12, date(2026, 1, 3), 1, 400),
        (10, date(2026, 1, 3), 1, 500),
        (13, date(2026, 1, 4), 1, 600),
    }
    assert events.run().commits == 0


def test_changed_sql_recomputes_every_interval(events: assay.Project) -> None:
    events.run()
    sql_path = events.root / "pipelines/silver_events.sql"
    sql_path.write_text(sql_path.read_text().replace("amount,", "amount * 10 AS amount,"))
    project = assay.Project(events.root)
    assert any(w.needed for w in project.plan() if w.dataset == "silver.events")

    result = project.run()

    assert result.result("bronze.events").status == "up_to_date"
    assert result.result("silver.events").intervals == 3
    assert result.result("gold.user_daily").status == "success"
    assert sorted(r["amount"] for r in project.table("silver.events").to_pylist()) == [
        10.0, 20.0, 30.0, 40.0,
    ]  # fmt: skip
    assert sum(r["cents"] for r in project.table("gold.user_daily").to_pylist()) == 10_000
    assert project.intervals("silver.events") == [day(1), day(2), day(3)]
    assert project.run().commits == 0


def test_table_time_travel(events: assay.Project) -> None:
    events.run()
    v_first = events.warehouse.version("gold.user_daily")
    first = rows(events.table("gold.user_daily"))
    (events.root / "data/events/b.jsonl").write_text(
        jsonl([event(5, 10, 5.0, "2026-01-01 12:00:00")])
    )
    events.run()

    assert events.warehouse.version("gold.user_daily") == v_first + 1
    assert rows(events.table("gold.user_daily", version=v_first)) == first
    assert len(first) == 4 and events.table("gold.user_daily").num_rows == 4
    assert events.table("bronze.events", version=0).num_rows == 4
    assert events.table("bronze.events").num_rows == 5
    with pytest.raises(TableNotFoundError, match="version 99"):
        events.table("bronze.events", version=99)
    with pytest.raises(TableNotFoundError):
        events.table("silver.nothing")


def test_sql_reads_tables_by_layer_and_name(events: assay.Project) -> None:
    events.run()

    totals = events.sql("SELECT count(*) AS n, sum(amount) AS total FROM silver.events")
    assert totals.to_pylist() == [{"n": 4, "total": 10.0}]
    joined = events.sql(
        """
        WITH g AS (SELECT * FROM gold.user_daily)
        SELECT s.user_id, count(*) AS n
        FROM silver.events s JOIN g ON s.user_id = g.user_id AND CAST(s.event_time AS DATE) = g.day
        GROUP BY 1 ORDER BY 1
        """
    )
    assert joined.to_pylist() == [
        {"user_id": 10, "n": 2},
        {"user_id": 11, "n": 1},
        {"user_id": 12, "n": 1},
    ]
    with pytest.raises(TableNotFoundError, match=r"silver\.nope"):
        events.sql("SELECT * FROM silver.nope")


# -- bad input: every row in is written or quarantined -------------------------------------

TX_INGEST = """
import assay

tx = assay.files(
    "bronze.tx",
    path="data/tx/*.jsonl",
    format="jsonl",
    columns={"id": "BIGINT", "amount": "DOUBLE", "qty": "BIGINT"},
)
pq = assay.files("bronze.pq", path="data/pq/*.parquet", format="parquet")
"""

GOOD_LINES = [
    b'{"id": 1, "amount": 1.5, "qty": 2}',
    b'{"id": 9, "amount": null, "qty": null}',
    b'{"id": 10, "amount": 4.25, "qty": "3"}',  # text that casts is fine
]
GOOD_VALUES = {1: (1.5, 2), 9: (None, None), 10: (4.25, 3)}


def parquet_bytes(table: pa.Table, path: Path) -> bytes:
    pq.write_table(table, path)
    return path.read_bytes()


def tx_project(make_project: MakeProject, lines: list[bytes], **extra: bytes) -> assay.Project:
    files: dict[str, str | bytes] = {
        "pipelines/ingest.py": TX_INGEST,
        "data/tx/a.jsonl": b"\n".join(lines) + b"\n",
    }
    files.update({k.replace("__", "/").replace("_dot_", "."): v for k, v in extra.items()})
    return assay.Project(make_project(files))


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        pytest.param(b'{"id": 4, "amount": 3.0', "JSON object", id="malformed-json"),
        pytest.param(b"[1, 2, 3]", "JSON object", id="array"),
        pytest.param(b"42", "JSON object", id="number"),
        pytest.param(b'"just text"', "JSON object", id="string"),
        pytest.param(b'{"id": 2, "amount": "abc", "qty": 1}', "amount", id="abc-for-double"),
        pytest.param(b'{"id": 3, "amount": 2.0, "qty": 2.5}', "qty", id="fraction-for-bigint"),
        pytest.param(b'{"id": "x7", "amount": 1.0, "qty": 1}', "id", id="text-for-bigint"),
        pytest.param(b'{"id": 7, "amount": 1.0, "qty": 1, "note": "caf\xe9 \xff"}', None,
                     id="invalid-utf8"),
    ],
)  # fmt: skip
def test_bad_jsonl_line_is_quarantined_with_its_reason(
    make_project: MakeProject, bad: bytes, reason: str | None
) -> None:
    project = tx_project(make_project, [GOOD_LINES[0], bad, b"", *GOOD_LINES[1:]])

    result = project.run()

    tx = result.result("bronze.tx")
    assert tx.status == "success", tx.error
    assert (tx.rows_in, tx.rows_written, tx.rows_quarantined) == (4, 3, 1)
    written = {r["id"]: (r["amount"], r["qty"]) for r in project.table("bronze.tx").to_pylist()}
    assert written == GOOD_VALUES
    (reject,) = project.table("quarantine.bronze_tx").to_pylist()
    assert (reject["source_file"], reject["line"], reject["run_id"]) == (
        "data/tx/a.jsonl",
        2,
        result.run_id,
    )
    assert reject["raw_record"] == bad.decode("utf-8", errors="replace")
    if reason:
        assert reason in reject["reason"]


def test_rows_in_equal_rows_written_plus_quarantined(make_project: MakeProject, tmp_path) -> None:
    bad = [
        b'{"id": 4, "amount": 3.0',
        b"[1, 2, 3]",
        b'{"id": 2, "amount": "abc", "qty": 1}',
        b'{"id": 3, "amount": 2.0, "qty": 2.5}',
        b'{"id": 7, "amount": 1.0, "qty": 1, "note": "caf\xe9"}',
    ]
    lines = [GOOD_LINES[0], *bad, *GOOD_LINES[1:]]
    project = tx_project(make_project, lines)

    tx = project.run().result("bronze.tx")

    assert tx.rows_in == len(lines)
    assert tx.rows_in == tx.rows_written + tx.rows_quarantined
    assert project.table("bronze.tx").num_rows == tx.rows_written
    assert project.table("quarantine.bronze_tx").num_rows == tx.rows_quarantined


def test_unreadable_parquet_file_is_quarantined(make_project: MakeProject, tmp_path) -> None:
    good = parquet_bytes(pa.table({"k": [1, 2, 3], "v": ["a", "b", "c"]}), tmp_path / "x.pq")
    project = tx_project(
        make_project,
        GOOD_LINES,
        data__pq__good_dot_parquet=good,
        data__pq__broken_dot_parquet=b"PAR1 this is not parquet at all",
    )

    result = project.run()

    pq_result = result.result("bronze.pq")
    assert pq_result.status == "success"
    assert (pq_result.rows_in, pq_result.rows_written, pq_result.rows_quarantined) == (4, 3, 1)
    assert rows(project.table("bronze.pq"), exclude={"_ingested_at"}) == [
        {"k": 1, "v": "a", "_source_file": "data/pq/good.parquet", "_line": 1},
        {"k": 2, "v": "b", "_source_file": "data/pq/good.parquet", "_line": 2},
        {"k": 3, "v": "c", "_source_file": "data/pq/good.parquet", "_line": 3},
    ]
    (reject,) = project.table("quarantine.bronze_pq").to_pylist()
    assert reject["source_file"] == "data/pq/broken.parquet"
    assert reject["rule"] == "unreadable_file"
    assert "data/pq/broken.parquet" in reject["reason"]
    assert reject["run_id"] == result.run_id


def test_changed_file_replaces_exactly_its_rows_and_rejects(make_project: MakeProject) -> None:
    a_lines = [GOOD_LINES[0], b"[1]", b"{oops", b'{"id": 5, "amount": 5.0, "qty": 5}']
    project = tx_project(make_project, a_lines)
    tx_dir = project.root / "data/tx"
    (tx_dir / "b.jsonl").write_text('{"id": 100, "amount": 1.0, "qty": 1}\n{"id": 101\n')
    project.run()
    assert sorted(r["id"] for r in project.table("bronze.tx").to_pylist()) == [1, 5, 100]
    assert project.table("quarantine.bronze_tx").num_rows == 3
    b_before = rows(project.sql("SELECT * FROM bronze.tx WHERE _source_file = 'data/tx/b.jsonl'"))

    # a.jsonl is corrected: one malformed line fixed, one row removed, one bad line added
    (tx_dir / "a.jsonl").write_bytes(
        b"\n".join([GOOD_LINES[0], b'{"id": 2, "amount": 2.0, "qty": 2}', b"{oops", b"7"]) + b"\n"
    )
    os.utime(tx_dir / "a.jsonl", ns=(1, 1))  # a different mtime even on coarse clocks

    result = project.run()

    tx = result.result("bronze.tx")
    assert (tx.commits, tx.rows_in, tx.rows_written, tx.rows_quarantined) == (1, 4, 2, 2)
    assert sorted(r["id"] for r in project.table("bronze.tx").to_pylist()) == [1, 2, 100]
    b_after = rows(project.sql("SELECT * FROM bronze.tx WHERE _source_file = 'data/tx/b.jsonl'"))
    assert b_after == b_before  # the other file's rows are untouched
    rejects = project.table("quarantine.bronze_tx").to_pylist()
    assert sorted((r["source_file"], r["line"], r["raw_record"]) for r in rejects) == [
        ("data/tx/a.jsonl", 3, "{oops"),
        ("data/tx/a.jsonl", 4, "7"),
        ("data/tx/b.jsonl", 2, '{"id": 101'),
    ]
    assert {r["run_id"] for r in rejects if r["source_file"] == "data/tx/a.jsonl"} == {
        result.run_id
    }
    assert project.run().commits == 0
