"""The fraud-detection demo, end to end on the embedded engine (`make demo`).

Phase 1: 60 days of card transactions arrive; `assay run` builds bronze, silver and gold.
Phase 2: 30 more days arrive, with chargebacks filed late against earlier days; the run
         ingests only the new files and rebuilds only new or stale intervals.
Phase 3: nothing new; the run commits nothing.
Phase 4: a point-in-time training set, a model, online serving.
Phase 5: live transactions stream in through a folder; per-card activity stays fresh online.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402
import live  # noqa: E402

import assay  # noqa: E402
from assay.cli.render import RichReporter, progress_bar, run_summary  # noqa: E402
from assay.pipelines.quarantine import quarantine_name  # noqa: E402

console = Console(width=140)


def run_phase(project: assay.Project, title: str) -> assay.pipelines.runner.RunResult:
    console.rule(f"[bold]{title}")
    with progress_bar() as bar:
        result = project.run(reporter=RichReporter(bar))
    console.print(run_summary(result, "run"))
    if not result.ok:
        for failed in result.failed:
            console.print(f"[red]FAILED {failed.dataset}: {failed.error}")
        raise SystemExit(1)
    return result


def summary(project: assay.Project, seconds: float) -> None:
    console.rule("[bold]Summary")
    tables = Table(title="tables")
    for col in ("table", "kind", "version", "rows", "intervals done", "quarantined"):
        tables.add_column(col, justify="left" if col in ("table", "kind") else "right")
    for s in project.status():
        tables.add_row(
            s.name,
            s.kind,
            str(s.version),
            f"{s.rows:,}",
            "-" if s.intervals_done is None else str(s.intervals_done),
            f"{s.quarantined:,}",
        )
    console.print(tables)
    reasons = Table(title="quarantined rows by reason")
    for col in ("dataset", "rule", "rows", "example reason"):
        reasons.add_column(col, justify="right" if col == "rows" else "left")
    for name in project.datasets:
        qname = quarantine_name(name)
        if not project.warehouse.exists(qname):
            continue
        rows = project.sql(
            f"SELECT rule, count(*) AS n, min(reason) AS example FROM {qname} "
            "GROUP BY rule ORDER BY n DESC"
        ).to_pylist()
        for row in rows:
            reasons.add_row(name, row["rule"], f"{row['n']:,}", row["example"][:80])
    console.print(reasons)
    console.print(contract_findings(project))
    fraud = project.sql("""
        SELECT count(*) AS cards_days, round(avg(amount_mean_7d), 2) AS avg_amount_7d,
               max(txn_count_7d) AS max_txn_7d
        FROM gold.card_daily""").to_pylist()[0]
    console.print(
        f"gold.card_daily: {fraud['cards_days']:,} card-days, mean 7-day amount "
        f"{fraud['avg_amount_7d']}, busiest card {fraud['max_txn_7d']} txns in 7 days"
    )
    console.print(
        f"[bold green]Done in {seconds:.1f}s.[/] Explore: "
        f'assay status --project {HERE}, assay sql "SELECT * FROM gold.card_daily '
        f'LIMIT 5" --project {HERE}'
    )


def contract_findings(project: assay.Project) -> Table:
    """Contract rules that warned or failed during the demo's runs, and a fresh check."""
    checks = project.check()
    table = Table(title="contract findings (runs and a final `assay check`)")
    for col in ("dataset", "rule", "status", "observed", "detail"):
        table.add_column(col)
    with project.catalog.engine.connect() as con:
        rows = con.execute(
            sa.text(
                "SELECT dataset, rule, status, max(observed), max(detail) FROM assay_check_results "
                "WHERE status <> 'pass' AND run_id NOT LIKE 'check-%' GROUP BY 1, 2, 3"
            )
        ).all()
    for dataset, rule, status, observed, detail in rows:
        table.add_row(
            dataset,
            rule,
            status,
            f"{observed:g}" if observed is not None else "",
            (detail or "")[:70],
        )
    for r in checks:
        if r.rule in ("duplicate deliveries", "mean amount") or r.status != "pass":
            table.add_row(
                r.dataset,
                r.rule,
                f"check: {r.status}",
                f"{r.observed:.3g}" if r.observed is not None else "",
                (r.detail or r.expected or "")[:70],
            )
    return table


def _shown(value: object) -> str:
    """A served value: 4 significant digits, or null (e.g. a sum over an empty window)."""
    return "null" if value is None else f"{value:.4g}"


def features_phase(project: assay.Project) -> None:
    """Point-in-time training set from late-arriving labels, a model, online serving."""
    import numpy as np
    import pyarrow.compute as pc
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    console.rule("[bold]Phase 4: features - training set, model, online serving")
    labels = project.sql("""
        SELECT t.card_id, t.merchant_id, t.amount, t.event_time AS event_timestamp,
               c.chargeback_id IS NOT NULL AS is_fraud
        FROM silver.transactions t LEFT JOIN silver.chargebacks c USING (transaction_id)
        WHERE t.event_time >= TIMESTAMP '2026-07-01'""")
    began = time.monotonic()
    train = project.features.training_set(labels, "fraud_model", save_as="fraud_model")
    built = time.monotonic() - began
    columns = [
        "amount",
        "hour",
        "txn_count_7d",
        "amount_mean_7d",
        "amount_max_1d",
        "chargebacks_30d",
        "count_1h",
        "amount_sum_1d",
    ]
    train = train.append_column("hour", pc.hour(train["event_timestamp"]))
    x = np.column_stack([train[c].to_numpy(zero_copy_only=False).astype(float) for c in columns])
    y = train["is_fraud"].to_numpy(zero_copy_only=False).astype(int)
    cutoff = np.datetime64("2026-08-10")
    when = train["event_timestamp"].to_numpy(zero_copy_only=False)
    fit, held = when < cutoff, when >= cutoff
    model = HistGradientBoostingClassifier(max_iter=100, random_state=0)
    model.fit(x[fit], y[fit])
    auc = roc_auc_score(y[held], model.predict_proba(x[held])[:, 1])
    console.print(
        f"training set: {train.num_rows:,} rows x {train.num_columns} columns in "
        f"{built:.1f}s (point-in-time, saved as training.fraud_model); "
        f"fraud rate {y.mean():.2%}"
    )
    console.print(
        f"model: gradient boosting on {', '.join(columns)}; "
        f"[bold]AUC {auc:.3f}[/] on transactions from {cutoff} on"
    )
    done = project.features.materialize(end=datetime(2026, 8, 30))
    console.print("online store: " + ", ".join(f"{m.view} {m.rows:,} entities" for m in done))
    cards = [
        {"card_id": c, "merchant_id": m}
        for c, m in zip(
            train["card_id"].to_pylist()[-3:], train["merchant_id"].to_pylist()[-3:], strict=True
        )
    ]
    served = project.features.online(cards, "fraud_model", now=datetime(2026, 8, 30))
    table = Table(title="served vectors (as of 2026-08-30)")
    for col in ("card_id", "merchant_id", *served[0]):
        table.add_column(col)
    for entity, vector in zip(cards, served, strict=True):
        table.add_row(
            str(entity["card_id"]),
            str(entity["merchant_id"]),
            *[
                v["status"] if v["status"] != "present" else _shown(v["value"])
                for v in vector.values()
            ],
        )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument(
        "--keep", action="store_true", help="keep data and tables from an earlier demo run"
    )
    parser.add_argument(
        "--engine",
        choices=["duckdb", "spark"],
        help="run the pipelines on this engine (default: assay.yaml's, the embedded DuckDB)",
    )
    args = parser.parse_args()
    began = time.monotonic()
    if not args.keep:
        for folder in ("data", "warehouse", ".assay", "incoming"):
            shutil.rmtree(HERE / folder, ignore_errors=True)
    console.rule("[bold]assay fraud-detection demo")
    console.print(f"Generating {args.transactions:,} synthetic card transactions (seeded)...")
    generate.generate(HERE, through_day=60, n_transactions=args.transactions)
    project = assay.Project(HERE, engine=args.engine)
    if project.engine.name != "duckdb":
        console.print(
            f"Pipelines and training sets run on [bold]{project.engine.name}[/bold]; sources, "
            "streams and commits run in this process (see the README's scaling section)."
        )
    run_phase(project, "Phase 1: days 1-60 arrive")
    generate.generate(HERE, through_day=generate.DAYS, n_transactions=args.transactions)
    run_phase(project, "Phase 2: days 61-90 arrive, with late chargebacks for earlier days")
    quiet = run_phase(project, "Phase 3: nothing new arrives")
    console.print(f"No-op run: {quiet.commits} commits in {quiet.seconds:.2f}s")
    features_phase(project)
    live.live_phase(project, console)
    summary(project, time.monotonic() - began)


if __name__ == "__main__":
    main()
