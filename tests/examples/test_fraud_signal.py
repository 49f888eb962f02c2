"""The fraud example's data carries a learnable, realistic fraud signal.

A model fitted on the project's own point-in-time training set ranks later fraud well above
chance, yet no single feature gives the label away; the fraud rows are bursts on
compromised cards, checked with pandas over the generated transactions.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pytest

import assay

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fraud"
sys.path.insert(0, str(EXAMPLE))

import generate  # noqa: E402

N = 100_000
FEATURES = [
    "amount",
    "hour",
    "txn_count_7d",
    "amount_mean_7d",
    "amount_max_1d",
    "chargebacks_30d",
    "count_1h",
    "amount_sum_1d",
]


@pytest.fixture(scope="module")
def transactions() -> pd.DataFrame:
    """The generated transactions with their label (a chargeback exists), in pandas."""
    tables = generate.build(N)
    frame = tables["transactions"].to_pandas()
    charged = set(tables["chargebacks"]["transaction_id"].to_pylist())
    frame["is_fraud"] = frame["transaction_id"].isin(charged)
    return frame


def test_fraud_rate_is_one_to_two_percent(transactions: pd.DataFrame) -> None:
    assert len(transactions) == N
    assert 0.01 <= transactions["is_fraud"].mean() <= 0.02


def test_fraud_rows_are_bursts_on_a_card(transactions: pd.DataFrame) -> None:
    frame = transactions.sort_values(["card_id", "event_time"], kind="stable")
    # The card's transactions in (t - 1h, t], this one included: pandas' own time window.
    frame["count_1h"] = (
        frame.set_index("event_time").groupby("card_id")["amount"].rolling("1h").count().to_numpy()
    )
    fraud, legit = frame[frame["is_fraud"]], frame[~frame["is_fraud"]]
    assert fraud["count_1h"].mean() > 1.8 * legit["count_1h"].mean()
    assert (fraud["count_1h"] >= 2).mean() > 0.6
    assert (legit["count_1h"] >= 2).mean() < 0.35  # shopping trips
    # Several times the card's usual spending (its legitimate median), and often at night.
    usual = legit.groupby("card_id")["amount"].median()
    ratio = fraud["amount"].to_numpy() / usual.reindex(fraud["card_id"]).to_numpy()
    assert np.nanmedian(ratio) > 1.8
    night = frame["event_time"].dt.hour < 5
    assert night[frame["is_fraud"]].mean() > 4 * night[~frame["is_fraud"]].mean()


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        generate.generate(tmp_path / folder, through_day=3, n_transactions=20_000)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.*"))
    assert len(files) == 2 + 3 + 3  # customers, merchants, 3 days of each folder
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_a_model_learns_fraud_from_the_training_set(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    root = tmp_path_factory.mktemp("signal")
    for folder in ("pipelines", "contracts", "features"):
        shutil.copytree(EXAMPLE / folder, root / folder)
    shutil.copy(EXAMPLE / "assay.yaml", root)
    generate.generate(root, n_transactions=N)
    project = assay.Project(root)
    assert project.run().ok
    labels = project.sql("""
        SELECT t.card_id, t.merchant_id, t.amount, t.event_time AS event_timestamp,
               c.chargeback_id IS NOT NULL AS is_fraud
        FROM silver.transactions t LEFT JOIN silver.chargebacks c USING (transaction_id)
        WHERE t.event_time >= TIMESTAMP '2026-07-01'""")
    train = project.features.training_set(labels, "fraud_model")
    assert train.num_rows == labels.num_rows
    train = train.append_column("hour", pc.hour(train["event_timestamp"]))
    x = np.column_stack([train[c].to_numpy(zero_copy_only=False).astype(float) for c in FEATURES])
    y = train["is_fraud"].to_numpy(zero_copy_only=False).astype(int)
    when = train["event_timestamp"].to_numpy(zero_copy_only=False)
    fit, held = when < np.datetime64("2026-08-10"), when >= np.datetime64("2026-08-10")
    model = HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(x[fit], y[fit])
    auc = roc_auc_score(y[held], model.predict_proba(x[held])[:, 1])
    assert 0.75 < auc < 0.99, auc
    # No feature alone gives the label away (a leak would rank fraud almost perfectly).
    for i, name in enumerate(FEATURES):
        alone = roc_auc_score(y[held], np.nan_to_num(x[held, i], nan=-1.0))
        assert max(alone, 1 - alone) < 0.9, (name, alone)
