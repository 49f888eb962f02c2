"""Benchmark: assay's feature store against Feast, on the same data in the same run.

1. Training sets (point-in-time joins, TTL 30 days, ties broken by a created timestamp):
   assay `project.features.training_set` against Feast `get_historical_features(...)
   .to_arrow()` with its DuckDB offline store and its file (dask) offline store; every
   result is compared row by row with assay's (sorted by row id, nulls equal to nulls).
2. Materialization of the latest row of each of N entities (default 1M, from 2N rows)
   into each tool's SQLite online store.
3. Online latency, one entity x 10 features and batches of 100 entities: in-process
   (`project.features.online` vs `get_online_features(...).to_dict()`) and over HTTP on
   loopback with a keep-alive client (assay's FastAPI app under uvicorn vs `feast serve`).

Every measured step runs in its own child process (peak memory = its max RSS). Feast runs
in its own virtualenv (benchmarks/work/feast-venv, made on first use: its pins differ from
assay's) through benchmarks/feast_side.py; the two sides exchange Parquet and JSON files.
The data are made anew each run (seeded; timestamps end at the current hour, so TTLs hold
while the run lasts).

Usage: python benchmarks/features_vs_feast.py [--large] [--repeat 3] [--no-write]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from machine import IDLE_SHARE, machine_cpu, other_share, wait_for_idle
from results_file import replace_block
from rich.console import Console

HERE = Path(__file__).resolve().parent
FEAST_SIDE = HERE / "feast_side.py"
FEAST_REQUIREMENT = "feast[duckdb]"
ENTITY_KEY = "card_id"
FEATURES = [f"f{i}" for i in range(10)]
FLOATS, INTS = FEATURES[:5], FEATURES[5:]
TTL_DAYS, SPAN_DAYS, ONLINE_DAYS = 30, 90, 28
ONLINE_VIEW = "card_online"
API_KEY = "bench-key"
#: `feast serve` options: no access log (as assay's app here), one worker never recycled
#: mid-run (the default recycles it every 1,000 requests), registry cached for the run.
SERVE = ["--no-access-log", "--workers", "1", "--max-requests", "100000000"]
SERVE += ["--registry_ttl_sec", "3600"]
#: Training-set sizes: tag -> (feature rows, entity rows = distinct keys).
SIZES = {"1m": (1_000_000, 100_000), "10m": (10_000_000, 1_000_000)}
#: Aims the numbers are read against (reported, never asserted).
AIM_TRAIN_RATIO, AIM_MAT_RATE, AIM_P99_LOCAL_MS, AIM_P99_HTTP_MS = 5.0, 100_000, 1.0, 5.0

#: Steps whose timings are reported: they start once the machine is idle (--idle-wait).
MEASURED = {"train", "materialize", "online"}

console = Console(highlight=False)


# -- data (a child process) ------------------------------------------------------------------


def feature_table(rows: int, keys: int, end: datetime, days: int, seed: int) -> Any:
    """`rows` feature rows over `keys` cards in the `days` before `end`; 1% of them repeat an
    earlier row's card and event time with a later created time (the tie-breaker's case),
    and each feature is null in about 1% of the rows."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    base = rows - rows // 100
    card = rng.integers(0, keys, base)
    card[: min(keys, base)] = np.arange(min(keys, base))  # every card has a row
    start = np.datetime64(end - timedelta(days=days), "us")
    ts = start + rng.integers(0, days * 86_400 - 60, base).astype("timedelta64[s]")
    created = ts + rng.integers(0, 3_600_000_000, base).astype("timedelta64[us]")
    dup = rng.choice(base, rows - base, replace=False)
    card = np.concatenate([card, card[dup]])
    ts = np.concatenate([ts, ts[dup]])
    later = created[dup] + rng.integers(1, 3_600_000_000, dup.size).astype("timedelta64[us]")
    created = np.concatenate([created, later])
    order = rng.permutation(rows)
    utc = pa.timestamp("us", tz="UTC")
    columns = {
        ENTITY_KEY: pa.array(card[order]),
        "event_timestamp": pa.array(ts[order]).cast(utc),
        "created": pa.array(created[order]).cast(utc),
    }
    for name in FLOATS:
        columns[name] = pa.array(
            np.round(rng.normal(100, 30, rows), 4), mask=rng.random(rows) < 0.01
        )
    for name in INTS:
        columns[name] = pa.array(rng.integers(0, 1000, rows), mask=rng.random(rows) < 0.01)
    return pa.table(columns)


def entity_frame(rows: int, keys: int, end: datetime, seed: int) -> Any:
    """Labelled entity rows: 5% of the keys have no features, timestamps over 90 days."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    start = np.datetime64(end - timedelta(days=SPAN_DAYS), "us")
    ts = start + rng.integers(0, SPAN_DAYS * 86_400, rows).astype("timedelta64[s]")
    return pa.table(
        {
            "row_id": pa.array(np.arange(rows)),
            ENTITY_KEY: pa.array(rng.integers(0, int(keys * 1.05), rows)),
            "event_timestamp": pa.array(ts).cast(pa.timestamp("us", tz="UTC")),
            "label": pa.array(rng.integers(0, 2, rows)),
        }
    )


def child_generate(spec_path: str) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    spec = load(spec_path)
    end = datetime.fromisoformat(spec["end"])
    for i, view in enumerate(spec["views"].values()):
        table = feature_table(view["rows"], view["keys"], end, view["days"], seed=i)
        pq.write_table(table, view["path"])
    for i, (_name, frame) in enumerate(spec["entities"].items()):
        pq.write_table(entity_frame(frame["rows"], frame["keys"], end, seed=100 + i), frame["path"])
    rng = np.random.default_rng(7)
    keys = spec["views"][ONLINE_VIEW]["keys"]
    singles = spec["warmup"] + spec["requests"]
    batches = (spec["batch_warmup"] + spec["batch_requests"]) * spec["batch"]
    pq.write_table(pa.table({ENTITY_KEY: rng.integers(0, keys, singles)}), spec["keys_single"])
    pq.write_table(pa.table({ENTITY_KEY: rng.integers(0, keys, batches)}), spec["keys_batch"])


# -- assay's side (child processes) ----------------------------------------------------------


SOURCE = """
@assay.source("gold.{name}")
def {name}(ctx):
    return pq.read_table({path!r})
"""
VIEW = """
{name} = FeatureView(
    name="{name}", entities=[card], source="gold.{name}", timestamp="event_timestamp",
    created_timestamp="created", ttl="{ttl}d", features={features!r},
)
"""


def child_build(spec_path: str) -> None:
    """The assay project: one gold table per Parquet file (an `@assay.source`) and a
    feature view over each; `run()` builds the gold Delta tables."""
    import yaml

    import assay
    from assay.server.app import hash_key

    spec = load(spec_path)
    root = Path(spec["assay_project"])
    (root / "pipelines").mkdir(parents=True)
    (root / "features").mkdir()
    config = {"name": "features_bench", "server": {"api_keys": [hash_key(API_KEY)]}}
    (root / "assay.yaml").write_text(yaml.safe_dump(config))
    views = spec["views"].items()
    sources = "".join(SOURCE.format(name=n, path=v["path"]) for n, v in views)
    (root / "pipelines" / "gold.py").write_text(
        f"import pyarrow.parquet as pq\n\nimport assay\n{sources}"
    )
    declared = "".join(
        VIEW.format(name=n, ttl=spec["ttl_days"], features=spec["features"]) for n, _ in views
    )
    (root / "features" / "cards.py").write_text(
        "from assay import Entity, FeatureView\n\n"
        f'card = Entity("card", join_keys=["{ENTITY_KEY}"])\n{declared}'
    )
    result = assay.Project(root).run()
    if not result.ok:
        raise SystemExit(f"assay run failed: {[f.error for f in result.failed]}")


def child_train(spec_path: str, result: str, view: str, out: str, repeat: str, budget: str) -> None:
    import pyarrow.parquet as pq

    import assay

    spec = load(spec_path)
    project = assay.Project(spec["assay_project"])
    entities = pq.read_table(spec["entities"][view]["path"])
    refs = [f"{view}:{f}" for f in spec["features"]]
    times: list[float] = []
    for i in range(int(repeat)):
        began = time.perf_counter()
        table = project.features.training_set(entities, refs)
        times.append(time.perf_counter() - began)
        if i == 0:
            pq.write_table(table, out)
        save(result, {"times": times, "rows": table.num_rows})
        if sum(times) > float(budget):
            break


def child_materialize(spec_path: str, result: str) -> None:
    import assay

    spec = load(spec_path)
    project = assay.Project(spec["assay_project"])
    online_db = project.root / project.config.online_store.path
    online_db.unlink(missing_ok=True)  # a fresh store on every attempt
    end = datetime.fromisoformat(spec["end"])
    began = time.perf_counter()
    # With a start, a full read (not incremental after an earlier attempt); the rows are
    # the same as the TTL's, and Feast gets the same start.
    done = project.features.materialize(
        end=end, start=end - timedelta(days=spec["ttl_days"]), views=[ONLINE_VIEW]
    )
    save(result, {"seconds": time.perf_counter() - began, "rows": done[0].rows})


def child_online(spec_path: str, result: str) -> None:
    """Latency of `project.features.online`: single entities, then batches."""
    import pyarrow.parquet as pq

    import assay

    spec = load(spec_path)
    features = assay.Project(spec["assay_project"]).features
    refs = [f"{ONLINE_VIEW}:{f}" for f in spec["features"]]
    single = pq.read_table(spec["keys_single"])[ENTITY_KEY].to_pylist()
    batch = pq.read_table(spec["keys_batch"])[ENTITY_KEY].to_pylist()
    size = spec["batch"]
    single_ms, sample = [], []
    for i, key in enumerate(single):
        began = time.perf_counter_ns()
        vector = features.online([{ENTITY_KEY: key}], refs)[0]
        elapsed = (time.perf_counter_ns() - began) / 1e6
        if i >= spec["warmup"]:
            single_ms.append(elapsed)
            if len(sample) < spec["sample"]:
                sample.append([key, *(vector[f]["value"] for f in spec["features"])])
    batch_ms = []
    for i in range(0, len(batch), size):
        rows = [{ENTITY_KEY: k} for k in batch[i : i + size]]
        began = time.perf_counter_ns()
        features.online(rows, refs)
        elapsed = (time.perf_counter_ns() - began) / 1e6
        if i // size >= spec["batch_warmup"]:
            batch_ms.append(elapsed)
    save(result, {"single_ms": single_ms, "batch_ms": batch_ms, "sample": sample})


def child_serve(spec_path: str, port: str) -> None:
    """assay's app under uvicorn, access log off (as `feast serve --no-access-log`)."""
    import uvicorn

    import assay
    from assay.server.app import create_app

    project = assay.Project(load(spec_path)["assay_project"])
    uvicorn.run(
        create_app(project), host="127.0.0.1", port=int(port), access_log=False, log_level="warning"
    )


def child_compare(spec_path: str, result: str, a: str, b: str) -> None:
    """Entity rows (by row id) missing from `b`, extra in `b`, and rows in both whose
    features differ; NaN counts as null, integers compare as doubles."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    features = load(spec_path)["features"]

    def read(path: str, suffix: str) -> pa.Table:
        table = pq.read_table(path, columns=["row_id", *features])
        cols = []
        for name in features:
            col = pc.cast(table[name], pa.float64())
            cols.append(pc.if_else(pc.is_nan(col), None, col))
        return pa.table([table["row_id"], *cols], names=["row_id", *(f + suffix for f in features)])

    left, right = read(a, "_a"), read(b, "_b")
    both = left.join(right, "row_id", join_type="inner")
    differs = pa.array([False] * both.num_rows)
    for name in features:
        x, y = both[name + "_a"], both[name + "_b"]
        unequal = pc.fill_null(pc.not_equal(x, y), False)
        differs = pc.or_(differs, pc.or_(unequal, pc.not_equal(pc.is_null(x), pc.is_null(y))))
    save(
        result,
        {
            "rows": [left.num_rows, right.num_rows],
            "missing": left.num_rows - both.num_rows,
            "extra": right.num_rows - both.num_rows,
            "mismatches": pc.sum(differs).as_py() or 0,
            "with_features": pc.sum(pc.invert(pc.is_null(left[features[0] + "_a"]))).as_py(),
        },
    )


CHILDREN = {
    "_generate": child_generate,
    "_build": child_build,
    "_train": child_train,
    "_materialize": child_materialize,
    "_online": child_online,
    "_serve": child_serve,
    "_compare": child_compare,
}


# -- the parent: keeps small, starts and measures the children -------------------------------


def load(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def save(path: str | Path, value: Any) -> None:
    Path(path).write_text(json.dumps(value))


@dataclass
class Outcome:
    wall: float
    rss: int  # peak bytes (the child's max RSS, or the largest seen when it was stopped)
    error: str | None = None
    other: float = 0.0  # share of the machine's CPU that other processes used meanwhile


def tree_cpu(pid: int) -> float:
    """CPU seconds used so far by a process and its live descendants."""
    import psutil

    total = 0.0
    with contextlib.suppress(psutil.Error):
        root = psutil.Process(pid)
        for proc in [root, *root.children(recursive=True)]:
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def run_child(cmd: list[str], timeout: float, memory_cap: int, log: Path) -> Outcome:
    """Run `cmd` in its own session; stop it (its process group) past `timeout` seconds or
    past `memory_cap` bytes of resident memory (the child and its children)."""
    import psutil

    with log.open("w") as out:
        cpu_before = machine_cpu()
        began = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        seen, stopped = 0, None
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            with contextlib.suppress(psutil.Error):
                tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(True)]
                seen = max(seen, sum(p.memory_info().rss for p in tree))
            elapsed = time.monotonic() - began
            if stopped is None and (elapsed > timeout or seen > memory_cap):
                stopped = (
                    f"timed out after {timeout:.0f} s"
                    if elapsed > timeout
                    else f"stopped at {seen / 2**30:.1f} GiB (memory cap)"
                )
                os.killpg(proc.pid, signal.SIGKILL)
            time.sleep(0.1)
    wall = time.monotonic() - began
    other = other_share(cpu_before, usage.ru_utime + usage.ru_stime)
    code = os.waitstatus_to_exitcode(status)
    rss = max(seen, usage.ru_maxrss * 1024)
    error = None
    if stopped:
        error = stopped
    elif code == -signal.SIGKILL:
        error = "killed (out of memory)"
    elif code:
        error = f"exited {code}: {log.read_text()[-2000:].strip().splitlines()[-1:]}"
    return Outcome(wall, rss, error, other)


class Bench:
    """Paths, interpreters and limits shared by the steps of one run."""

    def __init__(self, args: argparse.Namespace, work: Path, feast_python: Path):
        self.args, self.work, self.feast_python = args, work, feast_python
        self.spec_path = work / "spec.json"
        self.memory_cap = int(args.memory_cap_gib * 2**30)
        self.load_at_start = os.getloadavg()[0]

    def path(self, *parts: str) -> Path:
        return self.work.joinpath(*parts)

    def assay(self, step: str, *args: str, timeout: float = 3600) -> Outcome:
        cmd = [sys.executable, str(Path(__file__).resolve()), step, str(self.spec_path), *args]
        return self._run(step, cmd, timeout)

    def feast(self, step: str, *args: str, timeout: float = 3600) -> Outcome:
        cmd = [str(self.feast_python), str(FEAST_SIDE), step, str(self.spec_path), *args]
        return self._run(f"feast-{step}", cmd, timeout)

    def _run(self, name: str, cmd: list[str], timeout: float) -> Outcome:
        """Run a step; a measured one waits for an idle machine first, and runs again (up to
        --retries times) when other processes took over IDLE_SHARE of the CPU meanwhile."""
        measured = name.lstrip("_").removeprefix("feast-") in MEASURED
        attempts = 1 + (self.args.retries if measured else 0)
        for attempt in range(attempts):
            if measured:
                wait_for_idle(self.args.idle_wait)
            for arg in cmd:  # a result file must come from this attempt
                if arg.startswith(str(self.path("results"))):
                    Path(arg).unlink(missing_ok=True)
            log = self.path("logs", f"{name}-{time.monotonic_ns()}.log")
            outcome = run_child(cmd, timeout, self.memory_cap, log)
            if outcome.error:
                console.print(f"  [red]{name}: {outcome.error}[/red] (log: {log})")
            if outcome.other <= IDLE_SHARE or outcome.error or attempt == attempts - 1:
                return outcome
            console.print(f"  disturbed ({outcome.other:.0%} other CPU): again")
        raise AssertionError("unreachable")


def ensure_feast_venv(venv: Path) -> Path:
    """Feast in a virtualenv of its own; made (or completed) on first use."""
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import feast, duckdb, ibis"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    console.print(f"installing {FEAST_REQUIREMENT} into {venv} ...")
    base = shutil.which("python3.11") or sys.executable
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", FEAST_REQUIREMENT], check=True)
    return python


def make_spec(args: argparse.Namespace, work: Path, tags: list[str]) -> dict[str, Any]:
    end = datetime.now(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    data = work / "data"
    views: dict[str, Any] = {}
    entities: dict[str, Any] = {}
    for tag in tags:
        rows, keys = SIZES[tag]
        name = f"card_stats_{tag}"
        views[name] = {"path": str(data / f"{name}.parquet"), "rows": rows, "keys": keys}
        views[name]["days"] = SPAN_DAYS
        entities[name] = {"path": str(data / f"entities_{tag}.parquet"), "rows": keys}
        entities[name]["keys"] = keys
    n = args.online_entities
    views[ONLINE_VIEW] = {
        "path": str(data / f"{ONLINE_VIEW}.parquet"),
        "rows": 2 * n,
        "keys": n,
        "days": ONLINE_DAYS,
    }
    return {
        "end": end.isoformat(),
        "ttl_days": TTL_DAYS,
        "features": FEATURES,
        "floats": FLOATS,
        "ints": INTS,
        "views": views,
        "entities": entities,
        "keys_single": str(data / "keys_single.parquet"),
        "keys_batch": str(data / "keys_batch.parquet"),
        "warmup": 200,
        "requests": args.requests,
        "batch": 100,
        "batch_warmup": 20,
        "batch_requests": args.batch_requests,
        "sample": 1000,
        "assay_project": str(work / "assay_project"),
        "feast_repos": {"duckdb": str(work / "feast_duckdb"), "file": str(work / "feast_file")},
    }


# -- the measurements ------------------------------------------------------------------------


def train_size(bench: Bench, tag: str) -> list[dict[str, Any]]:
    """assay, Feast DuckDB and Feast file on one size; each compared with assay's result."""
    view = f"card_stats_{tag}"
    rows, keys = SIZES[tag]
    args = bench.args
    runs: list[dict[str, Any]] = []
    tools = [("assay", None), ("feast-duckdb", "duckdb"), ("feast-file", "file")]
    for tool, store in tools:
        console.print(f"training set {rows:,} x {keys:,}: {tool} ...")
        result, out = (
            bench.path("results", f"train-{tool}-{tag}.json"),
            bench.path("out", f"{tool}-{tag}.parquet"),
        )
        common = [str(result), view] if store is None else [str(result), store, view]
        extra = [str(out), str(args.repeat), str(args.repeat_budget)]
        timeout = args.file_timeout if store == "file" else 3600
        outcome = (bench.assay if store is None else bench.feast)(
            "_train" if store is None else "train", *common, *extra, timeout=timeout
        )
        done = load(result) if result.exists() else {"times": []}
        run = {"tag": tag, "rows": rows, "entities": keys, "tool": tool, "rss": outcome.rss}
        run["other"] = outcome.other
        run.update(times=done["times"], error=outcome.error if not done["times"] else None)
        if outcome.error and done["times"]:
            run["note"] = f"{len(done['times'])} run(s), then {outcome.error}"
        if tool != "assay" and done["times"] and out.exists():
            run["compare"] = compare(bench, bench.path("out", f"assay-{tag}.parquet"), out)
        runs.append(run)
        if done["times"]:
            console.print(f"  runs {', '.join(f'{t:.2f}' for t in done['times'])} s")
    return runs


def compare(bench: Bench, a: Path, b: Path) -> dict[str, Any]:
    result = bench.path("results", f"compare-{b.stem}.json")
    outcome = bench.assay("_compare", str(result), str(a), str(b))
    return load(result) if not outcome.error else {"mismatches": None, "error": outcome.error}


def materialize(bench: Bench) -> list[dict[str, Any]]:
    entities = bench.args.online_entities
    out = []
    for tool in ("assay", "feast"):
        console.print(f"materializing {entities:,} entities: {tool} ...")
        result = bench.path("results", f"materialize-{tool}.json")
        outcome = (
            bench.assay("_materialize", str(result))
            if tool == "assay"
            else bench.feast("materialize", str(result))
        )
        done = load(result) if result.exists() else {}
        out.append({"tool": tool, "entities": entities, "rss": outcome.rss, **done})
        out[-1].update(error=outcome.error, other=outcome.other)
        if "seconds" in done:
            console.print(
                f"  {done['seconds']:.1f} s, {entities / done['seconds']:,.0f} entities/s"
            )
    return out


def online_in_process(bench: Bench) -> dict[str, dict[str, Any]]:
    out = {}
    for tool in ("assay", "feast"):
        console.print(f"online, in-process: {tool} ...")
        result = bench.path("results", f"online-{tool}.json")
        outcome = (
            bench.assay("_online", str(result))
            if tool == "assay"
            else bench.feast("online", str(result))
        )
        out[tool] = load(result) if not outcome.error else {"error": outcome.error}
        out[tool]["other"] = outcome.other
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(cmd: list[str], port: int, log: Path) -> Any:
    """A server process in its own session, up once GET /health answers; stopped after."""
    import httpx

    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def assay_body(keys: list[int]) -> dict[str, Any]:
    refs = [f"{ONLINE_VIEW}:{f}" for f in FEATURES]
    return {"entities": [{ENTITY_KEY: k} for k in keys], "features": refs}


def feast_body(keys: list[int]) -> dict[str, Any]:
    return {"entities": {ENTITY_KEY: keys}, "features": [f"{ONLINE_VIEW}:{f}" for f in FEATURES]}


def assay_values(answer: dict[str, Any]) -> list[Any]:
    return [answer["results"][0][f]["value"] for f in FEATURES]


def feast_values(answer: dict[str, Any]) -> list[Any]:
    names = answer["metadata"]["feature_names"]
    return [answer["results"][names.index(f)]["values"][0] for f in FEATURES]


def http_loop(bench: Bench, url: str, body: Any, values: Any, headers: dict[str, str]) -> Any:
    """Single-entity then batch requests over one keep-alive connection; latencies in ms."""
    import httpx
    import pyarrow.parquet as pq

    spec = load(bench.spec_path)
    single = pq.read_table(spec["keys_single"])[ENTITY_KEY].to_pylist()
    batch = pq.read_table(spec["keys_batch"])[ENTITY_KEY].to_pylist()
    size, failures = spec["batch"], 0
    single_ms, batch_ms, sample = [], [], []
    with httpx.Client(headers=headers, timeout=30) as client:
        for i, key in enumerate(single):
            began = time.perf_counter_ns()
            response = client.post(url, json=body([key]))
            answer = response.json()
            elapsed = (time.perf_counter_ns() - began) / 1e6
            failures += response.status_code != 200
            if i >= spec["warmup"]:
                single_ms.append(elapsed)
                if len(sample) < spec["sample"] and response.status_code == 200:
                    sample.append([key, *values(answer)])
        for i in range(0, len(batch), size):
            began = time.perf_counter_ns()
            response = client.post(url, json=body(batch[i : i + size]))
            response.json()
            elapsed = (time.perf_counter_ns() - began) / 1e6
            failures += response.status_code != 200
            if i // size >= spec["batch_warmup"]:
                batch_ms.append(elapsed)
    return {"single_ms": single_ms, "batch_ms": batch_ms, "sample": sample, "failures": failures}


def online_http(bench: Bench) -> dict[str, dict[str, Any]]:
    """assay's app (uvicorn, no access log), `assay serve` as shipped, and `feast serve`."""
    spec = str(bench.spec_path)
    assay_cli = str(Path(sys.executable).parent / "assay")
    feast_cli = str(bench.feast_python.parent / "feast")
    repo = load(bench.spec_path)["feast_repos"]["duckdb"]
    key_header = {"X-API-Key": API_KEY}
    setups = {
        "assay": (
            [sys.executable, str(Path(__file__).resolve()), "_serve", spec, "{port}"],
            "/features",
            assay_body,
            assay_values,
            key_header,
        ),
        "assay serve (CLI)": (
            [assay_cli, "serve", "--project", load(spec)["assay_project"], "--port", "{port}"],
            "/features",
            assay_body,
            assay_values,
            key_header,
        ),
        "feast": (
            [feast_cli, "-c", repo, "serve", "--host", "127.0.0.1", "--port", "{port}", *SERVE],
            "/get-online-features",
            feast_body,
            feast_values,
            {},
        ),
    }
    out = {}
    for tool, (cmd, path, body, values, headers) in setups.items():
        console.print(f"online over HTTP: {tool} ...")
        port = free_port()
        log = bench.path("logs", f"serve-{tool.split()[0]}-{port}.log")
        try:
            with server([c.replace("{port}", str(port)) for c in cmd], port, log) as proc:
                for attempt in range(1 + bench.args.retries):
                    if attempt:
                        console.print(f"  disturbed ({out[tool]['other']:.0%} other CPU): again")
                    wait_for_idle(bench.args.idle_wait)
                    own = tree_cpu(proc.pid) + sum(os.times()[:2])
                    before = machine_cpu()
                    out[tool] = http_loop(
                        bench, f"http://127.0.0.1:{port}{path}", body, values, headers
                    )
                    own = tree_cpu(proc.pid) + sum(os.times()[:2]) - own
                    out[tool]["other"] = other_share(before, own)
                    if out[tool]["other"] <= IDLE_SHARE:
                        break
        except RuntimeError as exc:
            console.print(f"  [red]{exc}[/red]")
            out[tool] = {"error": str(exc)[-300:]}
    return out


# -- the report ------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(values, q))


def sample_mismatches(a: list[list[Any]], b: list[list[Any]]) -> int:
    """Entities whose values differ between two samples of the same keys (floats exactly)."""
    return sum(1 for x, y in zip(a, b, strict=False) if x != y) + abs(len(a) - len(b))


def train_lines(training: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| feature rows x entity rows | tool | runs | median s | first run s | peak GiB | "
        "time vs assay | rows differing from assay | other CPU |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for tag in dict.fromkeys(r["tag"] for r in training):
        group = [r for r in training if r["tag"] == tag]
        base = next((r for r in group if r["tool"] == "assay" and r["times"]), None)
        for r in group:
            size = f"{r['rows']:,} x {r['entities']:,}"
            if not r["times"]:
                lines.append(f"| {size} | {r['tool']} | 0 | {r['error']} ||||| {r['other']:.0%} |")
                continue
            median = statistics.median(r["times"])
            ratio = median / statistics.median(base["times"]) if base else float("nan")
            differing = "-" if r["tool"] == "assay" else _differing(r.get("compare", {}))
            if r.get("note"):
                differing += f" ({r['note']})"
            lines.append(
                f"| {size} | {r['tool']} | {len(r['times'])} | {median:.2f} | "
                f"{r['times'][0]:.2f} | {r['rss'] / 2**30:.2f} | **{ratio:.1f}x** | {differing} | "
                f"{r['other']:.0%} |"
            )
        found = next((r["compare"] for r in group if "with_features" in r.get("compare", {})), None)
        if found:
            notes.append(
                f"- {size}: {found['with_features']:,} of {found['rows'][0]:,} entity rows "
                "get feature values in assay's result (the rest: no row within the TTL)."
            )
    return [*lines, "", *notes]


def _differing(compare: dict[str, Any]) -> str:
    if "mismatches" not in compare or compare["mismatches"] is None:
        return f"not compared ({compare.get('error')})"
    text = f"{compare['mismatches']:,} of {compare['rows'][0]:,}"
    if compare["missing"] or compare["extra"]:
        text += f"; {compare['missing']:,} entity rows missing, {compare['extra']:,} extra"
    return text


def materialize_lines(mat: list[dict[str, Any]], equal: str) -> list[str]:
    lines = [
        "| entities (from 2x rows) | tool | seconds | entities/s | peak GiB | other CPU |",
        "|---|---|---|---|---|---|",
    ]
    for m in mat:
        if "seconds" not in m:
            lines.append(
                f"| {m['entities']:,} | {m['tool']} | {m['error']} |||| {m['other']:.0%} |"
            )
            continue
        lines.append(
            f"| {m['entities']:,} | {m['tool']} | {m['seconds']:.1f} | "
            f"{m['entities'] / m['seconds']:,.0f} | {m['rss'] / 2**30:.2f} | {m['other']:.0%} |"
        )
    return [*lines, "", equal]


def latency_lines(local: dict[str, Any], http: dict[str, Any]) -> list[str]:
    lines = [
        "| where | tool | entities per request | requests | p50 ms | p99 ms | mean ms | "
        "other CPU |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for where, results in (("in-process", local), ("HTTP (loopback)", http)):
        for tool, r in results.items():
            if "error" in r:
                lines.append(f"| {where} | {tool} | - | failed: {r['error'][:120]} ||||| |")
                continue
            for key, n in (("single_ms", 1), ("batch_ms", 100)):
                ms = r[key]
                lines.append(
                    f"| {where} | {tool} | {n} | {len(ms):,} | {pct(ms, 50):.3f} | "
                    f"{pct(ms, 99):.3f} | {statistics.fmean(ms):.3f} | {r['other']:.0%} |"
                )
    return lines


def aims(training: list[dict[str, Any]], mat: list[dict[str, Any]], local: Any, http: Any) -> Any:
    """Measured against each aim, in words: met / not met."""

    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    out = ["Aims (measured, not asserted):", ""]
    for tag in dict.fromkeys(r["tag"] for r in training):
        base = next((r for r in training if r["tag"] == tag and r["tool"] == "assay"), None)
        duck = next((r for r in training if r["tag"] == tag and r["tool"] == "feast-duckdb"), None)
        if base and duck and base["times"] and duck["times"]:
            ratio = statistics.median(duck["times"]) / statistics.median(base["times"])
            found = duck.get("compare", {})
            same = (
                found.get("mismatches") == 0 and not found.get("missing") and not found.get("extra")
            )
            out.append(
                f"- Training set {base['rows']:,} x {base['entities']:,}: >= "
                f"{AIM_TRAIN_RATIO:.0f}x faster than Feast DuckDB with equal results; measured "
                f"{ratio:.1f}x, results {'equal' if same else 'NOT equal'} "
                f"({verdict(ratio >= AIM_TRAIN_RATIO and same)})."
            )
    assay_mat = next((m for m in mat if m["tool"] == "assay" and "seconds" in m), None)
    if assay_mat:
        rate = assay_mat["entities"] / assay_mat["seconds"]
        out.append(
            f"- Materialization >= {AIM_MAT_RATE:,} entities/s: measured {rate:,.0f} "
            f"({verdict(rate >= AIM_MAT_RATE)})."
        )
    for where, results, aim in (
        ("in-process", local, AIM_P99_LOCAL_MS),
        ("over HTTP", http, AIM_P99_HTTP_MS),
    ):
        r = results.get("assay", {})
        if "single_ms" in r:
            p99 = pct(r["single_ms"], 99)
            out.append(
                f"- Online p99, one entity x 10 features, {where} < {aim:g} ms: measured "
                f"{p99:.3f} ms ({verdict(p99 < aim)})."
            )
    return out


START, END = "<!-- features-bench:start -->", "<!-- features-bench:end -->"


def report(
    bench: Bench,
    training: list[dict[str, Any]],
    mat: list[dict[str, Any]],
    local: dict[str, Any],
    http: dict[str, Any],
    versions: dict[str, str],
) -> str:
    samples = {
        f"{w} {t}": r.get("sample", [])
        for w, d in (("local", local), ("http", http))
        for t, r in d.items()
    }
    local_diff = sample_mismatches(samples["local assay"], samples["local feast"])
    http_diff = sample_mismatches(samples["http assay"], samples["http feast"])
    n = len(samples["local assay"])
    equal = (
        f"Online values after materialization, {n:,} sampled entities: assay and Feast differ "
        f"on {local_diff} in-process and {http_diff} over HTTP."
    )
    args = bench.args
    load_now = os.getloadavg()[0]
    lines = [
        START,
        "## Feature store: assay vs Feast",
        "",
        "`python benchmarks/features_vs_feast.py"
        + (" --large" if args.large else "")
        + "` (`make bench-features`). Same seeded data for both, each step in its own child "
        "process; Feast in its own virtualenv.",
        "",
        f"Machine: {os.cpu_count()} cores; Python {sys.version.split()[0]}; "
        + "; ".join(f"{k} {v}" for k, v in versions.items())
        + f"; recorded {time.strftime('%Y-%m-%d')}; 1-minute load average "
        f"{bench.load_at_start:.2f} at the start, {load_now:.2f} at the end.",
        "",
        "### Training sets (point-in-time join, 10 features, TTL 30 days)",
        "",
        *train_lines(training),
        "",
        "### Materialization into the SQLite online store",
        "",
        *materialize_lines(mat, equal),
        "",
        "### Online latency (10 features of one view)",
        "",
        *latency_lines(local, http),
        "",
        *aims(training, mat, local, http),
        "",
        "Training time: the call to the result as an Arrow table (`training_set(...)`,",
        "`get_historical_features(...).to_arrow()`), entity frame already in memory (Arrow for",
        f"assay, pandas for Feast); median of up to {args.repeat} runs in one process (fewer when",
        f"they pass {args.repeat_budget:.0f} s). Feast's file store is stopped after "
        f"{args.file_timeout:.0f} s or {args.memory_cap_gib:g} GiB.",
        "Entity rows: 5% of keys have no features; timestamps over 90 days, so some rows",
        "precede their card's first feature row or fall past the TTL. 1% of feature rows",
        "repeat a card and event time with a later created time (the tie-breaker).",
        "Online: SQLite online stores; in-process = the Python call returning dicts;",
        "HTTP = one keep-alive httpx client on loopback, JSON in and out, after warm-up.",
        "Other CPU: the share of the machine's CPU that processes outside the benchmark used",
        "during the step (each step waits for an idle machine first, up to "
        f"{args.idle_wait:.0f} s, and is rerun up to {args.retries} times when this passes "
        f"{IDLE_SHARE:.0%}); above a few % the step's numbers are disturbed.",
        "assay's app runs under uvicorn with the access log off, as does `feast serve",
        "--no-access-log` (gunicorn, 1 worker); `assay serve (CLI)` is the command as shipped.",
        "Feast's file (dask) store, checked on this data: it drops entity rows whose key has",
        "feature rows but none within the TTL (rows with unknown keys are kept, with nulls),",
        "and on equal event times keeps the earlier created row: every differing row is such",
        "a tie. Feast's DuckDB store agrees with assay on every row.",
        END,
    ]
    return "\n".join(lines)


def write_section(body: str) -> None:
    """Replace this benchmark's marked block; the rest of RESULTS.md stays as it is."""
    replace_block(HERE / "RESULTS.md", body, START, END)


def versions(bench: Bench) -> dict[str, str]:
    from importlib.metadata import version

    result = bench.path("results", "versions.json")
    bench.feast("versions", str(result))
    feast = load(result) if result.exists() else {}
    commit = subprocess.run(
        ["git", "-C", str(HERE), "describe", "--always", "--dirty"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "assay": f"{version('assay')} ({commit or 'commit unknown'})",
        "duckdb (assay)": version("duckdb"),
        "pyarrow": version("pyarrow"),
        **{k if k != "duckdb" else "duckdb (Feast)": v for k, v in feast.items() if k != "pyarrow"},
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in CHILDREN:
        CHILDREN[sys.argv[1]](*sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--large", action="store_true", help="also 10M feature rows x 1M entities")
    parser.add_argument("--repeat", type=int, default=3, help="training runs per tool (median)")
    parser.add_argument(
        "--repeat-budget", type=float, default=60, help="seconds; fewer runs past it"
    )
    parser.add_argument("--file-timeout", type=float, default=600, help="Feast file store, s")
    parser.add_argument("--memory-cap-gib", type=float, default=16)
    parser.add_argument(
        "--retries", type=int, default=2, help="reruns of a step that others' CPU use disturbed"
    )
    parser.add_argument(
        "--idle-wait", type=float, default=120, help="max seconds to wait for an idle machine"
    )
    parser.add_argument("--online-entities", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=3000, help="single-entity requests")
    parser.add_argument("--batch-requests", type=int, default=1000, help="requests of 100")
    parser.add_argument("--work", type=Path, default=HERE / "work")
    parser.add_argument("--no-write", action="store_true", help="print, do not touch RESULTS.md")
    args = parser.parse_args()
    feast_python = ensure_feast_venv(args.work / "feast-venv")
    work = args.work / "features"
    shutil.rmtree(work, ignore_errors=True)
    for sub in ("data", "results", "out", "logs"):
        (work / sub).mkdir(parents=True)
    bench = Bench(args, work, feast_python)
    tags = ["1m", "10m"] if args.large else ["1m"]
    save(bench.spec_path, make_spec(args, work, tags))
    began = time.monotonic()
    for step, what in (("_generate", "generating data"), ("_build", "building the assay project")):
        console.print(f"{what} ...")
        outcome = bench.assay(step)
        if outcome.error:
            raise SystemExit(f"{step} failed: {outcome.error}")
        console.print(f"  {outcome.wall:.1f} s")
    training = [run for tag in tags for run in train_size(bench, tag)]
    mat = materialize(bench)
    local = online_in_process(bench)
    http = online_http(bench)
    body = report(bench, training, mat, local, http, versions(bench))
    print(body)
    console.print(f"total {time.monotonic() - began:.0f} s")
    if not args.no_write:
        write_section(body)


if __name__ == "__main__":
    main()
