"""The fraud-detection demo, end to end on the embedded engine (`make demo`).

Phase 1: 60 days of card transactions arrive; `assay run` builds bronze, silver and gold,
         and trains the fraud model (models/fraud.py): v1, champion.
Phase 2: 30 more days arrive, with chargebacks filed late against earlier days; the run
         ingests only the new files, rebuilds only new or stale intervals and retrains
         the model (v2), which becomes champion only if it beats v1 on the new holdout.
Phase 3: nothing new; the run commits nothing and trains nothing.
Phase 4: the model's versions, metric and champion (tracked in MLflow), online serving.
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
from assay.catalog.run_costs import RunUsage, usage_between  # noqa: E402
from assay.catalog_views.cost_view import cost_of  # noqa: E402
from assay.cli.render import RichReporter, progress_bar, run_summary  # noqa: E402
from assay.cost.model import money  # noqa: E402
from assay.intervals import utcnow  # noqa: E402
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


def summary(project: assay.Project, seconds: float, began_at: datetime) -> None:
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
    console.print(cost_summary(project, began_at))
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
        f'LIMIT 5" --project {HERE}, or see it all in the browser: assay ui --project {HERE}'
    )


def cost_summary(project: assay.Project, since: datetime) -> Table:
    """What the demo's runs cost, per dataset: measured CPU, peak memory and bytes, priced
    by `cost:` in assay.yaml (defaults: typical cloud list prices), as `assay cost` shows."""
    rt = project.runtime
    report = cost_of(rt, "dataset", since)
    used: dict[str, list[RunUsage]] = {}
    for usage in usage_between(rt.catalog, since):
        used.setdefault(usage.dataset, []).append(usage)
    table = Table(title=f"what the runs cost ({report.currency}; `assay cost`, `assay ui`)")
    # Peak memory is recorded too (`assay cost`), but it is the process's resident peak,
    # which the demo's one long process keeps near its first phase's.
    for col in ("dataset", "builds", "CPU s", "read", "written", "files", "cost"):
        table.add_column(col, justify="left" if col == "dataset" else "right")
    for line in report.lines[:8]:
        runs = used.get(line.key, [])
        table.add_row(
            line.key,
            str(line.builds),
            f"{line.cpu_seconds:.1f}",
            f"{line.bytes_read / 2**20:,.1f} MiB",
            f"{sum(u.bytes_written for u in runs) / 2**20:,.1f} MiB",
            f"{sum(u.files_written for u in runs):,}",
            money(line.total),
        )
    table.add_row("all datasets", "", "", "", "", "", money(report.total), style="bold")
    return table


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


def model_phase(project: assay.Project, runs: dict[str, str]) -> None:
    """The fraud model the runs trained (models/fraud.py), its versions in MLflow, and
    online serving of its features."""
    console.rule("[bold]Phase 4: the fraud model (trained by the runs above), online serving")
    rows = project.sql(
        "SELECT run_id, version, value, champion_version, champion_value, is_champion, "
        "decision, train_rows, eval_rows FROM models.fraud_model ORDER BY version"
    ).to_pylist()
    table = Table(title="models.fraud_model: one row per training (roc_auc on its holdout)")
    columns = (
        "run",
        "version",
        "train rows",
        "holdout rows",
        "roc_auc",
        "champion's",
        "became champion",
    )
    for col in columns:
        table.add_column(col, justify="left" if col == "run" else "right")
    table.add_column("decision")
    for row in rows:
        theirs = row["champion_value"]
        table.add_row(
            runs.get(row["run_id"], row["run_id"]),
            f"v{row['version']}",
            f"{row['train_rows']:,}",
            f"{row['eval_rows']:,}",
            f"{row['value']:.3f}",
            "-" if theirs is None else f"{theirs:.3f} (v{row['champion_version']})",
            "[bold green]yes[/]" if row["is_champion"] else "no",
            row["decision"],
        )
    console.print(table)
    settings = project.config.mlflow
    experiment = settings.experiment or project.config.name
    console.print(
        f"Tracked in MLflow ({settings.tracking_uri}, experiment {experiment!r}); the alias "
        "'champion' names the version to serve: "
        "mlflow.sklearn.load_model('models:/fraud_model@champion')"
    )
    done = project.features.materialize(end=datetime(2026, 8, 30))
    console.print("online store: " + ", ".join(f"{m.view} {m.rows:,} entities" for m in done))
    cards = project.sql(
        "SELECT card_id, merchant_id FROM silver.transactions ORDER BY event_time DESC LIMIT 3"
    ).to_pylist()
    served = project.features.online(cards, "fraud_model", now=datetime(2026, 8, 30))
    vectors = Table(title="served vectors (as of 2026-08-30)")
    for col in ("card_id", "merchant_id", *served[0]):
        vectors.add_column(col)
    for entity, vector in zip(cards, served, strict=True):
        vectors.add_row(
            str(entity["card_id"]),
            str(entity["merchant_id"]),
            *[
                v["status"] if v["status"] != "present" else _shown(v["value"])
                for v in vector.values()
            ],
        )
    console.print(vectors)


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
    began, began_at = time.monotonic(), utcnow()
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
    first = run_phase(project, "Phase 1: days 1-60 arrive (the fraud model trains: v1)")
    generate.generate(HERE, through_day=generate.DAYS, n_transactions=args.transactions)
    second = run_phase(
        project, "Phase 2: days 61-90 arrive, with late chargebacks; the model retrains"
    )
    quiet = run_phase(project, "Phase 3: nothing new arrives (no retraining)")
    console.print(f"No-op run: {quiet.commits} commits in {quiet.seconds:.2f}s")
    trained = quiet.result("models.fraud_model").status
    console.print(f"models.fraud_model in phase 3: {trained} (nothing new to learn from)")
    model_phase(project, {first.run_id: "phase 1", second.run_id: "phase 2"})
    live.live_phase(project, console)
    summary(project, time.monotonic() - began, began_at)


if __name__ == "__main__":
    main()
