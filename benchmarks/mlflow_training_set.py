"""Benchmark: the cost of logging a training set to an MLflow run, against building it alone.

The fraud example is built once from seeded data (examples/fraud/generate.py, N transactions
over 90 days) and the demo's training set (every transaction since 2026-07-01 with its
label, the `fraud_model` service: 6 features from 3 views) is built repeatedly, alternating:

1. no run: `project.features.training_set(labels, "fraud_model")` (mlflow imported, no
   active run: the baseline, what every training set costs);
2. in a run: the same call inside `mlflow.start_run()` on the project's SQLite backend
   (`use_tracking`), which also computes the content digest, writes the entity rows as a
   Parquet artifact and logs the dataset input. Only the call is timed, not the run's start.

Also measured: the digest alone, and `rebuild_from_mlflow` (time travel + digest check).
The logging step is also timed alone on a built set (the join's run-to-run noise on a
shared machine is larger than it). Reports medians of --repeat. Each timed step
waits (up to --idle-wait s) for other processes to quiet down. Writes the `mlflow-training`
block of benchmarks/RESULTS.md.

Usage: python benchmarks/mlflow_training_set.py [--transactions 1000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from machine import machine_cpu, other_share, self_cpu, wait_for_idle
from results_file import replace_block

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parent / "examples" / "fraud"
WORK = HERE / "work" / "mlflow_training"
START, END = "<!-- mlflow-training-bench:start -->", "<!-- mlflow-training-bench:end -->"
SOURCES = ("gold.card_daily", "gold.merchant_daily", "silver.transactions")
LABELS = """
    SELECT t.card_id, t.merchant_id, t.amount, t.event_time AS event_timestamp,
           c.chargeback_id IS NOT NULL AS is_fraud
    FROM silver.transactions t LEFT JOIN silver.chargebacks c USING (transaction_id)
    WHERE t.event_time >= TIMESTAMP '2026-07-01'"""


def build_project(transactions: int) -> Path:
    """The fraud example with generated data, run once."""
    sys.path.insert(0, str(EXAMPLE))
    import generate

    import assay

    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    for part in ("assay.yaml", "pipelines", "contracts", "features"):
        copy = shutil.copytree if (EXAMPLE / part).is_dir() else shutil.copy
        copy(EXAMPLE / part, WORK / part)
    generate.generate(WORK, n_transactions=transactions)
    result = assay.Project(WORK).run()
    if not result.ok:
        raise SystemExit(f"the fraud example failed: {[r.error for r in result.failed]}")
    return WORK


def timed(step: Callable[[], Any], idle_wait: float) -> tuple[float, float, Any]:
    """Wall seconds of `step`, the share of the CPU others used meanwhile, its result."""
    wait_for_idle(idle_wait)
    cpu, own = machine_cpu(), self_cpu()
    began = time.perf_counter()
    value = step()
    seconds = time.perf_counter() - began
    return seconds, other_share(cpu, self_cpu() - own), value


def measure(root: Path, repeat: int, idle_wait: float) -> dict[str, Any]:
    import mlflow

    import assay
    from assay.integrations.mlflow import use_tracking
    from assay.integrations.mlflow.digest import table_digest

    project = assay.Project(root)
    labels = project.sql(LABELS)
    use_tracking(project.runtime)
    times: dict[str, list[float]] = {
        "no run": [],
        "in a run": [],
        "logging": [],
        "digest": [],
        "rebuild": [],
    }
    others: list[float] = []
    train, run_id = None, ""
    for _ in range(repeat):
        seconds, other, train = timed(
            lambda: project.features.training_set(labels, "fraud_model"), idle_wait
        )
        times["no run"].append(seconds)
        others.append(other)
        with mlflow.start_run() as run:
            seconds, other, logged = timed(
                lambda: project.features.training_set(labels, "fraud_model"), idle_wait
            )
        run_id = run.info.run_id
        times["in a run"].append(seconds)
        others.append(other)
        assert logged.num_rows == train.num_rows and logged.schema.equals(train.schema)
        seconds, _, _ = timed(lambda t=train: table_digest(t), idle_wait)
        times["digest"].append(seconds)
        with mlflow.start_run():
            seconds, _, _ = timed(lambda t=train: _log(project, labels, t), idle_wait)
        times["logging"].append(seconds)
    mismatch = ""
    for _ in range(max(1, repeat // 2)):
        seconds, _, outcome = timed(lambda: _rebuild(project, run_id), idle_wait)
        times["rebuild"].append(seconds)
        mismatch = mismatch or outcome
    assert train is not None
    return {
        "median": {k: statistics.median(v) for k, v in times.items()},
        "rows": train.num_rows,
        "columns": train.num_columns,
        "entity_rows": labels.num_rows,
        "other": statistics.median(others),
        "mismatch": mismatch,
    }


def _log(project: Any, labels: Any, train: Any) -> None:
    """The logging step alone (record, digest, entity artifact, dataset input) for a set
    already built: the join's run-to-run noise on a shared machine is larger than it."""
    from assay.integrations.mlflow.log import log_training_set

    # Its own name: MLflow keeps one dataset per (experiment, name, digest), so a set of the
    # same content logged under the same name would share this record.
    wh = project.runtime.warehouse
    spec = {
        "name": "fraud_model_logging_bench",
        "features": project.features.resolve("fraud_model"),
        "event_timestamp": "event_timestamp",
        "full_feature_names": False,
        "outputs": [c for c in train.column_names if c not in labels.column_names],
        "sources": {t: wh.version(t) for t in SOURCES},
        "saved_as": None,
    }
    log_training_set(project.runtime, spec, labels, train)


def _rebuild(project: Any, run_id: str) -> str:
    """Rebuild from the run; '' when the digest matched, else the mismatch message."""
    from assay.integrations.mlflow.rebuild import RebuildMismatchError

    try:
        project.features.rebuild_from_mlflow(run_id)
    except RebuildMismatchError as exc:
        return exc.message
    return ""


def render(found: dict[str, Any], transactions: int, repeat: int) -> str:
    import mlflow

    m = found["median"]
    overhead = m["in a run"] - m["no run"]
    lines = [
        START,
        "## Logging a training set to MLflow",
        "",
        "`python benchmarks/mlflow_training_set.py` (needs `pip install 'assay[mlflow]'`). The",
        f"fraud example built from {transactions:,} generated transactions (90 days); the",
        f"demo's training set ({found['rows']:,} rows x {found['columns']} columns, the",
        "`fraud_model` service) built with mlflow imported and no active run, then inside",
        "`mlflow.start_run()` on the project's SQLite backend (digest, entity rows as a",
        "Parquet artifact, dataset input). Only the `training_set` call is timed.",
        "",
        f"Machine: 2 cores; Python {platform.python_version()}; mlflow {mlflow.__version__};"
        f" median of {repeat}; recorded {date.today().isoformat()}.",
        "",
        "| step | median s | vs no run |",
        "|---|---|---|",
        f"| training set, no run | {m['no run']:.2f} | 1.00x |",
        f"| training set, in a run (logged) | {m['in a run']:.2f} | "
        f"{m['in a run'] / m['no run']:.2f}x |",
        f"| logging alone (record, digest, artifact, input) | {m['logging']:.2f} | "
        f"{m['logging'] / m['no run']:.2f}x |",
        f"| of which the content digest | {m['digest']:.2f} | {m['digest'] / m['no run']:.2f}x |",
        f"| rebuild_from_mlflow (time travel + check) | {m['rebuild']:.2f} | "
        f"{m['rebuild'] / m['no run']:.2f}x |",
        "",
        f"Logging alone takes {m['logging']:.2f} s ({m['logging'] / m['no run']:.1%} of the"
        f" set's build); the in-a-run minus no-run difference ({overhead:+.2f} s) carries the",
        f"join's noise too: other processes used a median {found['other']:.0%} of the machine",
        "meanwhile (it is shared). Rebuild: "
        + (f"**digest mismatch**: {found['mismatch']}" if found["mismatch"] else "digest matched."),
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--idle-wait", type=float, default=60.0)
    parser.add_argument("--reuse", action="store_true", help="keep the last built project")
    parser.add_argument("--no-write", action="store_true", help="print, do not write RESULTS.md")
    args = parser.parse_args()
    reuse = args.reuse and (WORK / "warehouse").is_dir()
    root = WORK if reuse else build_project(args.transactions)
    found = measure(root, args.repeat, args.idle_wait)
    text = render(found, args.transactions, args.repeat)
    print(text)
    if not args.no_write:
        replace_block(HERE / "RESULTS.md", text, START, END)


if __name__ == "__main__":
    main()
