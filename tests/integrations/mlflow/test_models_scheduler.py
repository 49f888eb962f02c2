"""The fraud model declared `schedule="on_upstream"` is trained by the scheduler like any
dataset: each delivery's tick retrains it (a new registered version), an idle tick does
not (checked with MLflow's own client)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import assay
from assay.orchestration.scheduler import Scheduler
from tests.ml.conftest import require_mlflow

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "fraud"
sys.path.insert(0, str(EXAMPLE))

import generate  # noqa: E402

N = 20_000
MODEL = "models.fraud_model"


def test_scheduler_ticks_retrain_the_model_on_new_data(tmp_path: Path) -> None:
    mlflow = require_mlflow()
    before = mlflow.get_tracking_uri()
    root = tmp_path / "fraud"
    root.mkdir()
    shutil.copy(EXAMPLE / "assay.yaml", root)
    for folder in ("pipelines", "contracts", "features", "models"):
        shutil.copytree(EXAMPLE / folder, root / folder)
    client = mlflow.MlflowClient(f"sqlite:///{root.resolve()}/.assay/mlflow.db")
    lines: list[str] = []
    try:
        for day, versions in ((60, 1), (90, 2)):  # files land; the next tick runs them
            generate.generate(root, through_day=day, n_transactions=N)
            report = Scheduler(assay.Project(root), log=lines.append, streams=False).tick()
            assert not report.failed, lines
            assert MODEL in [r.dataset for r in report.ran], lines
            found = client.search_model_versions("name='fraud_model'")
            assert len(found) == versions
        idle = Scheduler(assay.Project(root), log=lines.append, streams=False).tick()
        assert MODEL not in [r.dataset for r in idle.ran]
        assert len(client.search_model_versions("name='fraud_model'")) == 2
        rows = assay.Project(root).table(MODEL).num_rows
        assert rows == 2
    finally:
        mlflow.set_tracking_uri(before)
