"""A project as Airflow 3 DAGs, run by real Airflow: `dag.test()` runs each task in-process
against the session's migrated SQLite database, parsing the DAG folder as the processor does."""

from __future__ import annotations

import json
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import assay
from assay.integrations.airflow.build import ProjectDefinitions
from assay.intervals import Interval
from tests.helpers import VOLATILE, catalog_rows, checksum, write_project
from tests.integrations.airflow_env import READINGS, SILVER_READINGS, dag_file, load_dags

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "fraud"

BROKEN_SILVER = """
-- name: silver.readings
-- kind: full
SELECT sensor, no_such_column FROM {{ ref('bronze.readings') }}
"""


def states(run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def schedule_uris(dag: Any) -> set[str]:
    """The asset URIs a DAG is scheduled on."""
    condition = dag.timetable.asset_condition
    return {a.uri for a in getattr(condition, "objects", [condition])}


def asset_events(uri: str) -> int:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = sa.select(sa.func.count()).select_from(AssetEvent)
        query = query.join(AssetModel, AssetEvent.asset_id == AssetModel.id)
        return int(session.scalar(query.where(AssetModel.uri == uri)) or 0)


def copy_example(root: Path) -> Path:
    """The fraud example's definitions (no data, no warehouse) under `root`."""
    root.mkdir(parents=True)
    for part in ("assay.yaml", "pipelines", "contracts", "features"):
        copy = shutil.copytree if (EXAMPLE / part).is_dir() else shutil.copy
        copy(EXAMPLE / part, root / part)
    return root


def test_the_example_dag_folder_imports_with_the_declared_structure(
    airflow_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_example(tmp_path / "fraud")
    monkeypatch.setenv("ASSAY_FRAUD_PROJECT", str(root))
    dags = load_dags(EXAMPLE / "dags")
    assert sorted(dags) == [
        "assay_fraud",
        "assay_fraud__arrivals",
        "assay_fraud__gold.card_daily",
        "assay_fraud__gold.merchant_daily",
        "assay_fraud__silver.chargebacks",
        "assay_fraud__silver.customers",
        "assay_fraud__silver.transactions",
        "assay_fraud__training.fraud_model",
    ]
    assert sorted(p.name for p in root.iterdir()) == [
        "assay.yaml",
        "contracts",
        "features",
        "pipelines",
    ], "parsing a DAG file must not open the catalog or the warehouse"
    specs = ProjectDefinitions.load(root).dag.specs
    runnable = {n for n, s in specs.items() if not s.producer.is_stream}
    everything: Any = dags["assay_fraud"]
    assert set(everything.task_ids) == runnable
    for name in runnable:  # edges are assay's, retries assay.yaml's (the defaults: 3 attempts)
        task = everything.get_task(name)
        assert task.upstream_task_ids == set(specs[name].inputs)
        assert [a.uri for a in task.outlets] == [f"assay://fraud/{name}"]
        assert (task.retries, task.retry_delay.total_seconds()) == (2, 0.5)
    merchant: Any = dags["assay_fraud__gold.merchant_daily"]
    assert schedule_uris(merchant) == {
        "assay://fraud/silver.transactions",
        "assay://fraud/silver.chargebacks",
    }


def test_dag_test_builds_the_demo_tables_as_assay_run_does(
    dags_folder: Path, tmp_path: Path
) -> None:
    sys.path.insert(0, str(EXAMPLE))
    import generate

    roots = []
    for name in ("by_airflow", "by_assay"):
        root = copy_example(tmp_path / name)
        generate.generate(root, through_day=60, n_transactions=4000)
        roots.append(root)
    dags = load_dags(dag_file(dags_folder, "fraud", roots[0]))

    run = dags["assay_fraud"].test()  # type: ignore[attr-defined]

    assert str(run.state) == "success", states(run)
    assert assay.Project(roots[1]).run().ok
    built, oracle = assay.Project(roots[0]), assay.Project(roots[1])
    tables = sorted(oracle.warehouse.list_tables())
    assert sorted(built.warehouse.list_tables()) == tables
    assert "gold.merchant_daily" in tables
    exclude = VOLATILE | {"_source_file"}
    for table in tables:  # floats rounded: sums add up in any order
        got, want = built.table(table), oracle.table(table)
        assert checksum(got, exclude, 6) == checksum(want, exclude, 6), table
    runs = catalog_rows(built, "assay_runs")
    assert {r["command"] for r in runs} == {"airflow"}


def test_a_data_interval_fills_exactly_its_assay_intervals(
    dags_folder: Path, tmp_path: Path
) -> None:
    root = write_project(
        tmp_path / "win", {"pipelines/source.py": READINGS, "pipelines/silver.sql": SILVER_READINGS}
    )
    daily: Any = load_dags(dag_file(dags_folder, "win", root))["assay_win__daily"]
    assert daily.task_ids == ["bronze.readings", "silver.readings"]

    runs = [daily.test(logical_date=datetime(2026, 1, day, tzinfo=UTC)) for day in (3, 5)]

    assert [str(r.state) for r in runs] == ["success", "success"]
    windows = [(r.data_interval_start, r.data_interval_end) for r in runs]
    assert windows == [
        (datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 3, tzinfo=UTC)),
        (datetime(2026, 1, 4, tzinfo=UTC), datetime(2026, 1, 5, tzinfo=UTC)),
    ]
    project = assay.Project(root)
    assert project.intervals("silver.readings") == [
        Interval(datetime(2026, 1, 2), datetime(2026, 1, 3)),
        Interval(datetime(2026, 1, 4), datetime(2026, 1, 5)),
    ]
    days = sorted({r["taken_at"].day for r in project.table("silver.readings").to_pylist()})
    assert days == [2, 4]
    assert project.row_count("silver.readings") == 8


def test_a_run_with_nothing_new_is_skipped_and_triggers_nothing(
    dags_folder: Path, tmp_path: Path
) -> None:
    root = write_project(
        tmp_path / "idle",
        {"pipelines/source.py": READINGS, "pipelines/silver.sql": SILVER_READINGS},
    )
    dag: Any = load_dags(dag_file(dags_folder, "idle", root))["assay_idle"]
    uri = "assay://idle/silver.readings"

    first = dag.test()
    events = asset_events(uri)
    again = dag.test()

    assert states(first)["silver.readings"] == "success"
    assert events == 1
    assert str(again.state) == "success"
    assert states(again)["silver.readings"] == "skipped"
    assert asset_events(uri) == 1


def test_a_failing_dataset_fails_its_task_with_assays_message(
    dags_folder: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    root = write_project(
        tmp_path / "broken",
        {"pipelines/source.py": READINGS, "pipelines/silver.sql": BROKEN_SILVER},
    )
    dag: Any = load_dags(dag_file(dags_folder, "broken", root))["assay_broken"]

    run = dag.test()

    assert str(run.state) == "failed"
    assert states(run) == {"bronze.readings": "success", "silver.readings": "failed"}
    failed = next(ti for ti in run.get_task_instances() if ti.task_id == "silver.readings")
    assert failed.try_number == 1  # assay already retried; a terminal error is not retried
    recorded = catalog_rows(assay.Project(root), "assay_dataset_runs", dataset="silver.readings")
    error = recorded[-1]["error"]
    assert "no_such_column" in error
    assert f"AirflowFailException: {error.splitlines()[0]}" in capfd.readouterr().out


def test_a_model_trains_on_the_training_set_its_dag_follows(
    dags_folder: Path, tmp_path: Path
) -> None:
    features = """
    from assay import Entity, FeatureView
    sensor = Entity("sensor", join_keys=["sensor"])
    readings = FeatureView(name="readings", entities=[sensor], source="silver.readings",
                           timestamp="taken_at", features=["value"])
    """
    root = write_project(
        tmp_path / "ml",
        {
            "pipelines/source.py": READINGS,
            "pipelines/silver.sql": SILVER_READINGS,
            "features/readings.py": features,
        },
    )
    trained = tmp_path / "trained.json"
    extra = f"""
import json
from assay.integrations.airflow import model_dag, training_set_dag

LABELS = "SELECT sensor, taken_at + INTERVAL 1 HOUR AS event_timestamp FROM silver.readings"

def fit(table, version):
    with open({str(trained)!r}, "w") as out:
        json.dump({{"rows": table.num_rows, "version": version,
                    "values": sorted(table.column("value").to_pylist())}}, out)

training = training_set_dag({str(root)!r}, "sensors", LABELS, ["readings:value"])
model = model_dag({str(root)!r}, "sensors", fit)
"""
    dags: Any = load_dags(dag_file(dags_folder, "ml", root, extra))
    model = dags["assay_ml__model.sensors"]
    assert schedule_uris(model) == {"assay://ml/training.sensors"}
    assert schedule_uris(dags["assay_ml__training.sensors"]) == {"assay://ml/silver.readings"}

    assert str(dags["assay_ml"].test().state) == "success"
    assert str(dags["assay_ml__training.sensors"].test().state) == "success"
    assert str(model.test().state) == "success"

    project = assay.Project(root)
    result = json.loads(trained.read_text())
    assert result["version"] == project.warehouse.version("training.sensors")
    assert result["rows"] == 24
    # Each label an hour after its reading: the point-in-time value is that reading's.
    assert result["values"] == [float(i) for i in range(24)]
