"""Benchmark: how much fraud signal the demo's data carries, through the demo's own path.

Builds the fraud example at the demo's size (1,000,000 transactions by default) the way
`examples/fraud/demo.py` does: days 1-60 generated and run, days 61-90 generated and run,
then the point-in-time training set of the `fraud_model` feature service through
`project.features.training_set`, a HistGradientBoostingClassifier trained on transactions
before 2026-08-10 and evaluated on those from then on (as demo.py's features_phase).

Reports the generation time (both phases), the fraud rate, the model's AUC, and each
feature's AUC alone (a feature near 1.0 alone would be a leak of the label, not a signal).

`--generator PATH` measures another generate.py (e.g. the previous version from git:
`git show HEAD~1:examples/fraud/generate.py > /tmp/old_generate.py`).

Usage: python benchmarks/fraud_signal.py [--transactions 1000000] [--generator PATH]
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parent / "examples" / "fraud"
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
CUTOFF = "2026-08-10"


def load_generator(path: Path) -> ModuleType:
    """The generate.py module at `path` (the example's own by default)."""
    spec = importlib.util.spec_from_file_location("fraud_generate_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_project(root: Path, generator: ModuleType, n_transactions: int) -> tuple[Any, float]:
    """The example in `root`, generated and run in the demo's two phases; generation seconds."""
    import assay

    for folder in ("pipelines", "contracts", "features"):
        shutil.copytree(EXAMPLE / folder, root / folder)
    shutil.copy(EXAMPLE / "assay.yaml", root)
    began = time.monotonic()
    generator.generate(root, through_day=60, n_transactions=n_transactions)
    generating = time.monotonic() - began
    project = assay.Project(root)
    assert project.run().ok
    began = time.monotonic()
    generator.generate(root, through_day=generator.DAYS, n_transactions=n_transactions)
    generating += time.monotonic() - began
    project = assay.Project(root)
    assert project.run().ok
    return project, generating


def training_matrix(project: Any) -> tuple[Any, Any, Any]:
    """Features, labels and timestamps of the demo's point-in-time training set."""
    import numpy as np
    import pyarrow.compute as pc

    labels = project.sql("""
        SELECT t.card_id, t.merchant_id, t.amount, t.event_time AS event_timestamp,
               c.chargeback_id IS NOT NULL AS is_fraud
        FROM silver.transactions t LEFT JOIN silver.chargebacks c USING (transaction_id)
        WHERE t.event_time >= TIMESTAMP '2026-07-01'""")
    train = project.features.training_set(labels, "fraud_model")
    train = train.append_column("hour", pc.hour(train["event_timestamp"]))
    x = np.column_stack([train[c].to_numpy(zero_copy_only=False).astype(float) for c in FEATURES])
    y = train["is_fraud"].to_numpy(zero_copy_only=False).astype(int)
    when = train["event_timestamp"].to_numpy(zero_copy_only=False)
    return x, y, when


def evaluate(x: Any, y: Any, when: Any) -> dict[str, float]:
    """AUC of the demo's model on the later slice, and of each feature alone there."""
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    fit, held = when < np.datetime64(CUTOFF), when >= np.datetime64(CUTOFF)
    model = HistGradientBoostingClassifier(max_iter=100, random_state=0)
    model.fit(x[fit], y[fit])
    scores = {"model": float(roc_auc_score(y[held], model.predict_proba(x[held])[:, 1]))}
    for i, name in enumerate(FEATURES):
        column = np.nan_to_num(x[held, i], nan=-1.0)
        auc = float(roc_auc_score(y[held], column))
        scores[name] = max(auc, 1 - auc)  # a feature that ranks fraud low is as informative
    scores["fraud_rate"] = float(y.mean())
    scores["rows"] = float(len(y))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--generator", type=Path, default=EXAMPLE / "generate.py")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE.parent / "src"))
    generator = load_generator(args.generator)
    with tempfile.TemporaryDirectory(prefix="fraud-signal-") as tmp:
        began = time.monotonic()
        project, generating = build_project(Path(tmp), generator, args.transactions)
        built = time.monotonic() - began
        x, y, when = training_matrix(project)
        scores = evaluate(x, y, when)
    print(f"generator: {args.generator}")
    print(f"transactions: {args.transactions:,}; generation {generating:.1f}s (both phases)")
    print(f"demo pipelines and generation: {built:.1f}s")
    print(f"training rows {int(scores['rows']):,}, fraud rate {scores['fraud_rate']:.2%}")
    print(f"model AUC (trained before {CUTOFF}, evaluated from then on): {scores['model']:.3f}")
    for name in FEATURES:
        print(f"  {name:>16} alone: AUC {scores[name]:.3f}")


if __name__ == "__main__":
    main()
