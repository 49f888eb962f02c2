"""Benchmark: what `assay forget` costs on the fraud demo's tables.

The fraud example is generated (its seeded generator, --transactions over 90 days), run,
its features materialized online (SQLite) and a training set saved. Then, each on a fresh
copy of that project, for one real customer (the median by transactions):

- baseline: reading every table of the warehouse once (what any full scan costs);
- plan: `forget(..., dry_run=True)` (find the subject: lineage, keys, counts, sources);
- erase: `forget(...)` (one commit per table, online rows, the proof's scan);
- erase + purge: `forget(..., purge_history=True)` (also vacuum, log statistics,
  checkpoints, and a second proof);
- erase by email: `forget` named by the customer's email (as the source file has it):
  the same rows, found by following the email to the customer id and their cards.

Each side runs --repeat times on fresh copies; medians. Numbers go to RESULTS.md.

Usage: python benchmarks/erasure_cost.py [--transactions 200000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from machine import wait_for_idle  # noqa: E402
from results_file import replace_block  # noqa: E402

EXAMPLE = HERE.parent / "examples" / "fraud"
START, END = "<!-- erasure-cost:start -->", "<!-- erasure-cost:end -->"


def build(root: Path, transactions: int) -> None:
    """The demo's project, run, materialized, with a saved training set."""
    sys.path.insert(0, str(EXAMPLE))
    import generate

    import assay

    shutil.copy(EXAMPLE / "assay.yaml", root)
    for folder in ("pipelines", "contracts", "features"):
        shutil.copytree(EXAMPLE / folder, root / folder)
    generate.generate(root, through_day=generate.DAYS, n_transactions=transactions)
    project = assay.Project(root)
    assert project.run().ok
    project.features.materialize(end=datetime(2026, 9, 1))
    labels = project.sql(
        "SELECT card_id, merchant_id, transaction_time + INTERVAL 1 DAY AS event_timestamp "
        "FROM silver.chargebacks"
    )
    project.features.training_set(labels, "fraud_model", save_as="fraud")


def customer_of(root: Path) -> int:
    import assay

    counts = (
        assay.Project(root)
        .sql("SELECT customer_id, count(*) AS n FROM silver.transactions GROUP BY 1 ORDER BY 2, 1")
        .to_pylist()
    )
    return int(counts[len(counts) // 2]["customer_id"])


def side(
    built: Path, work: Path, run: Callable[[Any, int], Any], customer: int
) -> tuple[float, Any]:
    """Seconds of `run` on a fresh copy of the built project, and what it returned."""
    import assay

    copy = work / f"copy-{time.monotonic_ns()}"
    shutil.copytree(built, copy)
    wait_for_idle(60)
    project = assay.Project(copy)
    started = time.perf_counter()
    result = run(project, customer)
    seconds = time.perf_counter() - started
    shutil.rmtree(copy)
    return seconds, result


def scan_all(project: Any, _: int) -> int:
    wh = project.warehouse
    return sum(wh.read(t).num_rows for t in wh.list_tables())


def plan(project: Any, customer: int) -> Any:
    from assay.governance.erasure import Subject, forget

    return forget(project.runtime, [Subject("customer_id", str(customer))], dry_run=True)


def erase(project: Any, customer: int) -> Any:
    from assay.governance.erasure import Subject, forget

    return forget(project.runtime, [Subject("customer_id", str(customer))])


def erase_purge(project: Any, customer: int) -> Any:
    from assay.governance.erasure import Subject, forget

    return forget(project.runtime, [Subject("customer_id", str(customer))], purge_history=True)


def email_of(root: Path, customer: int) -> str:
    """The customer's email as the source file holds it (what a person would give)."""
    import csv

    with (root / "data" / "customers.csv").open(newline="") as rows:
        return next(r["email"] for r in csv.DictReader(rows) if int(r["customer_id"]) == customer)


def erase_by_email(email: str) -> Callable[[Any, int], Any]:
    def run(project: Any, _: int) -> Any:
        from assay.governance.erasure import Subject, forget

        return forget(project.runtime, [Subject("email", email)])

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transactions", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="erasure-bench-"))
    built = work / "built"
    built.mkdir()
    build(built, args.transactions)
    customer = customer_of(built)
    import assay

    project = assay.Project(built)
    tables = project.warehouse.list_tables()
    rows = scan_all(project, customer)
    sides = {"baseline: read every table": scan_all, "plan (--dry-run)": plan}
    sides |= {"erase": erase, "erase + --purge-history": erase_purge}
    sides["erase by email (followed to id, cards)"] = erase_by_email(email_of(built, customer))
    results: dict[str, tuple[float, Any]] = {}
    for name, run in sides.items():
        timings = [side(built, work, run, customer) for _ in range(args.repeat)]
        results[name] = (statistics.median(t for t, _ in timings), timings[-1][1])
        print(f"{name}: {results[name][0]:.2f} s", flush=True)
    shutil.rmtree(work)
    write(results, args, len(tables), rows)


def write(
    results: dict[str, tuple[float, Any]], args: argparse.Namespace, tables: int, rows: int
) -> None:
    base = results["baseline: read every table"][0]
    lines = [
        START,
        "## Erasure: the cost of `assay forget` on the fraud demo's tables",
        "",
        f"`python benchmarks/erasure_cost.py --transactions {args.transactions} "
        f"--repeat {args.repeat}`: the fraud demo (90 days, {tables} tables, {rows:,} rows, "
        "features online in SQLite, a saved training set); one customer (the median by "
        "transactions) forgotten on a fresh copy per repeat; medians. Baseline: reading "
        "every table once.",
        "",
        f"Recorded {datetime.now(UTC):%Y-%m-%d} on 2 cores shared with other work.",
        "",
        "| step | seconds | vs baseline | tables changed | rows deleted | files rewritten "
        "| data files scanned | log files scanned |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, (seconds, report) in results.items():
        cells = ["-"] * 5
        if hasattr(report, "plan"):
            erased = report.erased
            proof = report.proof
            cells = [
                str(len(erased) or len(report.plan.tables)),
                f"{sum(e.rows_deleted for e in erased) or report.plan.rows:,}",
                str(sum(e.files_rewritten for e in erased)) if erased else "-",
                f"{proof.files_scanned:,}" if proof else "-",
                f"{proof.log_files_scanned:,}" if proof else "-",
            ]
        lines.append(
            f"| {name} | {seconds:.2f} | {seconds / base:.1f}x | " + " | ".join(cells) + " |"
        )
    lines.append(END)
    replace_block(HERE / "RESULTS.md", "\n".join(lines), START, END)


if __name__ == "__main__":
    main()
