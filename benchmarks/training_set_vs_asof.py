"""Benchmark: assay's training sets against one bare DuckDB ASOF join over the same files.

For each size (feature rows x entity rows; default 1M x 100k and 10M x 1M) one feature
view of 3 features (2 doubles, 1 bigint) with a 2-day TTL and a created timestamp (1% of
the rows repeat a card and event time with a later created time: the tie-breaker's case):

- assay: `project.features.training_set(entities, ["v:f0", "v:f1", "v:f2"])`, the
  entity frame already in memory as Arrow, the gold table a Delta table in the project.
- bare: one DuckDB query over the Delta table's own Parquet files (`read_parquet` of
  `DeltaTable.file_uris()`): an ASOF LEFT JOIN on the card and the event time, the TTL
  applied, ordered by the entity frame's row id, collected as Arrow. Two forms:
  `bare-ties` breaks ties on the created timestamp inside the ASOF key (the same answer
  as assay and Feast); `bare` joins on the event time alone (the simplest join, the
  issue's baseline; it can pick either row of a tie).
- assay, no created: the same table through a view without its created timestamp, so
  ties are arbitrary as in `bare` (its rows may differ from assay's on ties only).
- feast-duckdb (with --feast): `get_historical_features(...).to_arrow()`, Feast's DuckDB
  offline store in its own virtualenv (benchmarks/feast_side.py).

Warm: each tool runs once untimed, then `--repeat` timed runs, assay and the bare joins
alternating in one process (the machine is shared: alternation spreads the noise evenly);
medians are reported, of wall time and of the process's CPU time (all threads; steadier
than wall time on a shared machine). Results are compared with pyarrow: assay's and bare-ties' Arrow
tables must be equal (same rows, values, order and types); bare and Feast are compared
by row id (Feast returns its own order).

Usage: python benchmarks/training_set_vs_asof.py [--sizes 1m,10m] [--repeat 3] [--feast]
       [--no-write]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# The same labelled entity rows as the Feast benchmark, and its JSON hand-offs to children.
from features_vs_feast import entity_frame, load, save
from machine import machine_cpu, other_share, self_cpu, wait_for_idle
from results_file import replace_block

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
START, END = "<!-- training-asof:start -->", "<!-- training-asof:end -->"
KEY = "card_id"
FEATURES = ["f0", "f1", "f2"]
TTL_DAYS, SPAN_DAYS = 2, 90
#: tag -> (feature rows, entity rows = distinct keys)
SIZES = {"1m": (1_000_000, 100_000), "10m": (10_000_000, 1_000_000)}
VIEW = "card_stats_{tag}"


# -- data --------------------------------------------------------------------------------------


def feature_table(rows: int, keys: int, end: datetime, seed: int) -> Any:
    """`rows` feature rows over `keys` cards in the 90 days before `end`; 1% repeat an
    earlier row's card and event time with a later created time; ~1% of values null."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    base = rows - rows // 100
    card = rng.integers(0, keys, base)
    card[: min(keys, base)] = np.arange(min(keys, base))
    start = np.datetime64(end - timedelta(days=SPAN_DAYS), "us")
    ts = start + rng.integers(0, SPAN_DAYS * 86_400 - 60, base).astype("timedelta64[s]")
    created = ts + rng.integers(0, 3_600_000_000, base).astype("timedelta64[us]")
    dup = rng.choice(base, rows - base, replace=False)
    later = created[dup] + rng.integers(1, 3_600_000_000, dup.size).astype("timedelta64[us]")
    card, ts = np.concatenate([card, card[dup]]), np.concatenate([ts, ts[dup]])
    created = np.concatenate([created, later])
    order = rng.permutation(rows)
    utc = pa.timestamp("us", tz="UTC")
    null = rng.random((3, rows)) < 0.01
    return pa.table(
        {
            KEY: pa.array(card[order]),
            "event_timestamp": pa.array(ts[order]).cast(utc),
            "created": pa.array(created[order]).cast(utc),
            "f0": pa.array(np.round(rng.normal(100, 30, rows), 4), mask=null[0]),
            "f1": pa.array(np.round(rng.normal(5, 2, rows), 4), mask=null[1]),
            "f2": pa.array(rng.integers(0, 1000, rows), mask=null[2]),
        }
    )


SOURCE = """
@assay.source("gold.{name}")
def {name}(ctx):
    return pq.read_table({path!r})
"""
DECLARED = """
{name} = FeatureView(
    name="{name}", entities=[card], source="gold.{name}", timestamp="event_timestamp",
    created_timestamp="created", ttl="{ttl}d", features={features!r},
)
{name}_nc = FeatureView(
    name="{name}_nc", entities=[card], source="gold.{name}", timestamp="event_timestamp",
    ttl="{ttl}d", features={features!r},
)
"""


def child_prepare(spec_path: str) -> None:
    """Write the Parquet files and build the assay project's gold Delta tables."""
    import pyarrow.parquet as pq
    import yaml

    import assay

    spec = load(spec_path)
    end = datetime.fromisoformat(spec["end"])
    for i, (name, view) in enumerate(spec["views"].items()):
        rows, keys = view["rows"], view["keys"]
        pq.write_table(feature_table(rows, keys, end, seed=i), view["path"])
        frame = entity_frame(keys, keys, end, seed=100 + i)
        pq.write_table(frame, spec["entities"][name]["path"])
    root = Path(spec["assay_project"])
    (root / "pipelines").mkdir(parents=True)
    (root / "features").mkdir()
    (root / "assay.yaml").write_text(yaml.safe_dump({"name": "training_asof"}))
    views = spec["views"].items()
    sources = "".join(SOURCE.format(name=n, path=v["path"]) for n, v in views)
    (root / "pipelines" / "gold.py").write_text(
        f"import pyarrow.parquet as pq\n\nimport assay\n{sources}"
    )
    declared = "".join(
        DECLARED.format(name=n, ttl=spec["ttl_days"], features=spec["features"]) for n, _ in views
    )
    (root / "features" / "cards.py").write_text(
        f'from assay import Entity, FeatureView\n\ncard = Entity("card", join_keys=["{KEY}"])\n'
        + declared
    )
    result = assay.Project(root).run()
    if not result.ok:
        raise SystemExit(f"assay run failed: {[f.error for f in result.failed]}")


# -- the bare joins ----------------------------------------------------------------------------

#: ts_us * 2^64 + (created_us + 2^63): one ASOF key that breaks ties on the created time.
TIE_KEY = (
    "epoch_us({ts})::HUGEINT * 18446744073709551616 "
    "+ coalesce(epoch_us({created})::HUGEINT + 9223372036854775808, 0)"
)


def bare_sql(files: list[str], ttl_days: int, ties: bool) -> str:
    """One ASOF LEFT JOIN over the Parquet files, TTL applied, in the entity frame's order."""
    listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    values = ", ".join(
        f"CASE WHEN epoch_us(f.event_timestamp) >= epoch_us(e.event_timestamp) - "
        f"{ttl_days * 86_400_000_000} THEN f.{name} END AS {name}"
        for name in FEATURES
    )
    if not ties:
        return (
            f"SELECT e.*, {values} FROM entities AS e ASOF LEFT JOIN "
            f"(SELECT {KEY}, event_timestamp, {', '.join(FEATURES)} "
            f"FROM read_parquet([{listed}])) AS f "
            f"ON e.{KEY} = f.{KEY} AND e.event_timestamp >= f.event_timestamp ORDER BY e.row_id"
        )
    feature_key = TIE_KEY.format(ts="event_timestamp", created="created")
    entity_key = "epoch_us(event_timestamp)::HUGEINT * 18446744073709551616 + 18446744073709551615"
    return (
        f"SELECT e.* EXCLUDE (k), {values} FROM (SELECT *, {entity_key} AS k FROM entities) AS e "
        f"ASOF LEFT JOIN (SELECT {KEY}, event_timestamp, {feature_key} AS k, "
        f"{', '.join(FEATURES)} FROM read_parquet([{listed}])) AS f "
        f"ON e.{KEY} = f.{KEY} AND e.k >= f.k ORDER BY e.row_id"
    )


# -- timing (a child process per size) ---------------------------------------------------------


def child_time(spec_path: str, tag: str, repeat: str, out_dir: str) -> None:
    """Warm up each side once, then time them alternately; save times, results, checks."""
    import duckdb
    import pyarrow.parquet as pq

    import assay

    spec = load(spec_path)
    view = VIEW.format(tag=tag)
    project = assay.Project(spec["assay_project"])
    entities = pq.read_table(spec["entities"][view]["path"])
    refs = [f"{view}:{f}" for f in spec["features"]]
    files = project.runtime.warehouse.table(f"gold.{view}").file_uris()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("entities", entities)
    queries = {name: bare_sql(files, spec["ttl_days"], ties) for name, ties in BARE.items()}

    def run(side: str) -> Any:
        if side == "assay":
            return project.features.training_set(entities, refs)
        if side == NO_CREATED:
            return project.features.training_set(entities, [f"{view}_nc:{f}" for f in FEATURES])
        return con.sql(queries[side]).to_arrow_table()

    sides = ["assay", *BARE, NO_CREATED]
    results = {side: run(side) for side in sides}  # warm-up
    times: dict[str, list[float]] = {side: [] for side in sides}
    cpu: dict[str, list[float]] = {side: [] for side in sides}
    for _ in range(int(repeat)):
        for side in sides:
            began, used = time.perf_counter(), time.process_time()
            results[side] = run(side)
            times[side].append(time.perf_counter() - began)
            cpu[side].append(time.process_time() - used)
    for side, table in results.items():
        pq.write_table(table, Path(out_dir) / f"{side}-{tag}.parquet")
    save(
        Path(out_dir) / f"times-{tag}.json",
        {
            "times": times,
            "cpu": cpu,
            "checks": {side: check(results["assay"], t) for side, t in results.items()},
        },
    )


#: The bare joins: name -> whether it breaks ties on the created timestamp.
BARE = {"bare-ties": True, "bare": False}
#: assay on a view of the same table without its created timestamp: ties are arbitrary, as
#: in the bare join on the event time alone.
NO_CREATED = "assay, no created"


def check(assay_result: Any, other: Any) -> dict[str, Any]:
    """How `other` compares with assay's result: equal as Arrow tables (rows, values,
    order, types), and, by row id, how many rows differ in any feature."""
    import pyarrow as pa
    import pyarrow.compute as pc

    equal = assay_result.equals(other.select(assay_result.column_names), check_metadata=False)
    a = assay_result.sort_by("row_id")
    b = other.sort_by("row_id")
    if a.num_rows != b.num_rows or not pc.all(pc.equal(a["row_id"], b["row_id"])).as_py():
        return {"equal": equal, "rows": [a.num_rows, b.num_rows], "differing": None}
    differs = pa.array([False] * a.num_rows)
    for name in FEATURES:
        x, y = pc.cast(a[name], pa.float64()), pc.cast(b[name], pa.float64())
        unequal = pc.fill_null(pc.not_equal(x, y), False)
        differs = pc.or_(differs, pc.or_(unequal, pc.not_equal(pc.is_null(x), pc.is_null(y))))
    return {
        "equal": equal,
        "rows": [a.num_rows, b.num_rows],
        "differing": pc.sum(differs).as_py() or 0,
        "with_features": pc.sum(pc.invert(pc.is_null(a[FEATURES[0]]))).as_py(),
    }


def child_check(spec_path: str, tag: str, out_dir: str, other: str) -> None:
    """Compare a saved result (Feast's) with assay's, by row id."""
    import pyarrow.parquet as pq

    a = pq.read_table(Path(out_dir) / f"assay-{tag}.parquet")
    b = pq.read_table(other)
    save(Path(out_dir) / f"check-feast-{tag}.json", check(a, b))


CHILDREN = {"_prepare": child_prepare, "_time": child_time, "_check": child_check}


# -- the parent --------------------------------------------------------------------------------


def child(
    *args: str, python: str = sys.executable, script: Path | None = None, src: Path | None = None
) -> float:
    """Run a step in a child process (assay from `src` when given: another version of the
    code); the share of the machine others used meanwhile."""
    before, own = machine_cpu(), self_cpu()
    began = os.times()
    env = {**os.environ, "PYTHONPATH": str(src)} if src else None
    subprocess.run([python, str(script or Path(__file__).resolve()), *args], check=True, env=env)
    after = os.times()
    used = (after.children_user - began.children_user) + (
        after.children_system - began.children_system
    )
    return other_share(before, used + self_cpu() - own)


def make_spec(work: Path, tags: list[str]) -> dict[str, Any]:
    end = datetime.now(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    data = work / "data"
    views, entities = {}, {}
    for tag in tags:
        rows, keys = SIZES[tag]
        name = VIEW.format(tag=tag)
        views[name] = {"path": str(data / f"{name}.parquet"), "rows": rows, "keys": keys}
        entities[name] = {"path": str(data / f"entities_{tag}.parquet"), "rows": keys}
    return {
        "end": end.isoformat(),
        "ttl_days": TTL_DAYS,
        "features": FEATURES,
        "floats": FEATURES[:2],
        "ints": FEATURES[2:],
        "views": views,
        "entities": entities,
        "assay_project": str(work / "assay_project"),
        "feast_repos": {"duckdb": str(work / "feast_duckdb")},
    }


def feast_times(args: argparse.Namespace, work: Path, tag: str) -> dict[str, Any]:
    """Feast's DuckDB store: one untimed run, then --repeat timed; compared by row id."""
    from features_vs_feast import FEAST_SIDE, ensure_feast_venv

    python = ensure_feast_venv(args.feast_venv)
    view = VIEW.format(tag=tag)
    result, out = work / "out" / f"feast-{tag}.json", work / "out" / f"feast-{tag}.parquet"
    other = child(
        "train", str(work / "spec.json"), str(result), "duckdb", view, str(out),
        str(args.repeat + 1), "100000", python=str(python), script=FEAST_SIDE,
    )  # fmt: skip
    child("_check", str(work / "spec.json"), tag, str(work / "out"), str(out))
    times = load(result)["times"][1:]
    return {"times": times, "other": other, "check": load(work / "out" / f"check-feast-{tag}.json")}


def report(runs: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    import duckdb
    import pyarrow

    lines = [
        START,
        "## Training sets: assay vs one bare DuckDB ASOF join (issue 18)",
        "",
        "`python benchmarks/training_set_vs_asof.py` (add `--feast` for Feast's DuckDB store). "
        f"Warm, median of {args.repeat}, 3 features, TTL {TTL_DAYS} days, ties on the event "
        "time broken by a created timestamp (1% of feature rows).",
        "",
        f"Machine: {os.cpu_count()} cores shared with other work; Python "
        f"{sys.version.split()[0]}; duckdb {duckdb.__version__}; pyarrow {pyarrow.__version__}; "
        f"recorded {datetime.now(UTC):%Y-%m-%d}.",
        "",
        "| feature rows x entity rows | tool | wall s (runs) | median s | vs bare-ties | vs bare "
        "| CPU s (median) | CPU vs bare-ties | result vs assay's | other CPU |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for tag, run in runs.items():
        rows, keys = SIZES[tag]
        medians = {side: statistics.median(t) for side, t in run["times"].items()}
        cpu = {side: statistics.median(t) for side, t in run.get("cpu", {}).items()}
        for side, t in run["times"].items():
            verdict = "-" if side == "assay" else _verdict(run["checks"][side])
            used = (
                f"{cpu[side]:.2f} | {cpu[side] / cpu['bare-ties']:.2f}x" if side in cpu else "- | -"
            )
            lines.append(
                f"| {rows:,} x {keys:,} | {side} | {', '.join(f'{x:.2f}' for x in t)} | "
                f"{medians[side]:.2f} | **{medians[side] / medians['bare-ties']:.2f}x** | "
                f"{medians[side] / medians['bare']:.2f}x | {used} | {verdict} | "
                f"{run['other']:.0%} |"
            )
    lines += ["", END]
    return "\n".join(lines)


def _verdict(found: dict[str, Any]) -> str:
    if found.get("equal"):
        return "identical"
    if found.get("differing") is None:
        return f"rows differ: {found['rows']}"
    return f"{found['differing']:,} of {found['rows'][0]:,} rows differ"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1m,10m", help="comma-separated: 1m, 10m")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per tool (median)")
    parser.add_argument("--feast", action="store_true", help="also Feast's DuckDB store")
    parser.add_argument("--feast-venv", type=Path, default=HERE / "work" / "feast-venv")
    parser.add_argument("--work", type=Path, default=HERE / "work" / "training_asof")
    parser.add_argument(
        "--assay-src", type=Path, help="time assay from this src/ (e.g. an older commit's)"
    )
    parser.add_argument(
        "--idle-wait", type=float, default=120, help="s to wait for a quiet machine per size"
    )
    parser.add_argument("--reuse", action="store_true", help="keep the data of the last run")
    parser.add_argument("--no-write", action="store_true", help="print, do not touch RESULTS.md")
    args = parser.parse_args()
    tags = [t.strip() for t in args.sizes.split(",") if t.strip()]
    work = args.work
    if not (args.reuse and (work / "spec.json").exists()):
        shutil.rmtree(work, ignore_errors=True)
        (work / "data").mkdir(parents=True)
        (work / "out").mkdir()
        save(work / "spec.json", make_spec(work, tags))
        print("generating data and building the assay project ...", flush=True)
        child("_prepare", str(work / "spec.json"))
    runs: dict[str, dict[str, Any]] = {}
    for tag in tags:
        print(f"timing {tag} ...", flush=True)
        wait_for_idle(args.idle_wait)
        other = child(
            "_time", str(work / "spec.json"), tag, str(args.repeat), str(work / "out"),
            src=args.assay_src,
        )  # fmt: skip
        run = load(work / "out" / f"times-{tag}.json")
        run["other"] = other
        if args.feast:
            feast = feast_times(args, work, tag)
            run["times"]["feast-duckdb"] = feast["times"]
            run["checks"]["feast-duckdb"] = feast["check"]
        runs[tag] = run
    block = report(runs, args)
    print(block)
    if not args.no_write:
        replace_block(RESULTS, block, START, END)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in CHILDREN:
        CHILDREN[sys.argv[1]](*sys.argv[2:])
    else:
        main()
