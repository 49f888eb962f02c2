"""Benchmark: a dbt project run inside `assay run` against dbt itself (dbt-duckdb).

The fraud example is built with assay from seeded data (examples/fraud/generate.py, N
transactions over 90 days: bronze, silver, gold), then the dbt project of
tests/integrations/dbt/project (staging -> intermediate -> marts, incremental models, every
kind of test) is copied into its dbt/ folder, as tests/integrations/dbt/conftest.py does.

1. assay: `Project(root).run(["staging", "intermediate", "marts"], full_refresh=True)`, the
   dbt datasets with their tests as contract rules (project load included, its compiled
   manifest cached, as in `assay run`); then the same run without full refresh, where
   nothing changed (a no-op).
2. dbt: the silver tables assay built are copied into a DuckDB file (schema `silver`, so
   the project's `source('silver', ...)` resolves) and dbt's own CLI runs on it through
   `dbtRunner`: `dbt run --full-refresh` then `dbt test`, same threads as assay (1: assay
   builds datasets one after the other). Only run + test are timed (partial parsing warm).
   dbt has no no-op: on this project its incremental re-run (`dbt run` without
   --full-refresh) appends int_transactions_enriched again (the model has no
   is_incremental() filter; assay's interval ledger is what makes it incremental), so
   `dbt test` then fails on duplicates; the full refresh is dbt's correct re-run, and
   assay's no-op is set against it.

Warm (one untimed round first), median of --repeat. Each timed step waits (up to
--idle-wait s) for other processes to quiet down and records the share of the machine they
used. Results must agree: every model's row count and an order-free checksum of both marts
tables (amounts rounded to cents), compared here; the script stops when they differ.
Writes the `dbt-bench` block of benchmarks/RESULTS.md.

Usage: python benchmarks/dbt_vs_dbt.py [--transactions 200000 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
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
REPO = HERE.parent
EXAMPLE = REPO / "examples" / "fraud"
DBT_PROJECT = REPO / "tests" / "integrations" / "dbt" / "project"
WORK = HERE / "work" / "dbt_bench"
START, END = "<!-- dbt-bench:start -->", "<!-- dbt-bench:end -->"
SOURCES = ("transactions", "chargebacks", "customers")
#: The dbt models that are tables in both (the ephemeral one is inlined by dbt's compile).
MODELS = {
    "stg_transactions": "staging",
    "stg_chargebacks": "staging",
    "stg_customers": "staging",
    "int_transactions_enriched": "intermediate",
    "mart_card_daily": "marts",
    "mart_chargeback_reasons": "marts",
}
#: Order-free checksums of the marts: the float sums rounded to cents (the engines may add
#: doubles in another order), every other column as is.
CHECKSUMS = {
    "mart_card_daily": "hash(card_id, day, txn_count, round(amount_sum, 2), countries)",
    "mart_chargeback_reasons": "hash(reason_code, chargebacks, round(amount, 2))",
}
DBT_PROFILE = """\
assay:
  target: bench
  outputs:
    bench:
      type: duckdb
      path: "{path}"
      threads: 1
"""
# dbt must not reach the network: no usage statistics, no version check.
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("DBT_VERSION_CHECK", "false")


def build_project(root: Path, transactions: int) -> None:
    """The fraud example (pipelines, contracts) with generated data, run once by assay,
    then the dbt project copied in and named in assay.yaml."""
    sys.path.insert(0, str(EXAMPLE))
    import generate

    import assay

    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    shutil.copytree(EXAMPLE / "pipelines", root / "pipelines")
    shutil.copytree(EXAMPLE / "contracts", root / "contracts")
    config = (EXAMPLE / "assay.yaml").read_text()
    (root / "assay.yaml").write_text(config)
    generate.generate(root, n_transactions=transactions)
    began = time.perf_counter()
    result = assay.Project(root).run()
    if not result.ok:
        raise SystemExit(f"the fraud example failed: {[r.error for r in result.failed]}")
    print(f"  fraud example built by assay in {time.perf_counter() - began:.1f} s", flush=True)
    shutil.copytree(DBT_PROJECT, root / "dbt")
    (root / "assay.yaml").write_text(config + "dbt:\n  project_dir: dbt\n")


def load_dbt_side(root: Path) -> Path:
    """A DuckDB file with assay's silver tables under schema `silver`, and dbt's folders
    (a copy of the dbt project, a profiles.yml pointing at the file)."""
    import duckdb

    import assay

    side = root / "dbt_side"
    shutil.rmtree(side, ignore_errors=True)
    side.mkdir()
    shutil.copytree(DBT_PROJECT, side / "project")
    db_path = side / "fraud.duckdb"
    (side / "profiles.yml").write_text(DBT_PROFILE.format(path=db_path))
    project = assay.Project(root)
    with duckdb.connect(str(db_path)) as con:
        con.execute("CREATE SCHEMA silver")
        for table in SOURCES:
            data = project.sql(f"SELECT * FROM silver.{table}")  # noqa: F841 (read by DuckDB)
            con.execute(f"CREATE TABLE silver.{table} AS SELECT * FROM data")
    return side


def dbt_invoke(side: Path, *args: str) -> int:
    """One dbt CLI command through dbtRunner on the side's project; the nodes it ran.
    Stops when it fails."""
    from dbt.cli.main import dbtRunner

    folders = [
        "--project-dir",
        str(side / "project"),
        "--profiles-dir",
        str(side),
        "--threads",
        "1",
        "--quiet",
    ]
    result = dbtRunner().invoke([*args, *folders])
    if not result.success:
        failed = [r.node.name for r in getattr(result.result, "results", []) if r.failures]
        raise SystemExit(f"dbt {' '.join(args)} failed: {result.exception or failed}")
    return len(result.result)


def dbt_round(side: Path) -> int:
    """`dbt run --full-refresh` then `dbt test`; the tests dbt ran."""
    dbt_invoke(side, "run", "--full-refresh")
    return dbt_invoke(side, "test")


def assay_round(root: Path, full_refresh: bool) -> int:
    """`assay run` of the dbt datasets (project load included); the Delta commits it made."""
    import assay

    result = assay.Project(root).run(["staging", "intermediate", "marts"], full_refresh)
    if not result.ok:
        raise SystemExit(f"assay run failed: {[r.error for r in result.failed]}")
    return result.commits


def timed(step: Callable[[], Any], idle_wait: float) -> tuple[float, float, float, Any]:
    """Wall seconds of `step`, the share of the CPU others used meanwhile, the CPU seconds
    this process used (all its threads: less sensitive to others' load), its result."""
    wait_for_idle(idle_wait)
    cpu, own = machine_cpu(), self_cpu()
    began = time.perf_counter()
    value = step()
    seconds = time.perf_counter() - began
    used = self_cpu() - own
    return seconds, other_share(cpu, used), used, value


def compare(root: Path, side: Path) -> dict[str, Any]:
    """Row counts of every model and checksums of the marts from both; stops on a mismatch."""
    import duckdb

    import assay

    project = assay.Project(root)
    found: dict[str, Any] = {"rows": {}, "checksums": {}}
    # Not read-only: dbt-duckdb keeps its connection to the file open in this process.
    with duckdb.connect(str(side / "fraud.duckdb")) as con:
        for model, layer in MODELS.items():
            data = project.sql(f"SELECT * FROM {layer}.{model}")
            # fetchall: this DuckDB wants a result read to its end before the next statement.
            theirs = con.execute(f"SELECT count(*) FROM main.{model}").fetchall()[0][0]
            found["rows"][model] = (data.num_rows, theirs)
            if model in CHECKSUMS:
                expr = f"SELECT sum({CHECKSUMS[model]}) % 1000000007 FROM"
                con.register("assay_side", data)
                ours = con.execute(f"{expr} assay_side").fetchall()[0][0]
                con.unregister("assay_side")
                dbt_sum = con.execute(f"{expr} main.{model}").fetchall()[0][0]
                found["checksums"][model] = (ours, dbt_sum)
    bad = {m: v for m, v in {**found["rows"], **found["checksums"]}.items() if v[0] != v[1]}
    if bad:
        raise SystemExit(f"assay and dbt disagree (assay, dbt): {bad}")
    return found


def measure(root: Path, side: Path, repeat: int, idle_wait: float) -> dict[str, Any]:
    """Warm rounds of both sides, alternating, then the comparison."""
    steps: dict[str, Callable[[], Any]] = {
        "assay full": lambda: assay_round(root, True),
        "assay no-op": lambda: assay_round(root, False),
        "dbt full": lambda: dbt_round(side),
    }
    for step in steps.values():  # warm: caches, partial parse, imports
        step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    others: dict[str, list[float]] = {name: [] for name in steps}
    cpus: dict[str, list[float]] = {name: [] for name in steps}
    counts: dict[str, Any] = {}
    for i in range(repeat):
        for name, step in steps.items():
            seconds, other, cpu, counts[name] = timed(step, idle_wait)
            times[name].append(seconds)
            others[name].append(other)
            cpus[name].append(cpu)
            print(f"  round {i + 1}: {name} {seconds:.2f} s (others {other:.0%})", flush=True)
    # Both hold a full refresh followed by an incremental pass: compare what they built.
    found = compare(root, side)
    found["median"] = {k: statistics.median(v) for k, v in times.items()}
    found["times"] = times
    found["other"] = {k: statistics.median(v) for k, v in others.items()}
    found["cpu"] = {k: statistics.median(v) for k, v in cpus.items()}
    found["counts"] = counts
    return found


def render_rows(size: int, found: dict[str, Any]) -> list[str]:
    m, o, c = found["median"], found["other"], found["cpu"]
    spread = {k: f"{min(v):.2f}-{max(v):.2f}" for k, v in found["times"].items()}
    ratio_full = m["assay full"] / m["dbt full"]
    ratio_noop = m["assay no-op"] / m["dbt full"]
    return [
        f"| {size:,} | full refresh: `assay run` / `dbt run --full-refresh` + `dbt test` "
        f"| {m['assay full']:.2f} ({spread['assay full']}) "
        f"| {m['dbt full']:.2f} ({spread['dbt full']}) | **{ratio_full:.2f}x** "
        f"| {c['assay full']:.2f} / {c['dbt full']:.2f} "
        f"({c['assay full'] / c['dbt full']:.2f}x) "
        f"| {o['assay full']:.0%} / {o['dbt full']:.0%} |",
        f"| {size:,} | nothing new: `assay run` (no-op) / dbt's correct re-run (the same "
        f"full refresh) | {m['assay no-op']:.2f} ({spread['assay no-op']}) "
        f"| {m['dbt full']:.2f} | **{ratio_noop:.2f}x** "
        f"| {c['assay no-op']:.2f} / {c['dbt full']:.2f} "
        f"({c['assay no-op'] / c['dbt full']:.2f}x) "
        f"| {o['assay no-op']:.0%} / {o['dbt full']:.0%} |",
    ]


def render(results: dict[int, dict[str, Any]], repeat: int) -> str:
    import duckdb
    from dbt.version import __version__ as dbt_version

    lines = [
        START,
        "## A dbt project: `assay run` against dbt itself (`benchmarks/dbt_vs_dbt.py`)",
        "",
        "The fraud example built by assay from N generated transactions (90 days), then the",
        "dbt project of tests/integrations/dbt/project (3 staging, 1 ephemeral + 1",
        "incremental intermediate, 2 marts of which one incremental; tests: unique,",
        "not_null, accepted_values, relationships, a custom generic and a singular test).",
        "assay: `Project.run` of the dbt datasets (project load included, compiled manifest",
        "cached). dbt: its own CLI (`dbtRunner`) with dbt-duckdb on a DuckDB file holding the",
        "same silver tables, threads 1 on both (assay builds one dataset at a time), only",
        "`dbt run` + `dbt test` timed (partial parse warm). Warm, median of"
        f" {repeat} (min-max in brackets).",
        "",
        f"Machine: 2 cores shared with other engineers' tests; Python"
        f" {platform.python_version()}; dbt-core {dbt_version}; DuckDB {duckdb.__version__};"
        f" recorded {date.today().isoformat()}.",
        "",
        "| transactions | what | assay s | dbt s | assay / dbt | CPU s, assay / dbt "
        "| others' CPU share (assay / dbt) |",
        "|---|---|---|---|---|---|---|",
    ]
    for size, found in results.items():
        lines += render_rows(size, found)
    lines += ["", "Results agree at every size (compared by the script, which stops otherwise):"]
    for size, found in results.items():
        rows = ", ".join(f"{m} {v[0]:,}" for m, v in found["rows"].items())
        c = found["counts"]
        lines.append(
            f"- {size:,}: rows {rows}; marts checksums equal; dbt ran {c['dbt full']} tests;"
            f" assay made {c['assay full']} Delta commits on a full refresh,"
            f" {c['assay no-op']} on the no-op."
        )
    lines += READING
    lines.append(END)
    return "\n".join(lines)


READING = [
    "",
    "Reading the numbers. dbt materializes each model as a DuckDB table (a view for",
    "`stg_customers`) in one database file and runs each test as a query; that is all.",
    "assay does more for the same models: each becomes a Delta table with a commit (history,",
    "time travel), its contract (dbt's enforced contract: required columns, `check`",
    "constraints with quarantine, primary key checked per batch) and every dbt test run as a",
    "blocking rule on each batch before the commit, the results recorded as check results;",
    "incremental models are written in batches of days recorded in the interval ledger",
    "(the Delta commits counted above), and run history, lineage and the catalog are",
    "updated. With nothing new, assay's no-op reads its ledger and the inputs' versions and",
    "writes nothing. dbt has no no-op: its incremental re-run (`dbt run` without",
    "--full-refresh) appends `int_transactions_enriched` again on this project (the model",
    "has no `is_incremental()` filter; in assay its interval ledger makes it incremental),",
    "after which `dbt test` fails on duplicate transaction ids, so a correct dbt re-run is",
    "the full refresh.",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--transactions", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--idle-wait", type=float, default=30.0)
    parser.add_argument("--no-write", action="store_true", help="print, do not write RESULTS.md")
    args = parser.parse_args()
    results: dict[int, dict[str, Any]] = {}
    for size in args.transactions:
        root = WORK / f"n{size}"
        print(f"{size:,} transactions: building the fraud example", flush=True)
        build_project(root, size)
        side = load_dbt_side(root)
        results[size] = measure(root, side, args.repeat, args.idle_wait)
    text = render(results, args.repeat)
    print(text)
    if not args.no_write:
        replace_block(HERE / "RESULTS.md", text, START, END)


if __name__ == "__main__":
    main()
