"""Hostile names through every SQL path sqlbuild now builds: ingest (conform), contract
checks (compiled rules, quarantine), and the online store (SQLite DDL, upsert, reads).

A JSON key `a"; DROP TABLE x; --` (and keys with a backtick, a quote, a space) must be a
column of exactly that name everywhere, its values compared, cast and rejected as that
column's, its reasons naming it; the SQL around it must mean what it meant.
"""

from __future__ import annotations

import json
from datetime import datetime

import pyarrow as pa
import pytest

import assay
from tests.conftest import MakeProject
from tests.helpers import jsonl

AMOUNT = 'a"; DROP TABLE x; --'
TAG = "a`b"
WHEN = "it's"
USER = "user id"

INGEST = """
import assay
assay.files("bronze.x", path="data/*.jsonl", format="jsonl", columns={
    "user id": "BIGINT", 'a"; DROP TABLE x; --': "DOUBLE", "a`b": "VARCHAR", "it's": "TIMESTAMP",
})
"""

CONTRACT = """
apiVersion: v3.1.0
kind: DataContract
id: x
version: 1.0.0
status: active
schema:
  - name: x
    physicalName: bronze.x
    properties:
      - name: 'a"; DROP TABLE x; --'
        logicalType: number
        logicalTypeOptions: {minimum: 0}
      - name: 'a`b'
        logicalType: string
        required: true
        logicalTypeOptions: {pattern: "^[a-z;' ]+$"}
"""

FEATURES = """
from assay import Entity, FeatureService, FeatureView

user = Entity("user", join_keys=["user id"])
x = FeatureView(name="x", entities=[user], source="bronze.x", timestamp="it's", ttl="30d",
                features=['a"; DROP TABLE x; --', "a`b"])
service = FeatureService(name="svc", features=['x:a"; DROP TABLE x; --', "x:a`b"])
"""


def record(user: int, amount: object, tag: object, day: int) -> dict[str, object]:
    return {USER: user, AMOUNT: amount, TAG: tag, WHEN: f"2026-01-0{day}T10:00:00"}


@pytest.fixture
def project(make_project: MakeProject) -> assay.Project:
    rows = [
        record(1, 5.5, "ok; it's", 1),
        record(2, "N/A", "ok", 1),  # does not cast: quarantined by ingest
        record(3, -1, "ok", 2),  # breaks minimum: quarantined by the contract
        record(4, 7, "BAD", 2),  # breaks the pattern
        record(1, 6.5, "later", 3),
    ]
    root = make_project(
        {
            "pipelines/ingest.py": INGEST,
            "contracts/x.yaml": CONTRACT,
            "features/x.py": FEATURES,
            "data/a.jsonl": jsonl(rows),
        },
        {"online_store": {"type": "sqlite"}},
    )
    return assay.Project(root)


def test_a_hostile_key_is_one_column_through_ingest_contract_and_online(
    project: assay.Project,
) -> None:
    result = project.run()
    assert result.ok, [(r.dataset, r.error) for r in result.failed]
    bronze = result.result("bronze.x")
    assert (bronze.rows_in, bronze.rows_written, bronze.rows_quarantined) == (5, 2, 3)
    table = project.table("bronze.x")
    assert [c for c in table.column_names if not c.startswith("_")] == [USER, AMOUNT, TAG, WHEN]
    assert sorted(table[AMOUNT].to_pylist()) == [5.5, 6.5]
    assert sorted(table[TAG].to_pylist()) == ["later", "ok; it's"]

    rejects = {
        json.loads(r["raw_record"])[USER]: r
        for r in project.table("quarantine.bronze_x").to_pylist()
    }
    assert set(rejects) == {2, 3, 4}
    assert rejects[2]["rule"] == "cast" and f"column {AMOUNT}: N/A" in rejects[2]["reason"]
    assert rejects[3]["rule"] == f"minimum({AMOUNT})"
    assert rejects[4]["rule"] == f"pattern({TAG})"
    # the rejects carry the shared shape too (assay.pipelines.rejected)
    assert {r["position"] for r in rejects.values()} == {2, 3, 4}

    # `assay check` against the table as it is: the rules run on the hostile columns
    checks = {c.rule: c.status for c in project.check(["bronze.x"])}
    assert checks[f"minimum({AMOUNT})"] == "pass"
    assert checks[f"pattern({TAG})"] == "pass"

    done = project.features.materialize(end=datetime(2026, 1, 5))
    assert [(m.view, m.rows) for m in done] == [("x", 1)]
    (vector,) = project.features.online([{USER: 1}], "svc", now=datetime(2026, 1, 5))
    assert vector[AMOUNT]["value"] == 6.5
    assert vector[TAG]["value"] == "later"
    # the store's own SQL too: the table is intact and holds exactly the one entity
    store = project.features.online_store
    view = next(v for v in project.features.views.values() if v.name == "x")
    assert store.holds(view)
    assert store.read(view, [(1,), (2,)], [AMOUNT]) == [
        ({AMOUNT: 6.5}, store.read(view, [(1,)], [AMOUNT])[0][1]),  # type: ignore[index]
        None,
    ]


def test_sqlite_online_store_round_trips_hostile_view_columns(tmp_path: object) -> None:
    from assay.features.online import EVENT_TS, SQLiteOnlineStore
    from assay.features.spec import Entity, FeatureView

    store = SQLiteOnlineStore(f"{tmp_path}/online.db")
    user = Entity("user", join_keys=[USER, TAG])
    view = FeatureView(
        name="v", entities=[user], source="gold.v", timestamp="ts", features=[AMOUNT, WHEN]
    )
    rows = pa.table(
        {
            USER: [1, 1],
            TAG: ["x`y", 'q"'],
            AMOUNT: [1.5, 2.5],
            WHEN: ["a'b", "c"],
            EVENT_TS: pa.array([10, 10], pa.int64()),
        }
    )
    assert store.write(view, rows) == 2
    older = rows.set_column(2, AMOUNT, pa.array([9.0, 9.0])).set_column(
        4, EVENT_TS, pa.array([5, 5], pa.int64())
    )
    store.write(view, older)  # older by event time: never replaces the fresher values
    got = store.read(view, [(1, "x`y"), (1, 'q"'), (2, "x`y")], [AMOUNT, WHEN])
    assert got == [({AMOUNT: 1.5, WHEN: "a'b"}, 10), ({AMOUNT: 2.5, WHEN: "c"}, 10), None]
