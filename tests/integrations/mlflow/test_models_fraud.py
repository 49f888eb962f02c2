"""The fraud example's model, trained by `assay run` (real MLflow on the project's SQLite
backend, real scikit-learn): the first run registers v1 as champion; new data retrains
and the alias moves only when the new version wins on the same new holdout; nothing new
trains nothing; a worse model (a dummy classifier) is registered but stays challenger.

Checked independently: versions and aliases with `MlflowClient`, the champion's score on
the new holdout by loading it with `mlflow.sklearn` and scoring with scikit-learn on a
split made with pandas, row counts of the split with pandas, the DAG with `assay plan`
and the Airflow DAG factory.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import assay
from tests.ml.conftest import require_mlflow

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "fraud"
sys.path.insert(0, str(EXAMPLE))

import generate  # noqa: E402

N = 30_000
MODEL = "models.fraud_model"
LABEL, TIME, KEYS = "is_fraud", "event_timestamp", {"card_id", "merchant_id"}


@pytest.fixture(scope="module")
def fraud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The example through day 60, run (v1); then days 61-90, run (v2); then a run with
    nothing new. Each run's model row and the state between runs are kept."""
    mlflow = require_mlflow()
    before = mlflow.get_tracking_uri()
    root = tmp_path_factory.mktemp("fraud")
    shutil.copy(EXAMPLE / "assay.yaml", root)
    for folder in ("pipelines", "contracts", "features", "models"):
        shutil.copytree(EXAMPLE / folder, root / folder)
    generate.generate(root, through_day=60, n_transactions=N)
    project = assay.Project(root)
    first = project.run()
    assert first.ok, [r.error for r in first.failed]
    generate.generate(root, through_day=generate.DAYS, n_transactions=N)
    plan = {w.dataset: w for w in assay.Project(root).plan()}
    second = assay.Project(root).run()
    assert second.ok, [r.error for r in second.failed]
    third = assay.Project(root).run()
    uri = f"sqlite:///{root.resolve()}/.assay/mlflow.db"
    yield {
        "root": root,
        "runs": (first, second, third),
        "plan": plan,
        "client": mlflow.MlflowClient(uri),
        "mlflow": mlflow,
        "uri": uri,
    }
    mlflow.set_tracking_uri(before)


def _rows(root: Path) -> list[dict[str, Any]]:
    return sorted(assay.Project(root).table(MODEL).to_pylist(), key=lambda r: r["version"])


def test_the_first_run_registers_v1_as_champion(fraud: dict[str, Any]) -> None:
    first = fraud["runs"][0].result(MODEL)
    assert first.status == "success" and first.commits == 1
    v1 = _rows(fraud["root"])[0]
    assert v1["version"] == 1 and v1["is_champion"] and v1["champion_version"] is None
    assert v1["run_id"] == fraud["runs"][0].run_id
    assert "first version" in v1["decision"]


def test_new_data_retrains_and_the_alias_follows_the_better_model(fraud: dict[str, Any]) -> None:
    client, mlflow = fraud["client"], fraud["mlflow"]
    assert fraud["runs"][1].result(MODEL).status == "success"
    assert any(
        "new data in silver.transactions" in r for r in fraud["runs"][1].result(MODEL).reasons
    )
    v1, v2 = _rows(fraud["root"])[:2]
    assert v2["version"] == 2 and v2["champion_version"] == 1
    # The old champion, loaded from the registry and scored by sklearn on a split made
    # here with pandas: the same value the run recorded, on the same holdout.
    project = assay.Project(fraud["root"])
    labels = project.sql(project.datasets[MODEL].producer.declaration.labels)
    frame = project.features.training_set(labels, "fraud_model").to_pandas()
    start = pd.Timestamp(frame[TIME].max()) - timedelta(days=14)
    assert pd.Timestamp(v2["holdout_start"]) == start
    held = frame[frame[TIME] >= start]
    assert (v2["train_rows"], v2["eval_rows"]) == ((frame[TIME] < start).sum(), len(held))
    inputs = [c for c in frame.columns if c not in {LABEL, TIME, *KEYS}]
    from sklearn.metrics import roc_auc_score

    mlflow.set_tracking_uri(fraud["uri"])
    old = mlflow.sklearn.load_model("models:/fraud_model/1")
    expected = roc_auc_score(held[LABEL], old.predict_proba(held[inputs])[:, 1])
    assert v2["champion_value"] == pytest.approx(expected, rel=1e-9)
    champion = client.get_model_version_by_alias("fraud_model", "champion")
    assert v2["is_champion"] == (v2["value"] > v2["champion_value"])
    assert int(champion.version) == (2 if v2["is_champion"] else 1)
    run = client.get_run(v2["mlflow_run_id"])
    assert run.data.metrics["roc_auc"] == pytest.approx(v2["value"], rel=1e-12)
    assert run.data.metrics["champion_roc_auc"] == pytest.approx(expected, rel=1e-9)
    assert v1["value"] > 0.8  # the example's fraud has a signal a model learns


def test_nothing_new_trains_nothing(fraud: dict[str, Any]) -> None:
    third = fraud["runs"][2].result(MODEL)
    assert third.status == "up_to_date" and third.commits == 0
    assert len(_rows(fraud["root"])) == 2
    assert len(fraud["client"].search_model_versions("name='fraud_model'")) == 2


def test_plan_and_airflow_list_the_model(fraud: dict[str, Any]) -> None:
    work = fraud["plan"][MODEL]
    assert work.needed and any("upstream will change" in r for r in work.reasons)
    assert set(assay.Project(fraud["root"]).datasets[MODEL].inputs) == {
        "silver.transactions",
        "silver.chargebacks",
        "gold.card_daily",
        "gold.merchant_daily",
    }
    from assay.integrations.airflow.layout import plan_dags

    project = assay.Project(fraud["root"])
    layouts = plan_dags("fraud", project.dag)
    dags = {d.trigger: d for d in layouts if MODEL in d.datasets}
    assert ("gold.card_daily", MODEL) in dags["manual"].edges  # the whole project's DAG
    # Its own DAG, triggered when any of its inputs' assets is updated (on_upstream).
    assert set(dags["on_upstream"].inputs) == set(project.datasets[MODEL].inputs)


def test_a_worse_model_is_registered_but_the_champion_stays(fraud: dict[str, Any]) -> None:
    root, client = fraud["root"], fraud["client"]
    champion = int(client.get_model_version_by_alias("fraud_model", "champion").version)
    path = root / "models" / "fraud.py"
    kept = path.read_text()
    body = kept[: kept.index("def fraud_model")]
    path.write_text(
        body + "def fraud_model(X, y):\n"
        "    from sklearn.dummy import DummyClassifier\n"
        "    return DummyClassifier(strategy='prior').fit(X, y)\n"
    )
    try:
        result = assay.Project(root).run([MODEL])
    finally:
        path.write_text(kept)
    assert result.ok and result.result(MODEL).reasons == ["code changed"]
    worse = _rows(root)[-1]
    assert worse["version"] == 3 and worse["value"] == pytest.approx(0.5)
    assert not worse["is_champion"] and worse["champion_version"] == champion
    assert f"champion v{champion} kept" in worse["decision"]
    assert int(client.get_model_version_by_alias("fraud_model", "champion").version) == champion
    assert os.path.exists(path)
