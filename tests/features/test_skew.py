"""Sampled request logging and `assay features skew`: replay at request time (time travel,
so rows that arrive later are not skew), mismatches of a stale online store, drift (PSI,
KS against scipy)."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from scipy import stats
from typer.testing import CliRunner

import assay
from assay.cli.main import app
from assay.features import drift
from assay.features.request_log import TABLE
from assay.server.app import create_app, hash_key
from tests.conftest import MakeProject
from tests.features.test_training_sets import FEATURES, GOLD
from tests.helpers import EVENTS_INGEST, event, jsonl

KEY = "k"
USERS = range(20)


def day(d: int) -> str:
    return jsonl(
        event(d * 100 + u, u, float(d * 10 + u), f"2026-01-{d:02d} 12:00:00") for u in USERS
    )


@pytest.fixture
def project(make_project: MakeProject) -> assay.Project:
    root = make_project(
        {
            "pipelines/ingest.py": EVENTS_INGEST,
            "pipelines/gold.sql": GOLD,
            "features/users.py": FEATURES.replace("{ttl}", "3650d"),
            "data/events/1.jsonl": day(1),
            "data/events/2.jsonl": day(2),
        },
        {"server": {"api_keys": [hash_key(KEY)], "log_sample_rate": 1.0}},
    )
    p = assay.Project(root)
    assert p.run().ok
    p.features.materialize()
    return p


def serve(project: assay.Project, users: range) -> None:
    """Requests through the real app; leaving the client flushes the log (lifespan)."""
    with TestClient(create_app(project)) as client:
        for start in range(0, len(users), 5):
            body = {
                "entities": [{"user_id": u} for u in users[start : start + 5]],
                "service": "model",
            }
            assert (
                client.post("/features", json=body, headers={"X-API-Key": KEY}).status_code == 200
            )


def test_logged_requests_replay_without_mismatch(project: assay.Project) -> None:
    serve(project, USERS)
    logged = project.sql(f"SELECT * FROM {TABLE}")
    assert logged.num_rows == len(USERS) * 2  # every entity x feature of every request
    assert set(logged["service"].to_pylist()) == {"model"}
    report = project.features.skew()
    assert report.requests == 4
    assert [(f.feature, f.logged, f.mismatches) for f in report.features] == [
        ("user_daily:events", 20, 0),
        ("user_daily:amount", 20, 0),
    ]


def test_a_stale_online_store_shows_as_mismatches(project: assay.Project) -> None:
    serve(project, USERS)
    before = datetime.utcnow()
    # Day 3 arrives and is built, but nobody materializes: the online store is stale.
    (project.root / "data/events/3.jsonl").write_text(day(3))
    assert project.run().ok
    serve(project, range(5))
    report = project.features.skew()
    # The first requests were right when made: the new rows came later (time travel).
    by_feature = {f.feature: f for f in report.features}
    assert by_feature["user_daily:events"].mismatches == 0  # one event a day either way
    assert by_feature["user_daily:amount"].mismatches == 5
    assert {e["entity"] for e in report.examples} == {f'{{"user_id": {u}}}' for u in range(5)}
    assert all(
        e["served"] == 20.0 + u and e["point_in_time"] == 30.0 + u
        for e, u in zip(sorted(report.examples, key=lambda e: e["served"]), range(5), strict=True)
    )
    later = project.features.skew(since=before)
    assert {f.feature: f.logged for f in later.features} == {
        "user_daily:events": 5,
        "user_daily:amount": 5,
    }


def test_drift_against_a_saved_training_set(project: assay.Project) -> None:
    entities = pa.table(
        {
            "user_id": list(USERS),
            "event_timestamp": pa.array([datetime(2026, 1, 4)] * len(USERS), pa.timestamp("us")),
        }
    )
    project.features.training_set(entities, "model", save_as="model")
    serve(project, USERS)
    report = project.features.skew(training_set="model")
    assert report.baseline == "training.model"
    for finding in report.features:  # served exactly the training distribution
        assert finding.psi == pytest.approx(0.0) and finding.drift == "none"
        assert finding.ks == 0.0 and finding.ks_pvalue == 1.0


def test_the_cli_reports_and_fails_strictly(project: assay.Project) -> None:
    serve(project, USERS)
    (project.root / "data/events/3.jsonl").write_text(day(3))
    assert project.run().ok
    serve(project, range(3))
    runner = CliRunner()
    args = ["features", "skew", "--project", str(project.root)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "user_daily:amount" in result.output and "example mismatches" in result.output
    assert runner.invoke(app, [*args, "--strict"]).exit_code == 1


def test_skew_without_logs_says_how_to_enable_them(make_project: MakeProject) -> None:
    root: Path = make_project(
        {
            "pipelines/ingest.py": EVENTS_INGEST,
            "pipelines/gold.sql": GOLD,
            "features/users.py": FEATURES.replace("{ttl}", "1d"),
            "data/events/1.jsonl": day(1),
        }
    )
    with pytest.raises(assay.AssayError, match="no served requests are logged") as err:
        assay.Project(root).features.skew()
    assert "log_sample_rate" in str(err.value.hint)


def test_sampling_logs_about_the_configured_share(project: assay.Project) -> None:
    from assay.features.request_log import RequestLog

    log = RequestLog(project.warehouse, sample_rate=0.25)
    vector = {"events": {"value": 1, "event_timestamp": None, "status": "present"}}
    sampled = sum(
        log.record([{"user_id": 1}], ["user_daily:events"], ["events"], [vector])
        for _ in range(4000)
    )
    assert 800 < sampled < 1200  # 1000 expected; 6+ standard deviations either side
    assert log.flush() == sampled


@pytest.mark.parametrize("shift", [0.0, 0.3, 1.0])
def test_ks_agrees_with_scipy(shift: float) -> None:
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=800), rng.normal(shift, 1.0, size=500)
    stat, p = drift.ks(a, b)
    expected = stats.ks_2samp(a, b, method="asymp")
    assert stat == pytest.approx(expected.statistic)
    assert p == pytest.approx(expected.pvalue, abs=0.02)


def test_psi_grows_with_the_shift_and_handles_few_values() -> None:
    rng = np.random.default_rng(3)
    base = rng.normal(size=5000)
    values = [drift.psi(base, rng.normal(s, 1, size=5000)) for s in (0.0, 0.4, 1.0)]
    assert values[0] < drift.PSI_MODERATE < values[1] < drift.PSI_SHIFT < values[2]
    counts = np.array([0] * 50 + [1] * 30 + [2] * 20)
    assert drift.psi(counts, counts) == pytest.approx(0.0)
    assert drift.psi(counts, np.array([2] * 100)) > drift.PSI_SHIFT
    assert math.isnan(drift.psi([], [1.0]))
