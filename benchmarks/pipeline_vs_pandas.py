"""Benchmark: the fraud pipeline on assay (DuckDB + Delta) vs. the same work in pandas.

For each size, generates the seeded fraud data once, then runs, each in its own process,
1. `assay run` on a copy of examples/fraud (cold: empty warehouse), and
2. benchmarks/pandas_fraud.py (the same transformations in plain pandas),
measuring wall time and peak resident memory (ru_maxrss of the child), and records both
and their ratio in benchmarks/RESULTS.md. Also times a no-op `assay run` (nothing new).

Usage: python benchmarks/pipeline_vs_pandas.py [--sizes 1000000 10000000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results_file import replace_block

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
EXAMPLE = REPO / "examples" / "fraud"


def measure(cmd: list[str]) -> tuple[float, int, str]:
    """Run `cmd`; return (wall seconds, peak RSS of the child in bytes, stdout)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        began = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        # wait4 reaps the child and returns its own resource usage (max RSS in KiB).
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - began
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{err.read()[-3000:]}")
        return wall, usage.ru_maxrss * 1024, out.read()


def run_size(n: int, work: Path) -> dict[str, float]:
    data_root = work / f"fraud_{n}"
    if not (data_root / "data" / "transactions").exists():
        print(f"generating {n:,} transactions ...", flush=True)
        data_root.mkdir(parents=True, exist_ok=True)
        # In a child process: a forked child's max RSS starts from its parent's, so the
        # parent must stay small for the measurements below to be the children's own.
        subprocess.run(
            [
                sys.executable,
                str(EXAMPLE / "generate.py"),
                "--root",
                str(data_root),
                "--transactions",
                str(n),
            ],
            check=True,
        )
    project = work / f"project_{n}"
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    shutil.copy(EXAMPLE / "assay.yaml", project / "assay.yaml")
    shutil.copytree(EXAMPLE / "pipelines", project / "pipelines")
    (project / "data").symlink_to(data_root / "data")
    lines = sum(
        1 for p in (data_root / "data" / "transactions").glob("*.jsonl") for _ in p.open("rb")
    )
    py = sys.executable
    print(f"assay run on {n:,} ...", flush=True)
    assay_s, assay_rss, _ = measure(
        [
            py,
            "-c",
            f"import assay; r = assay.Project({str(project)!r}).run(); "
            "assert r.ok, [f.error for f in r.failed]",
        ]
    )
    noop_s, _, _ = measure([str(Path(py).parent / "assay"), "run", "--project", str(project)])
    print(f"pandas on {n:,} ...", flush=True)
    out_dir = work / f"pandas_out_{n}"
    pandas_s, pandas_rss, out = measure(
        [py, str(HERE / "pandas_fraud.py"), str(data_root), str(out_dir)]
    )
    pandas_info = json.loads(out.strip().splitlines()[-1])
    shutil.rmtree(out_dir, ignore_errors=True)
    return {
        "n": n,
        "lines": lines,
        "assay_s": assay_s,
        "assay_rss": assay_rss,
        "pandas_s": pandas_s,
        "pandas_rss": pandas_rss,
        "noop_s": noop_s,
        "raw_bytes": pandas_info["raw_bytes"],
    }


def write_results(rows: list[dict[str, float]]) -> str:
    gib = 1024**3
    lines = [
        "## Fraud pipeline: assay (DuckDB + Delta, embedded) vs. plain pandas",
        "",
        "`python benchmarks/pipeline_vs_pandas.py` (`make bench`). Each run starts cold (empty",
        "warehouse) in its own process; both read the same JSON-lines files and produce the",
        "same silver and gold tables (assay also writes Delta tables, quarantine tables and",
        'the catalog). Peak memory is the child process\'s max RSS. "raw in-memory" is the',
        "parsed raw transactions as a pandas DataFrame (deep).",
        "",
        f"Machine: {os.cpu_count()} cores; Python {sys.version.split()[0]}; "
        f"recorded {time.strftime('%Y-%m-%d')}.",
        "",
        "| transactions (lines) | assay s | assay rows/s | assay peak GiB | pandas s | "
        "pandas rows/s | pandas peak GiB | raw in-memory GiB | throughput ratio | "
        "memory ratio | no-op run s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {int(r['lines']):,} | {r['assay_s']:.1f} | {r['lines'] / r['assay_s']:,.0f} | "
            f"{r['assay_rss'] / gib:.2f} | {r['pandas_s']:.1f} | "
            f"{r['lines'] / r['pandas_s']:,.0f} | {r['pandas_rss'] / gib:.2f} | "
            f"{r['raw_bytes'] / gib:.2f} | **{r['pandas_s'] / r['assay_s']:.1f}x** | "
            f"{r['assay_rss'] / r['pandas_rss']:.2f} | {r['noop_s']:.2f} |"
        )
    lines += [
        "",
        "throughput ratio = pandas time / assay time (higher is better for assay);",
        "memory ratio = assay peak / pandas peak (lower is better).",
        "",
    ]
    return "\n".join(lines)


START, END = "<!-- pipeline-bench:start -->", "<!-- pipeline-bench:end -->"


def write_section(path: Path, text: str) -> None:
    """Replace the table between this benchmark's markers; notes and other benchmarks'
    sections of RESULTS.md stay as they are."""
    replace_block(path, f"{START}\n{text.strip()}\n{END}", START, END)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--work", type=Path, default=HERE / "work")
    args = parser.parse_args()
    rows = [run_size(n, args.work) for n in args.sizes]
    text = write_results(rows)
    write_section(HERE / "RESULTS.md", text)
    print(text)


if __name__ == "__main__":
    main()
