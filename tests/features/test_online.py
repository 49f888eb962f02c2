"""Online store: materialization (incremental, versioned by event time), TTL statuses, and
parity with the training set at the same moment."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa
import pytest

import assay
from assay.features.online import (
    EVENT_TS,
    OnlineStore,
    RedisOnlineStore,
    SQLiteOnlineStore,
    to_micros,
)
from assay.features.spec import Entity, FeatureView
from assay.features.store import EntityKeyError
from tests.conftest import MakeProject
from tests.features.test_training_sets import FEATURES, GOLD
from tests.helpers import EVENTS_INGEST, event, jsonl

NOW = datetime(2026, 1, 6)


@pytest.fixture(params=["sqlite", "redis"])
def project(make_project: MakeProject, request: pytest.FixtureRequest) -> assay.Project:
    """A project with gold features, its online store SQLite or a real Redis server."""
    data = jsonl(
        event(d * 10 + k, k, float(d * k), f"2026-01-{d:02d} 1{k}:00:00")
        for d in range(1, 6)
        for k in range(4)
    )
    store: dict[str, object] = {"type": "sqlite"}
    if request.param == "redis":
        store = {"type": "redis", "url": request.getfixturevalue("redis_url")}
    root = make_project(
        {
            "pipelines/ingest.py": EVENTS_INGEST,
            "pipelines/gold.sql": GOLD,
            "features/users.py": FEATURES.replace("{ttl}", "3d"),
            "data/events/a.jsonl": data,
        },
        {"online_store": store},
    )
    p = assay.Project(root)
    assert p.run().ok
    return p


def test_online_values_equal_the_training_set_at_the_same_moment(project: assay.Project) -> None:
    done = project.features.materialize(end=NOW)
    assert [(m.view, m.rows, m.incremental) for m in done] == [("user_daily", 4, False)]
    users = [{"user_id": u} for u in (0, 1, 2, 3, 99)]
    online = project.features.online(users, "model", now=NOW)
    entities = pa.table(
        {
            "user_id": [u["user_id"] for u in users],
            "event_timestamp": pa.array([NOW] * len(users), pa.timestamp("us")),
        }
    )
    offline = project.features.training_set(entities, "model").to_pylist()
    for vector, row in zip(online, offline, strict=True):
        for feature in ("events", "amount"):
            assert vector[feature]["value"] == row[feature]
    assert online[0]["events"]["status"] == "present"
    assert online[0]["events"]["event_timestamp"] == datetime(2026, 1, 6)
    assert online[4]["events"] == {"value": None, "event_timestamp": None, "status": "missing"}


def test_ttl_applies_online_as_offline(project: assay.Project) -> None:
    project.features.materialize(end=NOW)
    later = NOW + timedelta(days=3, seconds=1)
    vector = project.features.online([{"user_id": 1}], ["user_daily:events"], now=later)[0]
    assert vector["events"]["status"] == "expired" and vector["events"]["value"] is None
    entities = pa.table({"user_id": [1], "event_timestamp": pa.array([later], pa.timestamp("us"))})
    assert (
        project.features.training_set(entities, ["user_daily:events"])["events"][0].as_py() is None
    )


def test_materialization_is_incremental(project: assay.Project) -> None:
    project.features.materialize(end=NOW)
    again = project.features.materialize(end=NOW)
    assert [(m.rows, m.incremental) for m in again] == [(0, True)]
    late = jsonl([event(500, 2, 7.0, "2026-01-05 20:00:00")])
    (project.root / "data" / "events" / "late.jsonl").write_text(late)
    fresh = assay.Project(project.root)
    assert fresh.run().ok
    # gold.user_daily is a full table: its files were replaced, so this one is a full read.
    third = fresh.features.materialize(end=NOW)
    assert third[0].rows == 4 and not third[0].incremental
    assert (
        fresh.features.online([{"user_id": 2}], ["user_daily:events"], now=NOW)[0]["events"][
            "value"
        ]
        == 2
    )


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_writes_are_versioned_by_event_time(
    kind: str, tmp_path: object, request: pytest.FixtureRequest
) -> None:
    store: OnlineStore = (
        SQLiteOnlineStore(f"{tmp_path}/o.db")
        if kind == "sqlite"
        else RedisOnlineStore(request.getfixturevalue("redis_url"), prefix="versioned")
    )
    view = FeatureView(
        name="v",
        entities=[Entity("u", join_keys=["u"])],
        source="gold.v",
        timestamp="ts",
        features=["x"],
    )

    def batch(x: int, when: datetime) -> pa.Table:
        return pa.table(
            {"u": [1], "x": [x], EVENT_TS: to_micros(pa.array([when], pa.timestamp("us")))}
        )

    store.write(view, batch(2, datetime(2026, 1, 2)))
    store.write(view, batch(1, datetime(2026, 1, 1)))  # a replayed, older batch
    assert store.read(view, [(1,)], ["x"])[0][0] == {"x": 2}
    store.write(view, batch(3, datetime(2026, 1, 3)))
    assert store.read(view, [(1,), (2,)], ["x"])[0][0] == {"x": 3}
    assert store.read(view, [(2,)], ["x"]) == [None]


def test_a_later_end_reaches_rows_already_in_old_files(project: assay.Project) -> None:
    project.features.materialize(end=datetime(2026, 1, 3))
    early = project.features.online(
        [{"user_id": 1}], ["user_daily:events"], now=datetime(2026, 1, 3)
    )[0]["events"]
    assert early["event_timestamp"] == datetime(2026, 1, 3)
    later = project.features.materialize(end=NOW)
    assert later[0].incremental and later[0].rows == 4
    vector = project.features.online([{"user_id": 1}], ["user_daily:events"], now=NOW)[0]
    assert vector["events"]["event_timestamp"] == datetime(2026, 1, 6)


def test_redis_reads_every_view_of_a_request_in_one_round_trip(
    request: pytest.FixtureRequest,
) -> None:
    store = RedisOnlineStore(request.getfixturevalue("redis_url"), prefix="trips")
    user = Entity("user", join_keys=["u"])
    views = [
        FeatureView(name=n, entities=[user], source="gold.v", timestamp="ts", features=["x"])
        for n in ("a", "b")
    ]
    for i, view in enumerate(views):
        store.write(
            view, pa.table({"u": [1, 2], "x": [i, i + 10], EVENT_TS: pa.array([1, 1], pa.int64())})
        )
    executed = []
    original = store.client.pipeline

    def counting(*args: object, **kwargs: object) -> object:
        pipe = original(*args, **kwargs)  # type: ignore[arg-type]
        run = pipe.execute
        pipe.execute = lambda: executed.append(1) or run()  # type: ignore[method-assign]
        return pipe

    store.client.pipeline = counting  # type: ignore[method-assign]
    got = store.read_many([(v, [(1,), (2,), (3,)], ["x"]) for v in views])
    assert len(executed) == 1
    assert [[hit[0]["x"] if hit else None for hit in per_view] for per_view in got] == [
        [0, 10, None],
        [1, 11, None],
    ]


TIES = """
import pyarrow as pa
from datetime import datetime
import assay

@assay.source("gold.scores")
def scores(ctx):
    t, c = datetime(2026, 1, 1), datetime(2026, 1, 2)
    return pa.table({
        "user_id": [1, 1, 1, 2, 2],
        "ts": pa.array([t, t, t, t, t], pa.timestamp("us")),
        "created": pa.array([c, datetime(2026, 1, 3), None, None, c], pa.timestamp("us")),
        "score": [10, 30, 99, 5, 7],
    })
"""
TIE_VIEW = """
from assay import Entity, FeatureView
user = Entity("user", join_keys=["user_id"])
scores = FeatureView(name="scores", entities=[user], source="gold.scores", timestamp="ts",
                     created_timestamp="created", ttl="30d", features=["score"])
"""


def test_ties_on_the_timestamp_go_to_the_latest_created_online_and_offline(
    make_project: MakeProject,
) -> None:
    root = make_project({"pipelines/scores.py": TIES, "features/scores.py": TIE_VIEW})
    project = assay.Project(root)
    assert project.run().ok
    project.features.materialize(end=NOW)
    online = project.features.online([{"user_id": 1}, {"user_id": 2}], ["scores:score"], now=NOW)
    entities = pa.table(
        {"user_id": [1, 2], "event_timestamp": pa.array([NOW, NOW], pa.timestamp("us"))}
    )
    offline = project.features.training_set(entities, ["scores:score"])["score"].to_pylist()
    # The latest created wins; a row without a created time loses every tie.
    assert [v["score"]["value"] for v in online] == offline == [30, 7]


@pytest.mark.parametrize(
    ("key", "said"),
    [
        (True, "join key 'user_id' is True, not a string or a number"),
        (False, "join key 'user_id' is False, not a string or a number"),
        (2**70, "join key 'user_id' is an integer outside 64 bits"),
    ],
)
def test_a_bool_or_huge_join_key_is_refused_not_read_as_a_number(
    project: assay.Project, key: object, said: str
) -> None:
    """True is an int in Python: on SQLite it was served as user 1's vector."""
    project.features.materialize(end=NOW)
    assert project.features.online([{"user_id": 1}], "model", as_of=NOW)[0]["events"]["value"]
    with pytest.raises(EntityKeyError) as refused:
        project.features.online([{"user_id": 2}, {"user_id": key}], "model", as_of=NOW)
    assert refused.value.message.startswith("entity 1 ") and said in refused.value.message
    assert "True and False are not keys" in (refused.value.hint or "")
