"""Benchmark: the fraud pipeline on assay (DuckDB), assay (Spark) and hand-written PySpark.

For each size, the seeded fraud data is generated once (examples/fraud/generate.py,
`generate(folder, through_day=90, n_transactions=N)`), then three sides run, each in its own
fresh child process over its own copy of that data (a cold build: empty warehouse):

1. assay-duckdb: `assay.Project(dir, engine="duckdb").run()` on the fraud example's
   pipelines (bronze.py, the silver and gold SQL files, gold_merchant_daily.py; not its
   contracts or streams);
2. assay-spark: the same project with `engine="spark"` (local[*]; the Delta jars from
   ASSAY_SPARK_JARS, the folder `scripts/jars/resolve spark` prints);
3. handwritten: benchmarks/spark_handwritten.py, the same work as one plain PySpark job
   (raw files -> bronze Delta -> silver -> gold, Spark's own Delta writer) with the same
   master and driver memory as assay's Spark session.

Measured per side: wall time of the child process (imports, JVM and Spark session included),
raw transactions per second (lines of the transaction files / wall time), and peak memory:
the largest sum of the resident set sizes of the child's process tree (Spark's JVM is a
grandchild), sampled every 0.2 s with psutil (a process forked by the JVM to run a shell
command is not counted before it execs: until then it shares the JVM's pages). Afterwards
every side's silver and gold tables are read back (deltalake + DuckDB): row counts, column
names and types, and an order-insensitive checksum (the sum of a hash of each row, doubles
rounded to 6 decimals).

Each side waits (up to --idle-wait s) for other processes to use under 10% of the
machine's CPU, and runs again (up to --reruns times) if they used more meanwhile; the share
is reported. Rewrites the `spark` block of benchmarks/RESULTS.md after each size.

Usage: python benchmarks/spark_vs_duckdb.py [--sizes 1000000,3000000,10000000]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from machine import IDLE_SHARE, machine_cpu, other_share, self_cpu, wait_for_idle
from results_file import replace_block

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
EXAMPLE = REPO / "examples" / "fraud"
HANDWRITTEN = HERE / "spark_handwritten.py"
RESOLVE = REPO / "scripts" / "jars" / "resolve"
#: The fraud example's batch pipeline (live.py is a stream: `assay run` leaves it alone).
PIPELINE_FILES = [
    "bronze.py",
    "silver_transactions.sql",
    "silver_chargebacks.sql",
    "silver_dimensions.sql",
    "gold_card_daily.sql",
    "gold_merchant_daily.py",
]
SIDES = ["assay-duckdb", "assay-spark", "handwritten"]
CHECKED = [
    "silver.transactions",
    "silver.chargebacks",
    "silver.customers",
    "gold.card_daily",
    "gold.merchant_daily",
]
GOLD = [t for t in CHECKED if t.startswith("gold.")]
START, END = "<!-- spark-bench:start -->", "<!-- spark-bench:end -->"
#: The aim the numbers are read against (reported, never asserted).
AIM_RATIO = 1.10
GIB = 1024**3


# -- children -----------------------------------------------------------------------------


def child_assay(engine: str, project: str, result_path: str) -> None:
    """Run the project on `engine`; record per-dataset seconds and Spark's start-up."""
    began = time.time()
    import assay

    session: dict[str, float] = {}
    if engine == "spark":
        # Time the first call of spark_session (JVM start and session creation); the
        # engine module imported it by name, so wrap it there.
        import assay.engines.spark.engine as spark_engine

        original = spark_engine.spark_session

        def timed(*args: Any, **kwargs: Any) -> Any:
            if "seconds" in session:
                return original(*args, **kwargs)
            t0 = time.time()
            try:
                return original(*args, **kwargs)
            finally:
                session["seconds"] = time.time() - t0

        spark_engine.spark_session = timed  # type: ignore[assignment]
    imported = time.time()
    result = assay.Project(project, engine=engine).run()
    if not result.ok:
        raise SystemExit("; ".join(f"{f.dataset}: {f.error}" for f in result.failed))
    done = time.time()
    Path(result_path).write_text(
        json.dumps(
            {
                "began": began,
                "imported": imported,
                "done": done,
                "session_s": session.get("seconds"),
                "datasets": {
                    r.dataset: {
                        "seconds": r.seconds,
                        "rows_written": r.rows_written,
                        "rows_quarantined": r.rows_quarantined,
                        "commits": r.commits,
                    }
                    for r in result.results
                },
            }
        )
    )


def child_generate(folder: str, n: str) -> None:
    sys.path.insert(0, str(EXAMPLE))
    import generate

    print(generate.generate(Path(folder), through_day=90, n_transactions=int(n)))


CHILDREN = {"_assay": child_assay, "_generate": child_generate}


# -- machine and processes ----------------------------------------------------------------


class Measured:
    """A child process in its own session, its output to a log. Samples its process tree
    every 0.2 s: the sum of the RSS of every process in it (the peak is kept) and their
    CPU time (to tell what other processes on the machine used meanwhile)."""

    def __init__(self, cmd: list[str], log: Path, env: dict[str, str] | None = None):
        self.log = log
        self.cpu_before, self.self_before = machine_cpu(), self_cpu()
        self.out = log.open("w")
        self.began = time.monotonic()
        self.proc = subprocess.Popen(
            cmd, stdout=self.out, stderr=subprocess.STDOUT, start_new_session=True, env=env
        )
        self.cpu_seen: dict[int, float] = {}
        self.peak_rss = 0
        #: Each process's RSS at the peak ("name:pid" -> bytes).
        self.peak_parts: dict[str, int] = {}

    def _sample(self) -> None:
        """One sample of the tree. A process forked but not yet exec'd (the JVM runs shell
        commands for Hadoop's file system; it shows up under a thread's name with its
        parent's command line) shares its parent's pages: its RSS is not added again."""
        import psutil

        seen: dict[int, tuple[int, list[str], str, int]] = {}
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(self.proc.pid)
            for proc in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    with proc.oneshot():
                        rss = proc.memory_info().rss
                        times = proc.cpu_times()
                        seen[proc.pid] = (proc.ppid(), proc.cmdline(), proc.name(), rss)
                    self.cpu_seen[proc.pid] = times.user + times.system
        parts: dict[str, int] = {}
        for pid, (ppid, cmdline, name, rss) in seen.items():
            parent = seen.get(ppid)
            if pid != self.proc.pid and parent is not None and parent[1] == cmdline:
                continue  # a fork of its parent, not yet exec'd
            parts[f"{name}:{pid}"] = rss
        if sum(parts.values()) > self.peak_rss:
            self.peak_rss, self.peak_parts = sum(parts.values()), parts

    def wait(self, timeout: float) -> dict[str, Any]:
        """Wall seconds, peak RSS, other CPU share; {"timed_out": True, ...} past `timeout`."""
        deadline = self.began + timeout
        timed_out = False
        try:
            while True:
                pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    _, status, usage = os.wait4(self.proc.pid, 0)
                    timed_out = True
                    break
                self._sample()
                time.sleep(0.2)
        finally:
            self.out.close()
        wall = time.monotonic() - self.began
        if not timed_out:
            # The process group may still hold the JVM for a moment after Python exits.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        code = os.waitstatus_to_exitcode(status)
        tree = max(usage.ru_utime + usage.ru_stime, sum(self.cpu_seen.values()))
        other = other_share(self.cpu_before, tree + self_cpu() - self.self_before)
        if code and not timed_out:
            tail = self.log.read_text()[-3000:]
            raise SystemExit(f"{self.log.name} failed ({code}):\n{tail}")
        return {
            "wall_s": wall,
            "peak_rss": self.peak_rss,
            "peak_parts": self.peak_parts,
            "cpu_s": tree,
            "other": other,
            "timed_out": timed_out,
        }


# -- setup ----------------------------------------------------------------------------------


def spark_jars_folder() -> str:
    folder = os.environ.get("ASSAY_SPARK_JARS")
    if not folder:
        out = subprocess.run([str(RESOLVE), "spark"], check=True, capture_output=True, text=True)
        folder = out.stdout.strip()
    if not list(Path(folder).glob("delta-spark_*.jar")):
        raise SystemExit(f"no delta-spark jar in {folder} (see scripts/jars/resolve spark)")
    return folder


def handwritten_conf(jars_folder: str) -> dict[str, str]:
    """The hand-written job's session: the master, driver memory and shuffle partitions of
    assay's Spark session defaults, Delta Lake, UTC and naive timestamps."""
    from assay.engines.spark.session import session_defaults

    assay_defaults = session_defaults({"spark.jars": "-"})
    jars = sorted(str(p) for p in Path(jars_folder).glob("*.jar"))
    return {
        "spark.master": assay_defaults["spark.master"],
        "spark.driver.memory": assay_defaults["spark.driver.memory"],
        "spark.sql.shuffle.partitions": assay_defaults["spark.sql.shuffle.partitions"],
        "spark.jars": ",".join(jars),
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.timestampType": "TIMESTAMP_NTZ",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
    }


def generated(n: int, work: Path) -> Path:
    """The generated raw files for `n` transactions (made once, reused by later runs)."""
    root = work / f"data_{n}"
    if not (root / ".complete").exists():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        print(f"generating {n:,} transactions ...", flush=True)
        subprocess.run([sys.executable, __file__, "_generate", str(root), str(n)], check=True)
        (root / ".complete").touch()
    return root


def fresh_project(side: str, n: int, data_root: Path, work: Path) -> Path:
    """A project folder of its own: the example's pipeline, a copy of the data, no warehouse."""
    project = work / f"{side}_{n}"
    shutil.rmtree(project, ignore_errors=True)
    (project / "pipelines").mkdir(parents=True)
    shutil.copy(EXAMPLE / "assay.yaml", project / "assay.yaml")
    for name in PIPELINE_FILES:
        shutil.copy(EXAMPLE / "pipelines" / name, project / "pipelines" / name)
    shutil.copytree(data_root / "data", project / "data")
    return project


def transaction_lines(data_root: Path) -> int:
    return sum(
        sum(1 for _ in p.open("rb")) for p in (data_root / "data" / "transactions").glob("*.jsonl")
    )


# -- running ----------------------------------------------------------------------------------


def run_side(side: str, project: Path, args: argparse.Namespace, env: dict[str, str]) -> Any:
    result_path = project / "bench_result.json"
    if side == "handwritten":
        spec = {"project": str(project), "conf": handwritten_conf(env["ASSAY_SPARK_JARS"])}
        (project / "bench_spec.json").write_text(json.dumps(spec, indent=1))
        cmd = [sys.executable, str(HANDWRITTEN), str(project / "bench_spec.json")]
        cmd.append(str(result_path))
        child_env = {
            **env,
            "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable,
            "SPARK_LOCAL_IP": "127.0.0.1",
        }
    else:
        engine = side.removeprefix("assay-")
        cmd = [sys.executable, __file__, "_assay", engine, str(project), str(result_path)]
        child_env = env
    log = project.parent / f"{project.name}.log"
    wait_for_idle(args.idle_wait)
    measured = Measured(cmd, log, env=child_env).wait(args.timeout)
    if not measured["timed_out"]:
        measured["child"] = json.loads(result_path.read_text())
    return measured


def phases(side: str, m: dict[str, Any]) -> dict[str, float | None]:
    """Session start-up and bronze / silver / gold seconds, as the child measured them."""
    child = m.get("child")
    if not child:
        return {}
    if side == "handwritten":
        return {
            "startup": child["session_ready"] - child["began"],
            "bronze": child["bronze_done"] - child["session_ready"],
            "silver": child["silver_done"] - child["bronze_done"],
            "gold": child["gold_done"] - child["silver_done"],
        }
    layers: dict[str, float | None] = {"startup": child.get("session_s")}
    for layer in ("bronze", "silver", "gold"):
        layers[layer] = sum(
            d["seconds"] for name, d in child["datasets"].items() if name.startswith(layer + ".")
        )
    return layers


def table_facts(warehouse: Path) -> dict[str, Any]:
    """Per checked table: rows, sorted (column, type) pairs and an order-insensitive
    checksum (the sum of a hash of each row; doubles rounded to 6 decimals)."""
    import duckdb
    from deltalake import DeltaTable

    facts: dict[str, Any] = {}
    for name in CHECKED:
        path = warehouse / name.replace(".", "/")
        if not path.exists():
            continue
        con = duckdb.connect()
        con.register("t", DeltaTable(str(path)).to_pyarrow_dataset())
        columns = sorted((c, t) for c, t, *_ in con.execute("DESCRIBE SELECT * FROM t").fetchall())
        parts = [f"round({c}, 6)" if t in ("DOUBLE", "FLOAT") else c for c, t in columns]
        rows, checksum = con.execute(
            f"SELECT count(*), coalesce(sum(hash({', '.join(parts)})), 0)::VARCHAR FROM t"
        ).fetchone()
        facts[name] = {"rows": rows, "columns": columns, "checksum": checksum}
        con.close()
    return facts


def compare(facts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per table: do the sides that finished agree (rows, schema, checksum)?"""
    base = facts["assay-duckdb"]
    out: dict[str, Any] = {}
    for name in CHECKED:
        verdict = {}
        for side in SIDES[1:]:
            other = facts.get(side, {}).get(name)
            if other is None or name not in base:
                verdict[side] = "missing"
            elif other["rows"] != base[name]["rows"]:
                verdict[side] = f"rows differ ({other['rows']:,} vs {base[name]['rows']:,})"
            elif other["columns"] != base[name]["columns"]:
                verdict[side] = "column types differ"
            elif other["checksum"] != base[name]["checksum"]:
                verdict[side] = "checksum differs"
            else:
                verdict[side] = "same"
        out[name] = {"rows": base.get(name, {}).get("rows"), "verdict": verdict}
    return out


def measure_side(
    side: str, n: int, data_root: Path, args: argparse.Namespace, env: dict[str, str], stored: Any
) -> dict[str, Any]:
    """The side's least disturbed run: up to 1 + --reruns runs while other processes use
    more than 10% of the CPU (a stored undisturbed result from --reuse counts as one)."""
    best: dict[str, Any] | None = stored
    if best and "facts" not in best:
        best = None  # from an older version of this script
    if best and (best["timed_out"] or best["other"] <= IDLE_SHARE):
        print(f"{side} on {n:,} transactions: reusing {best['wall_s']:.1f} s", flush=True)
        return best
    for _attempt in range(args.reruns + 1):
        project = fresh_project(side, n, data_root, args.work)
        again = f" (again: other processes used {best['other']:.0%})" if best else ""
        print(f"{side} on {n:,} transactions{again} ...", flush=True)
        code = code_state()
        m = run_side(side, project, args, env)
        m["code"] = code
        if m["timed_out"]:
            print(f"  timed out after {m['wall_s']:.0f} s", flush=True)
        else:
            print(
                f"  {m['wall_s']:.1f} s, peak {m['peak_rss'] / GIB:.2f} GiB, "
                f"other CPU {m['other']:.0%}",
                flush=True,
            )
        if best is None or m["other"] < best["other"]:
            m["phases"] = phases(side, m)
            m.pop("child", None)
            m["facts"] = {} if m["timed_out"] else table_facts(project / "warehouse")
            best = m
        if not args.keep:
            shutil.rmtree(project, ignore_errors=True)
        if m["timed_out"] or m["other"] <= IDLE_SHARE:
            break
    assert best is not None
    return best


def run_size(
    n: int, args: argparse.Namespace, env: dict[str, str], stored: dict[str, Any] | None
) -> dict[str, Any]:
    data_root = generated(n, args.work)
    lines = transaction_lines(data_root)
    sides = {
        side: measure_side(side, n, data_root, args, env, (stored or {}).get(side))
        for side in SIDES
    }
    facts = {side: m["facts"] for side, m in sides.items()}
    return {"n": n, "lines": lines, "sides": sides, "checks": compare(facts)}


# -- writing ------------------------------------------------------------------------------


def code_state() -> str:
    """The commit, and a hash of the working tree's changes to src/ when there are any
    (so that runs on different uncommitted code can be told apart)."""
    commit = subprocess.run(
        ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    diff = subprocess.run(
        ["git", "-C", str(REPO), "diff", "HEAD", "--", "src"], capture_output=True
    ).stdout
    untracked = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "--others", "--exclude-standard", "src"],
        capture_output=True,
        text=True,
    ).stdout.split()
    for name in sorted(untracked):
        with contextlib.suppress(OSError):
            diff += (REPO / name).read_bytes()
    if diff:
        return f"{commit}, src changes {hashlib.sha256(diff).hexdigest()[:8]}"
    return f"{commit} (src/ as committed)" if commit.endswith("-dirty") else commit


def versions() -> str:
    from importlib.metadata import version

    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
    java_version = java.split('"')[1] if '"' in java else "?"
    cpu = platform.processor() or platform.machine()
    return (
        f"{os.cpu_count()} cores ({cpu}); Python {platform.python_version()}; "
        f"duckdb {version('duckdb')}; deltalake {version('deltalake')}; "
        f"pyspark {version('pyspark')}; delta-spark {version('delta-spark')}; "
        f"Java {java_version}"
    )


def fmt(value: float | None, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def crossover(rows: list[dict[str, Any]], side: str) -> int | None:
    for r in rows:
        s, d = r["sides"][side], r["sides"]["assay-duckdb"]
        if not s["timed_out"] and not d["timed_out"] and s["wall_s"] < d["wall_s"]:
            return int(r["n"])
    return None


def render(rows: list[dict[str, Any]], setup: dict[str, Any]) -> str:
    lines = [
        "## Fraud pipeline on Spark: assay (DuckDB), assay (Spark) and hand-written PySpark",
        "",
        "`python benchmarks/spark_vs_duckdb.py` (`make bench-spark`). The fraud example's batch",
        "pipeline (bronze.py, the silver and gold SQL, gold_merchant_daily.py; no contracts)",
        "built cold three ways, each in a fresh child process over its own copy of the same",
        "generated files (`generate(folder, through_day=90, n_transactions=N)`): assay on its",
        "embedded engine (`Project(dir, engine='duckdb').run()`), assay on its Spark engine",
        "(`engine='spark'`), and benchmarks/spark_handwritten.py, the same bronze, silver and",
        "gold as one plain PySpark job writing Delta with Spark's own writer.",
        "",
        f"Machine: {setup['machine']}; recorded "
        f"{setup.get('recorded', time.strftime('%Y-%m-%d'))}; 1-minute load "
        f"average {setup['load_start']:.2f} at the start, "
        f"{setup.get('load_end', os.getloadavg()[0]):.2f} at the end.",
        "",
        _code_line(rows),
        "",
        f"Spark sessions (both Spark sides): {setup['spark_session']}.",
        "",
    ]
    for r in rows:
        n, lines_n = r["n"], r["lines"]
        duck = r["sides"]["assay-duckdb"]
        lines += [
            f"### {n:,} transactions ({lines_n:,} lines)",
            "",
            "| side | wall s | transactions/s | peak GiB (of it JVM) | Spark start-up s | "
            "bronze s | silver s | gold s | time vs assay-duckdb | other CPU | gold tables |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for side in SIDES:
            m = r["sides"][side]
            p = m.get("phases", {})
            if side == "assay-duckdb":
                verdict = "reference"
            else:
                verdicts = {r["checks"][g]["verdict"][side] for g in GOLD}
                verdict = "same" if verdicts == {"same"} else "; ".join(sorted(verdicts))
            if m["timed_out"]:
                lines.append(
                    f"| {side} | > {m['wall_s']:.0f} (stopped) | - | "
                    f"{m['peak_rss'] / GIB:.2f} (so far) | - | - | - | - | - | "
                    f"{m['other']:.0%} | - |"
                )
                continue
            ratio = m["wall_s"] / duck["wall_s"] if not duck["timed_out"] else None
            lines.append(
                f"| {side} | {m['wall_s']:.1f} | {lines_n / m['wall_s']:,.0f} | "
                f"{_peak(m)} | {fmt(p.get('startup'))} | {fmt(p.get('bronze'))} | "
                f"{fmt(p.get('silver'))} | {fmt(p.get('gold'))} | {fmt(ratio, '.2f')}x | "
                f"{m['other']:.0%} | {verdict} |"
            )
        checks = r["checks"]
        lines += [
            "",
            "Rows (assay-duckdb): "
            + ", ".join(f"{t} {checks[t]['rows']:,}" for t in CHECKED if checks[t]["rows"])
            + ". Silver tables: "
            + "; ".join(
                f"{side} " + _agreement({t: checks[t]["verdict"][side] for t in CHECKED[:3]})
                for side in SIDES[1:]
            )
            + ".",
            "",
        ]
    lines += _summary(rows)
    lines += [
        "",
        "wall = the child process from start to exit (imports, JVM and Spark session "
        "included); transactions/s = lines of the raw transaction files (duplicates and "
        "malformed lines included) / wall; peak = the largest sum of the resident memory of "
        "the child's process tree (Python and Spark's JVM), sampled every 0.2 s (the JVM's "
        "short-lived forks for shell commands are not counted twice before they exec). Spark "
        "start-up = creating the SparkSession (JVM start, jars); assay-spark's lies inside its "
        "silver s (its first Spark dataset). bronze / silver / gold = the seconds of each "
        "layer's datasets (assay's run results; the hand-written job's phases). assay-spark "
        "ingests the raw files with DuckDB (assay runs sources on its embedded engine) and "
        "runs the silver and gold SQL on Spark, the incremental datasets in batches of daily "
        "intervals (a commit per batch); the hand-written job builds every table in one pass, "
        "one Spark Delta write per table. Same master, driver memory "
        "and shuffle partitions (assay re-sizes them per query to its input). The hand-written "
        "job drops malformed lines (mode DROPMALFORMED) where assay writes them to a quarantine "
        "table (3 a file), and overwrites silver.customers where assay merges into it (the "
        "same rows on a cold build). Checks: every side's silver and gold Delta tables read "
        "back: row counts, column types and an order-insensitive checksum (sum of a row "
        "hash, doubles rounded to 6 decimals), compared with assay-duckdb's. Other CPU: the "
        "share of the machine's CPU used by other processes during the side (each side "
        "waits for an idle machine first and runs again when this passes 10%).",
    ]
    return "\n".join(lines)


def _peak(m: dict[str, Any]) -> str:
    """Peak GiB of the tree, split into the Python and Java processes when there is a JVM."""
    parts = m.get("peak_parts") or {}
    java = sum(v for k, v in parts.items() if k.split(":")[0] == "java")
    if not java:
        return f"{m['peak_rss'] / GIB:.2f}"
    return f"{m['peak_rss'] / GIB:.2f} (JVM {java / GIB:.2f})"


def _code_line(rows: list[dict[str, Any]]) -> str:
    """Which assay code each measurement ran (the tree may change between runs)."""
    states: dict[str, list[str]] = {}
    for r in rows:
        for side in SIDES:
            code = r["sides"][side].get("code", "?")
            states.setdefault(code, []).append(f"{side} {r['n']:,}")
    if len(states) == 1:
        return f"assay code: {next(iter(states))}."
    return (
        "assay code per measurement (it changed between runs): "
        + "; ".join(f"{code}: {', '.join(where)}" for code, where in states.items())
        + "."
    )


def _agreement(verdicts: dict[str, str]) -> str:
    bad = {t: v for t, v in verdicts.items() if v != "same"}
    if not bad:
        return "same"
    return ", ".join(f"{t}: {v}" for t, v in bad.items())


def _summary(rows: list[dict[str, Any]]) -> list[str]:
    out = ["Aims and findings (measured, not asserted):", ""]
    for side in ("assay-spark", "handwritten"):
        size = crossover(rows, side)
        label = "assay on Spark" if side == "assay-spark" else "hand-written PySpark"
        largest = max(r["n"] for r in rows)
        out.append(
            f"- Crossover, {label} faster than assay on DuckDB: "
            + (f"from {size:,} transactions." if size else f"none up to {largest:,}.")
        )
    for r in rows:
        a, h = r["sides"]["assay-spark"], r["sides"]["handwritten"]
        if a["timed_out"] or h["timed_out"]:
            out.append(f"- {r['n']:,}: assay-spark / hand-written not measured (a side stopped).")
            continue
        ratio = a["wall_s"] / h["wall_s"]
        met = "met" if ratio <= AIM_RATIO else "**not met**"
        out.append(
            f"- {r['n']:,}: assay-spark / hand-written PySpark wall time **{ratio:.2f}x** "
            f"(aim: within {AIM_RATIO - 1:.0%}; {met}); peak memory "
            f"{a['peak_rss'] / max(h['peak_rss'], 1):.2f}x."
        )
    return out


def write_section(path: Path, text: str) -> None:
    replace_block(path, f"{START}\n{text.strip()}\n{END}", START, END)


def parse_sizes(values: list[str]) -> list[int]:
    return [int(v.replace("_", "")) for value in values for v in value.split(",") if v]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in CHILDREN:
        CHILDREN[sys.argv[1]](*sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        nargs="+",
        default=["1000000,3000000,10000000"],
        help="transactions to generate, comma-separated (default 1000000,3000000,10000000)",
    )
    parser.add_argument("--work", type=Path, default=HERE / "work" / "spark_bench")
    parser.add_argument("--timeout", type=float, default=1500, help="per side, seconds")
    parser.add_argument("--idle-wait", type=float, default=600)
    parser.add_argument("--reruns", type=int, default=1, help="when other CPU passes 10%%")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="reuse undisturbed results of earlier runs (work/results.json); rerun the rest",
    )
    parser.add_argument("--keep", action="store_true", help="keep each side's project folder")
    parser.add_argument("--no-write", action="store_true", help="leave RESULTS.md alone")
    parser.add_argument(
        "--render",
        action="store_true",
        help="only rewrite the block from the sizes' saved results (work/results.json)",
    )
    args = parser.parse_args()
    if args.render:
        saved_file = json.loads((args.work.resolve() / "results.json").read_text())
        by_size = {int(r["n"]): r for r in saved_file["rows"]}
        text = render([by_size[n] for n in parse_sizes(args.sizes)], saved_file["setup"])
        write_section(HERE / "RESULTS.md", text)
        print(text)
        return
    args.work = args.work.resolve()
    args.work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "ASSAY_SPARK_JARS": spark_jars_folder()}
    conf = handwritten_conf(env["ASSAY_SPARK_JARS"])
    setup = {
        "load_start": os.getloadavg()[0],
        "recorded": time.strftime("%Y-%m-%d"),
        "machine": versions(),
        "spark_session": f"{conf['spark.master']}, driver memory {conf['spark.driver.memory']}, "
        f"{conf['spark.sql.shuffle.partitions']} shuffle partitions, adaptive execution on",
    }
    saved_path = args.work / "results.json"
    saved: dict[str, Any] = {}
    if saved_path.exists():
        saved = {str(r["n"]): r for r in json.loads(saved_path.read_text()).get("rows", [])}
    rows: list[dict[str, Any]] = []
    for n in parse_sizes(args.sizes):
        stored = saved.get(str(n), {}).get("sides") if args.reuse else None
        rows.append(run_size(n, args, env, stored))
        saved[str(n)] = rows[-1]
        setup["load_end"] = os.getloadavg()[0]
        saved_path.write_text(json.dumps({"setup": setup, "rows": list(saved.values())}))
        text = render(rows, setup)
        if not args.no_write:
            write_section(HERE / "RESULTS.md", text)
    print(text)


if __name__ == "__main__":
    main()
