"""Benchmark: assay's embedded stream against Spark Structured Streaming, Kafka to Delta.

1. Catch-up throughput. N JSON events ({"event_id", "card_id", "amount", "event_time"};
   default 1M events over 100k cards, event times spread over 2 hours) are produced to a
   fresh 3-partition topic on the local broker (scripts/services/kafka) before either
   consumer starts. Then, each in its own child process on the same topic:
   - assay: `project.stream("bronze.events", until_idle=True)` of an `assay.kafka` stream
     with a 1-minute tumbling window by card_id (count, sum(amount)), 30 minutes allowed
     lateness: raw rows to the Delta table bronze.events, closed windows to silver.card_1m;
   - Spark (local[2]): Kafka source -> from_json -> Delta through foreachBatch, and the same
     window (withWatermark 30 minutes, append mode) to a second Delta table; see
     benchmarks/streaming_spark_side.py. Spark runs in its own virtualenv
     (benchmarks/work/spark-venv, made on first use); its Kafka and Delta jars come from
     Maven Central through scripts/jars/resolve spark (scripts/jars/spark/pom.xml).
   events/s = N / (process start -> the child has committed every row and every closed
   window and returns); startup (process start -> ready to consume: imports and project
   load, or JVM and Spark session) is also reported on its own. Afterwards both sides' Delta
   tables are read back (deltalake): N distinct events each, and identical window tables.
3. Restart after kill -9 (assay only): `assay stream` (the CLI) reads a backlog; after it
   has committed, it is killed with SIGKILL and started again at once, --restart-kills
   times; measured: the new process's start to its first commit in the Delta log (process
   start, imports and project load included), for a stream without windows (a consumer
   group: static membership, so the broker hands the restarted member its partitions back)
   and one with windows (one process, which assigns itself every partition).
2. Latency (assay only): a stream whose window serves its aggregates online (entity=card,
   SQLite online store) runs while events are produced at a steady rate (default 10,000/s
   for 30 s, event_time = the moment of producing, UTC), timed so that a minute boundary
   plus the allowed lateness (5 s here) falls inside the run and windows close and go online
   during it. Per event: event-to-committed latency = the time the stream's `on_batch`
   callback saw the event's micro-batch finished (Delta commits of rows and windows, online
   upsert of the windows it closed, Kafka offset commit) minus the event's produce time.
   Also per batch, the same for its newest event only, and for the closed windows: upserted
   online minus the moment they could close (window end + allowed lateness). One run per
   --latency-batch-seconds value (default 1.0, assay's default, and 0.25).

Each measured step waits (up to --idle-wait s) for other processes to use under 10% of the
machine's CPU, and runs again (--retries) if they used more meanwhile; the share is
reported. The local Kafka broker's CPU counts as the benchmark's own.

Usage: python benchmarks/streaming_vs_spark.py [--events 1000000] [--no-spark] [--no-write]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from machine import IDLE_SHARE, machine_cpu, other_share, self_cpu, wait_for_idle
from results_file import replace_block

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SPARK_SIDE = HERE / "streaming_spark_side.py"
KAFKA = REPO / "scripts" / "services" / "kafka"
RESOLVE = REPO / "scripts" / "jars" / "resolve"
#: Must match scripts/jars/spark/pom.xml (spark.version, delta.version).
SPARK_REQUIREMENTS = ["pyspark==4.0.0", "delta-spark==4.0.0"]
T0 = datetime(2026, 3, 1)
START, END = "<!-- streaming-bench:start -->", "<!-- streaming-bench:end -->"
#: Aims the numbers are read against (reported, never asserted).
AIM_RATE, AIM_P99_S, AIM_LATENCY_RATE = 100_000, 2.0, 10_000

PIPELINE = """
import assay
from assay import Aggregation, Entity

card = Entity("card", join_keys=["card_id"])
events = assay.kafka(
    "bronze.events", topic={topic!r}, bootstrap_servers={bootstrap!r},
    timestamp="event_time", key="event_id",
    columns={{"event_id": "BIGINT", "card_id": "BIGINT", "amount": "DOUBLE"}},
    max_batch_rows={batch_rows}, max_batch_seconds={batch_seconds},
    windows=[assay.window("silver.card_1m", keys=["card_id"], window=assay.tumbling("1m"),
                          aggregations=[Aggregation(function="count"),
                                        Aggregation("amount", "sum")],
                          allowed_lateness="{lateness}s", entity={entity})],
)
"""


def load(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def save(path: str | Path, value: Any) -> None:
    Path(path).write_text(json.dumps(value, default=str))


# -- children (assay side, run with this interpreter) ----------------------------------------


def child_catchup(spec_path: str, result_path: str) -> None:
    """Stream the topic until idle; record when it was ready and when it finished."""
    spec = load(spec_path)
    import assay

    project = assay.Project(spec["root"])
    ready = time.time()
    phases = instrument()
    batches: list[dict[str, Any]] = []

    def on_batch(stats: Any) -> None:
        batches.append(
            {
                "done": time.time(),
                "seconds": stats.seconds,
                "rows": stats.rows_in,
                "windows": stats.windows_emitted,
                "late": stats.late,
            }
        )

    profile = None
    if spec.get("profile"):
        import cProfile

        profile = cProfile.Profile()
        profile.enable()
    totals = project.stream("bronze.events", until_idle=True, on_batch=on_batch)
    done = time.time()
    if profile is not None:
        profile.disable()
        profile.dump_stats(spec["profile"])
    save(
        result_path,
        {
            "ready": ready,
            "done": done,
            "batches": batches,
            "rows_in": totals.rows_in,
            "written": totals.written,
            "dead_lettered": totals.dead_lettered,
            "late": totals.late,
            "windows": totals.windows_emitted,
            "phases": phases,
        },
    )


#: Where the catch-up's time goes: assay functions timed (wall seconds, summed over calls).
PHASES = {
    "poll": ("assay.streaming.readers", "KafkaReader", "poll"),
    "records_table": ("assay.streaming.readers", None, "records_table"),
    "caught_up": ("assay.streaming.readers", "KafkaReader", "caught_up"),
    "acknowledge": ("assay.streaming.readers", "KafkaReader", "acknowledge"),
    "process": ("assay.streaming.runner", "StreamRunner", "process"),
    "validate": ("assay.streaming.validate", "RecordValidator", "split"),
    "commit_rows": ("assay.streaming.runner", "StreamRunner", "_commit_rows"),
    "windows": ("assay.streaming.windowing", "Windows", "_fold"),
    "online": ("assay.streaming.windowing", "Windows", "_online"),
}


def instrument() -> dict[str, float]:
    """Wrap the functions of PHASES with timers (a few hundred calls in all: no measurable
    overhead, unlike cProfile's on the per-message loop). Returns the live totals."""
    import importlib

    totals = dict.fromkeys(PHASES, 0.0)
    for phase, (module_name, owner_name, attr) in PHASES.items():
        module = importlib.import_module(module_name)
        owner = getattr(module, owner_name) if owner_name else module
        original = getattr(owner, attr)

        def timed(*a: Any, _f: Any = original, _p: str = phase, **k: Any) -> Any:
            began = time.perf_counter()
            try:
                return _f(*a, **k)
            finally:
                totals[_p] += time.perf_counter() - began

        setattr(owner, attr, timed)
    return totals


class _Enough(Exception):
    """Raised from on_batch to stop the stream once every produced event was processed."""


def child_latency(spec_path: str, result_path: str) -> None:
    """Stream (forever) until the expected number of events went through; then work out
    each event's latency from the table's offsets and the batches' finishing times."""
    spec = load(spec_path)
    import numpy as np
    import pyarrow.compute as pc

    import assay

    project = assay.Project(spec["root"])
    phases = instrument()
    batches: list[dict[str, Any]] = []
    seen = 0
    last = dict(phases)

    def on_batch(stats: Any) -> None:
        nonlocal seen, last
        spent = {k: v - last[k] for k, v in phases.items()}
        last = dict(phases)
        wm = stats.watermark
        batches.append(
            {
                "done": time.time(),
                "seconds": stats.seconds,
                "rows": stats.rows_in,
                "windows": stats.windows_emitted,
                "late": stats.late,
                "positions": stats.positions,
                "poll": spent["poll"],
                "acknowledge": spent["acknowledge"],
                "windows_s": spent["windows"],
                "online_s": spent["online"],
                "watermark": wm.replace(tzinfo=UTC).timestamp() if wm is not None else None,
            }
        )
        seen += stats.rows_in
        if seen >= spec["events"]:
            raise _Enough

    with contextlib.suppress(_Enough):
        project.stream("bronze.events", on_batch=on_batch)

    # Each event's batch: the first batch whose last offset of its partition covers it.
    rows = project.warehouse.dataset("bronze.events").to_table(
        columns=["_partition", "_offset", "event_time"]
    )
    produced = pc.cast(rows["event_time"], "int64").to_numpy() / 1e6  # naive UTC, micros
    parts = rows["_partition"].to_numpy(zero_copy_only=False)
    offsets = rows["_offset"].to_numpy()
    done = np.array([b["done"] for b in batches])
    finished = np.full(len(offsets), np.nan)
    for part in np.unique(parts):
        ends = np.array([b["positions"].get(part, -1) for b in batches])
        covered = np.maximum.accumulate(ends)  # last offset committed after each batch
        mine = parts == part
        finished[mine] = done[np.searchsorted(covered, offsets[mine], side="left")]
    latency = finished - produced
    newest = []  # per batch: its newest event's latency
    batch_of = np.searchsorted(done, finished)
    for i in range(len(batches)):
        stamps = produced[batch_of == i]
        if len(stamps):
            newest.append(float(done[i] - stamps.max()))
    # Closed windows: online when their batch finished; could close at end + lateness.
    windows = project.sql(
        "SELECT epoch_us(window_end) AS e, count(*) AS n FROM silver.card_1m GROUP BY 1 ORDER BY 1"
    ).to_pylist()
    closes = []
    for w in windows:
        end = w["e"] / 1e6
        batch = next(b for b in batches if b["watermark"] is not None and b["watermark"] >= end)
        closes.append(
            {
                "window_end": end,
                "windows": w["n"],
                "online_after": batch["done"] - end - spec["lateness"],
            }
        )
    # The online store answers with the window table's values (a sample of cards).
    sample = project.sql(
        "SELECT card_id, window_end, count, amount_sum FROM silver.card_1m "
        "QUALIFY row_number() OVER (PARTITION BY card_id ORDER BY window_end DESC) = 1 "
        "ORDER BY hash(card_id) LIMIT 1000"
    ).to_pylist()
    wrong = 0
    for row in sample:
        [served] = project.features.online(
            [{"card_id": row["card_id"]}],
            ["card_1m:count", "card_1m:amount_sum"],
            now=row["window_end"],
        )
        if (
            served["count"]["value"] != row["count"]
            or abs(served["amount_sum"]["value"] - row["amount_sum"]) > 1e-6
        ):
            wrong += 1
    save(
        result_path,
        {
            "latency": latency.tolist(),
            "produced": produced.tolist(),
            "newest": newest,
            "closes": closes,
            "online_checked": len(sample),
            "online_wrong": wrong,
            "batches": batches,
            "late": int(sum(b["late"] for b in batches)),
        },
    )


CHILDREN = {"_catchup": child_catchup, "_latency": child_latency}


# -- machine and processes ----------------------------------------------------------------


def broker_cpu() -> float:
    """CPU seconds of the local Kafka broker (a JVM running kafka.Kafka), 0 if not found."""
    import psutil

    for proc in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if "kafka.Kafka" in (proc.info["cmdline"] or []):
                times = proc.cpu_times()
                return float(times.user + times.system)
    return 0.0


class Child:
    """A child process in its own session, its output to a log; stopped past a timeout.
    Tracks the CPU time of its whole process tree (Spark's JVM is a grandchild), so that
    what other processes on the machine used meanwhile can be told apart."""

    def __init__(self, cmd: list[str], log: Path, env: dict[str, str] | None = None):
        self.log = log
        self.cpu_before, self.self_before = machine_cpu(), self_cpu()
        self.launched = time.time()
        self.out = log.open("w")
        self.proc = subprocess.Popen(
            cmd, stdout=self.out, stderr=subprocess.STDOUT, start_new_session=True, env=env
        )
        self.seen: dict[int, float] = {}  # pid -> CPU seconds at its last sighting
        self.base = 0.0  # the tree's CPU seconds when the measured part began
        self.broker_before = broker_cpu()

    def mark(self) -> None:
        """The measured part begins now (what the child did before is not counted)."""
        self._sample()
        self.base = sum(self.seen.values())
        self.cpu_before, self.self_before = machine_cpu(), self_cpu()
        self.broker_before = broker_cpu()

    def _sample(self) -> None:
        import psutil

        with contextlib.suppress(psutil.Error):
            root = psutil.Process(self.proc.pid)
            for proc in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    times = proc.cpu_times()
                    self.seen[proc.pid] = times.user + times.system

    def wait(self, timeout: float) -> float:
        """Other processes' share of the machine's CPU while it ran; fails loudly."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    os.waitpid(self.proc.pid, 0)
                    raise SystemExit(f"{self.log.name}: timed out after {timeout:.0f} s")
                self._sample()
                time.sleep(0.2)
        finally:
            self.out.close()
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        # The tree's CPU: the child's own rusage covers the descendants it reaped; the
        # sightings cover those it did not (up to 0.2 s of each one's end is missed).
        tree = max(usage.ru_utime + usage.ru_stime, sum(self.seen.values()))
        mine = tree - self.base + self_cpu() - self.self_before
        mine += broker_cpu() - self.broker_before  # the broker serves this run
        other = other_share(self.cpu_before, mine)
        if self.proc.returncode:
            tail = self.log.read_text()[-3000:]
            raise SystemExit(f"{self.log.name} failed ({self.proc.returncode}):\n{tail}")
        return other

    def alive(self) -> bool:
        import psutil

        try:  # not proc.poll(): that would reap the child before wait() sees its rusage
            return psutil.Process(self.proc.pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False


# -- Kafka ----------------------------------------------------------------------------------


def kafka_bootstrap() -> str:
    subprocess.run([str(KAFKA), "start"], check=True)
    out = subprocess.run([str(KAFKA), "bootstrap"], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def create_topic(bootstrap: str, partitions: int) -> str:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    name = f"assay-bench-{uuid.uuid4().hex[:10]}"
    new = NewTopic(name, num_partitions=partitions, replication_factor=1)
    admin.create_topics([new], operation_timeout=30)[name].result(timeout=60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        topic = admin.list_topics(topic=name, timeout=10).topics.get(name)
        if (
            topic is not None
            and topic.error is None
            and len(topic.partitions) == partitions
            and all(p.leader >= 0 and p.error is None for p in topic.partitions.values())
        ):
            return name
        time.sleep(0.05)
    raise SystemExit(f"topic {name} has no leaders after 30 s")


def delete_topics(bootstrap: str, names: list[str]) -> None:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.delete_topics(names, operation_timeout=30).values():
        with contextlib.suppress(Exception):  # best effort: the broker is throwaway
            future.result(timeout=60)


def producer(bootstrap: str, **extra: Any) -> Any:
    from confluent_kafka import Producer

    return Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, **extra})


def send(prod: Any, topic: str, value: bytes, key: bytes) -> None:
    while True:
        try:
            prod.produce(topic, value=value, key=key)
            return
        except BufferError:
            prod.poll(0.05)


def produce_backlog(bootstrap: str, topic: str, args: argparse.Namespace) -> float:
    """N events (keyed by card, so a card's events stay in order on one partition), event
    times evenly over `span_minutes`; returns the seconds it took."""
    rng = random.Random(20261123)
    prod = producer(bootstrap, **{"linger.ms": 50, "batch.size": 1_000_000})
    step = timedelta(minutes=args.span_minutes) / args.events
    began = time.monotonic()
    for i in range(args.events):
        card = rng.randrange(args.cards)
        at = T0 + i * step
        value = json.dumps(
            {
                "event_id": i,
                "card_id": card,
                "amount": round(rng.uniform(1, 500), 2),
                "event_time": at.isoformat(timespec="milliseconds"),
            }
        )
        send(prod, topic, value.encode(), str(card).encode())
        if i % 10_000 == 0:
            prod.poll(0)
    if prod.flush(120):
        raise SystemExit("producing the backlog did not finish")
    return time.monotonic() - began


def produce_steady(bootstrap: str, topic: str, args: argparse.Namespace) -> dict[str, Any]:
    """`rate` events/s for `seconds`, in 10 ms ticks, event_time = now (UTC)."""
    rng = random.Random(7)
    prod = producer(bootstrap, **{"linger.ms": 5})
    total = int(args.latency_rate * args.latency_seconds)
    tick = 0.01
    per_tick = max(1, round(args.latency_rate * tick))
    began = time.monotonic()
    next_at, sent, behind = began, 0, 0.0
    while sent < total:
        due = min(total, sent + per_tick)
        while sent < due:
            card = rng.randrange(args.cards)
            value = json.dumps(
                {
                    "event_id": sent,
                    "card_id": card,
                    "amount": round(rng.uniform(1, 500), 2),
                    "event_time": datetime.now(UTC).replace(tzinfo=None).isoformat(),
                }
            )
            send(prod, topic, value.encode(), str(card).encode())
            sent += 1
        prod.poll(0)
        next_at += tick
        pause = next_at - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        else:
            behind = max(behind, -pause)
    elapsed = time.monotonic() - began
    if prod.flush(60):
        raise SystemExit("producing did not finish")
    return {"events": total, "seconds": elapsed, "rate": total / elapsed, "max_behind": behind}


def group_stable(admin: Any, group: str) -> bool:
    """Whether the consumer group has a member holding partitions."""
    try:
        [desc] = [f.result(timeout=10) for f in admin.describe_consumer_groups([group]).values()]
    except Exception:
        return False
    return any(m.assignment and m.assignment.topic_partitions for m in desc.members)


# -- the two sides --------------------------------------------------------------------------


def write_project(root: Path, **fields: Any) -> Path:
    """A fresh project. Its name, and so its Kafka consumer group, is new each time: with a
    group that committed offsets before (an earlier attempt on the same topic), assay's
    KafkaReader starts at the group's offsets when the table holds none, skipping the
    backlog, and `until_idle` then never returns (its idle check expects the topic's start)."""
    shutil.rmtree(root, ignore_errors=True)
    (root / "pipelines").mkdir(parents=True)
    (root / "assay.yaml").write_text(f"name: {root.name}-{uuid.uuid4().hex[:8]}\n")
    (root / "pipelines" / "events.py").write_text(PIPELINE.format(**fields).lstrip())
    return root


def consumer_group(root: Path) -> str:
    """The group a project's stream bronze.events consumes in (assay's naming)."""
    name = (root / "assay.yaml").read_text().split(":", 1)[1].strip()
    return f"assay-{name}-bronze.events"


def run_assay(args: argparse.Namespace, work: Path, bootstrap: str, topic: str) -> dict[str, Any]:
    root = write_project(
        work / "assay_catchup",
        topic=topic,
        bootstrap=bootstrap,
        batch_rows=args.batch_rows,
        batch_seconds=1.0,
        lateness=args.lateness,
        entity="None",
    )
    spec = {"root": str(root)}
    if args.profile:
        spec["profile"] = str(work / "assay_catchup.prof")
    save(work / "assay_spec.json", spec)
    result = work / "assay_result.json"
    wait_for_idle(args.idle_wait)
    child = Child(
        [sys.executable, __file__, "_catchup", str(work / "assay_spec.json"), str(result)],
        work / "assay_catchup.log",
    )
    other = child.wait(args.timeout)
    out = load(result)
    out.update(launched=child.launched, other=other, root=str(root))
    return out


def ensure_spark_venv(venv: Path) -> Path:
    """pyspark and delta-spark, pinned, in a virtualenv of their own (made on first use)."""
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import pyspark, delta"]
    pins = [str(python), "-m", "pip", "install", "-q", *SPARK_REQUIREMENTS]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        versions = subprocess.run(
            [str(python), "-m", "pip", "freeze"], capture_output=True, text=True
        ).stdout.lower()
        if all(pin.lower() in versions for pin in SPARK_REQUIREMENTS):
            return python
    print(f"installing {' '.join(SPARK_REQUIREMENTS)} into {venv} ...", flush=True)
    base = shutil.which("python3.11") or sys.executable
    if not python.exists():
        subprocess.run([base, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run(pins, check=True)
    return python


def spark_jars() -> list[str]:
    """The Kafka source and Delta jars (scripts/jars/spark/pom.xml), from the jar cache."""
    out = subprocess.run([str(RESOLVE), "spark"], check=True, capture_output=True, text=True)
    jars = sorted(str(p) for p in Path(out.stdout.strip()).glob("*.jar"))
    pins = dict(r.split("==") for r in SPARK_REQUIREMENTS)
    wanted = [
        f"spark-sql-kafka-0-10_2.13-{pins['pyspark']}.jar",
        f"delta-spark_2.13-{pins['delta-spark']}.jar",
    ]
    missing = [w for w in wanted if not any(j.endswith("/" + w) for j in jars)]
    if missing:
        raise SystemExit(
            f"scripts/jars/spark/pom.xml does not match {SPARK_REQUIREMENTS}: {missing}"
        )
    return jars


def run_spark(
    args: argparse.Namespace, work: Path, bootstrap: str, topic: str, python: Path
) -> dict[str, Any]:
    spark_work = work / "spark"
    shutil.rmtree(spark_work, ignore_errors=True)
    spark_work.mkdir(parents=True)
    spec = {
        "work": str(spark_work),
        "cores": os.cpu_count() or 2,
        "jars": spark_jars(),
        "shuffle_partitions": args.spark_shuffle_partitions,
        "driver_memory": args.spark_driver_memory,
        "bootstrap": bootstrap,
        "topic": topic,
        "lateness_seconds": args.lateness,
        "window_seconds": 60,
        "max_offsets_per_trigger": args.spark_max_offsets or None,
    }
    save(spark_work / "spec.json", spec)
    result = spark_work / "result.json"
    env = {**os.environ, "PYSPARK_PYTHON": str(python), "PYSPARK_DRIVER_PYTHON": str(python)}
    wait_for_idle(args.idle_wait)
    child = Child(
        [str(python), str(SPARK_SIDE), str(spark_work / "spec.json"), str(result)],
        work / "spark.log",
        env=env,
    )
    other = child.wait(args.timeout)
    out = load(result)
    out.update(launched=child.launched, other=other, work=str(spark_work))
    return out


def table_facts(raw_uri: str, windows_uri: str) -> dict[str, Any]:
    """What a side committed: rows and distinct events in its raw table, and its window
    table as sorted (card_id, window_start micros, count, amount_sum) rows."""
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    raw = DeltaTable(raw_uri).to_pyarrow_dataset().to_table(columns=["event_id", "amount"])
    win = (
        DeltaTable(windows_uri)
        .to_pyarrow_dataset()
        .to_table(columns=["card_id", "window_start", "count", "amount_sum"])
    )
    start = pc.cast(pc.cast(win["window_start"], "timestamp[us]"), "int64")
    keyed = sorted(
        zip(
            win["card_id"].to_pylist(),
            start.to_pylist(),
            win["count"].to_pylist(),
            win["amount_sum"].to_pylist(),
            strict=True,
        )
    )
    return {
        "rows": raw.num_rows,
        "events": pc.count_distinct(raw["event_id"]).as_py(),
        "amount": pc.sum(raw["amount"]).as_py(),
        "windows": keyed,
        "windows_commits": DeltaTable(windows_uri).version() + 1,
    }


def compare_windows(a: list[Any], b: list[Any]) -> int:
    """Window rows that differ (keys missing on one side, or other counts or sums)."""
    left = {(r[0], r[1]): (r[2], r[3]) for r in a}
    right = {(r[0], r[1]): (r[2], r[3]) for r in b}
    differ = len(left.keys() ^ right.keys())
    for key in left.keys() & right.keys():
        (n1, s1), (n2, s2) = left[key], right[key]
        if n1 != n2 or abs(s1 - s2) > 1e-6 * max(1.0, abs(s1)):
            differ += 1
    return differ


def run_latency(
    args: argparse.Namespace, work: Path, bootstrap: str, batch_seconds: float
) -> dict[str, Any]:
    topic = create_topic(bootstrap, 3)
    tag = f"{batch_seconds:g}".replace(".", "_")
    root = write_project(
        work / f"assay_latency_{tag}",
        topic=topic,
        bootstrap=bootstrap,
        batch_rows=args.batch_rows,
        batch_seconds=batch_seconds,
        lateness=args.latency_lateness,
        entity="card",
    )
    total = int(args.latency_rate * args.latency_seconds)
    spec = {
        "root": str(root),
        "events": total,
        "lateness": args.latency_lateness,
    }
    save(work / f"latency_{tag}_spec.json", spec)
    result = work / f"latency_{tag}_result.json"
    child = Child(
        [sys.executable, __file__, "_latency", str(work / f"latency_{tag}_spec.json"), str(result)],
        work / f"assay_latency_{tag}.log",
    )
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    group = consumer_group(root)
    deadline = time.monotonic() + 60
    while not group_stable(admin, group):
        if not child.alive() or time.monotonic() > deadline:
            child.wait(1)
            raise SystemExit("the latency stream never joined its consumer group")
        time.sleep(0.2)
    wait_for_idle(args.idle_wait)
    # Start so that a minute boundary plus the lateness falls about 2/3 into the run.
    lead = args.latency_seconds * 2 / 3 - args.latency_lateness
    wait = (-time.time() - lead) % 60
    print(f"  stream assigned; producing in {wait:.0f} s (to cross a minute boundary)", flush=True)
    time.sleep(wait)
    child.mark()
    produced = produce_steady(bootstrap, topic, args)
    other = child.wait(args.timeout)
    out = load(result)
    out.update(producer=produced, other=other, topic=topic, batch_seconds=batch_seconds)
    return out


# -- report ---------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def versions(spark_python: Path | None) -> dict[str, str]:
    from importlib.metadata import version

    import confluent_kafka

    out = {
        "assay": version("assay"),
        "duckdb": version("duckdb"),
        "deltalake": version("deltalake"),
        "pyarrow": version("pyarrow"),
        "confluent-kafka": version("confluent-kafka"),
        "librdkafka": confluent_kafka.libversion()[0],
    }
    pom = (REPO / "scripts" / "jars" / "kafka" / "pom.xml").read_text()
    match = re.search(r"<kafka.version>([^<]+)<", pom)
    out["Kafka broker"] = match.group(1) if match else "?"
    if spark_python is not None:
        code = "from importlib.metadata import version as v; print(v('pyspark'), v('delta-spark'))"
        got = subprocess.run([str(spark_python), "-c", code], capture_output=True, text=True)
        pyspark, delta = [*got.stdout.split(), "?", "?"][:2]
        out["pyspark"], out["delta-spark"] = pyspark, delta
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "([^"]+)"', java)
    out["Java"] = match.group(1) if match else "?"
    return out


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def phase_line(run: dict[str, Any], processing: float) -> str:
    """Where the catch-up's processing time went, from the child's timed functions."""
    ph = run["phases"]
    rest = processing - ph["poll"] - ph["process"] - ph["caught_up"] - ph["acknowledge"]

    def part(key: str) -> str:
        return f"{ph[key]:.1f} s ({ph[key] / processing:.0%})"

    return (
        f"- Where assay's {processing:.1f} s of processing went (wall time of its functions, "
        f"timed in the child): reading Kafka (`KafkaReader.poll`) {part('poll')}, of it "
        f"building the Arrow records (`records_table`) {part('records_table')}, the rest "
        "librdkafka's consume (one Python message object per record), the per-message loop "
        "and the final empty poll (up to max_batch_seconds); the batches "
        f"(`StreamRunner.process`) {part('process')}: parse, cast and validate "
        f"{part('validate')}, rows to Delta {part('commit_rows')}, windows (fold and Delta "
        f"commit) {part('windows')}; telling that the topic is drained "
        f"(`KafkaReader.caught_up`) {part('caught_up')}; offset commits "
        f"{ph['acknowledge']:.2f} s; the rest {rest:.1f} s (joining the consumer group, "
        "between batches)."
    )


def latency_lines(args: argparse.Namespace, runs: list[dict[str, Any]]) -> list[str]:
    first = runs[0]["producer"]
    lines = [
        "",
        "### Event-to-online latency (assay)",
        "",
        f"{first['events']:,} events produced at a steady {args.latency_rate:,}/s for "
        f"{args.latency_seconds:g} s per run (event_time = produce time, UTC) into a "
        "3-partition topic, the stream already running and assigned; window as above but with "
        f"entity=card (closed windows upserted into the SQLite online store) and "
        f"{args.latency_lateness} s allowed lateness; a minute boundary falls inside each run. "
        f"max_batch_rows {args.batch_rows:,}; max_batch_seconds per row (1.0 is the default).",
        "",
        "| max_batch_seconds | measure | samples | p50 s | p99 s | max s | produced/s | "
        "batches (median events) | batch processing p50 / max s | other CPU |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        lat, produced, newest = run["latency"], run["produced"], run["newest"]
        start = min(produced)
        steady = [v for v, p in zip(lat, produced, strict=True) if p - start >= args.warmup]
        sizes = [b["rows"] for b in run["batches"]]
        took = [b["seconds"] for b in run["batches"]]
        common = (
            f"{run['producer']['rate']:,.0f} | {len(sizes)} ({pct(sizes, 50):,.0f}) | "
            f"{pct(took, 50):.3f} / {max(took):.3f} | {run['other']:.0%} |"
        )
        bs = f"{run['batch_seconds']:g}"
        rows = [
            ("event -> batch committed", lat),
            (f"same, after the first {args.warmup:g} s", steady),
            ("newest event of a batch -> batch committed", newest),
        ]
        for label, values in rows:
            lines.append(
                f"| {bs} | {label} | {len(values):,} | {pct(values, 50):.3f} | "
                f"{pct(values, 99):.3f} | {max(values):.3f} | {common}"
            )
        for c in run["closes"]:
            end = datetime.fromtimestamp(c["window_end"], UTC).strftime("%H:%M:%S")
            after = c["online_after"]
            lines.append(
                f"| {bs} | {c['windows']:,} windows ending {end}: closable -> online | 1 | "
                f"{after:.3f} | {after:.3f} | {after:.3f} | {common}"
            )
    waits = [
        f"max_batch_seconds {r['batch_seconds']:g}: poll (with the wait for the batch to fill) "
        f"p50 {pct([b['poll'] for b in r['batches']], 50):.3f} s, synchronous offset commit "
        f"p50 {pct([b['acknowledge'] for b in r['batches']], 50):.3f} s / max "
        f"{max(b['acknowledge'] for b in r['batches']):.3f} s"
        for r in runs
    ]
    for r in runs:
        big = max(r["batches"], key=lambda b: b["windows"])
        waits.append(
            f"max_batch_seconds {r['batch_seconds']:g}: the batch that closed the minute's "
            f"{big['windows']:,} windows took {big['seconds']:.3f} s, of it {big['windows_s']:.3f} "
            f"s the windows (fold, Delta commit, online upsert) and {big['online_s']:.3f} s the "
            f"online upsert alone; the other batches' median is "
            f"{pct([b['seconds'] for b in r['batches'] if b is not big], 50):.3f} s"
        )
    wrong = sum(r["online_wrong"] for r in runs)
    checked = sum(r["online_checked"] for r in runs)
    late = sum(r["late"] for r in runs)
    lines += [
        "",
        "- event -> batch committed: per event, the moment the stream's `on_batch` callback saw "
        "the micro-batch holding it finished (its rows and the windows it closed committed to "
        "Delta, those windows upserted online, offsets committed to Kafka) minus the event's "
        "produce time (its event_time). It includes the producer's linger (5 ms), the wait for "
        "the batch to fill (up to max_batch_seconds) and the batch's processing; the row 'newest "
        "event of a batch' leaves the wait out (one sample per batch).",
        "- Per batch: " + "; ".join(waits) + ".",
        "- closable -> online: windows can close once the wall clock passes their end plus the "
        "allowed lateness (event_time = now); the time from then to the end of the batch that "
        "upserted them online.",
        f"- Checks: {checked:,} sampled cards read back with `project.features.online` equal "
        f"silver.card_1m but for {wrong}; {late} late rows.",
        "- What this is not: a window reaches the online store only when it closes, so an "
        "event's effect on its card's online 1-minute aggregate shows up between the allowed "
        "lateness and 1 minute + the allowed lateness after the event, plus the closable -> "
        "online time above. assay has no early or per-batch emission of open windows to the "
        "online store, which an event -> online-feature latency under 2 s would need.",
    ]
    return lines


def report(
    args: argparse.Namespace,
    setup: dict[str, Any],
    assay_run: dict[str, Any],
    spark_run: dict[str, Any] | None,
    facts: dict[str, Any],
    latencies: list[dict[str, Any]],
    info: dict[str, str],
) -> str:
    n = args.events
    a_start = assay_run["ready"] - assay_run["launched"]
    a_total = assay_run["done"] - assay_run["launched"]
    a_proc = assay_run["done"] - assay_run["ready"]
    lines = [
        "## Streaming: assay (embedded) vs Spark Structured Streaming, Kafka to Delta",
        "",
        "`python benchmarks/streaming_vs_spark.py` (`make bench-streaming`). One local Kafka "
        "broker (scripts/services/kafka), each side in its own child process; Spark in its own "
        "virtualenv, its Kafka and Delta jars from Maven Central (scripts/jars/spark/pom.xml).",
        "",
        f"Machine: {os.cpu_count()} cores ({cpu_model()}); Python {sys.version.split()[0]}; "
        + "; ".join(f"{k} {v}" for k, v in info.items())
        + f"; recorded {time.strftime('%Y-%m-%d')}; 1-minute load average "
        f"{setup['load_start']:.2f} at the start, {os.getloadavg()[0]:.2f} at the end.",
        "",
        "### Catch-up throughput (backlog on the topic, then the consumer starts)",
        "",
        f"{n:,} events (JSON, ~{setup['bytes_per_event']:.0f} bytes each) on a 3-partition "
        f"topic, {args.cards:,} cards, event times over {args.span_minutes} minutes; window: "
        f"tumbling 1 minute by card_id, count and sum(amount), allowed lateness / watermark "
        f"delay {args.lateness // 60} minutes. Produced in {setup['produce_s']:.1f} s "
        "before either side started.",
        "",
        "| engine | startup s | processing s | total s | events/s (total) | "
        "events/s (processing) | micro-batches | rows in Delta | distinct events | "
        "closed windows | total vs assay | other CPU |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        f"| assay | {a_start:.1f} | {a_proc:.1f} | {a_total:.1f} | **{n / a_total:,.0f}** | "
        f"{n / a_proc:,.0f} | {len(assay_run['batches'])} | {facts['assay']['rows']:,} | "
        f"{facts['assay']['events']:,} | {len(facts['assay']['windows']):,} | 1.0x | "
        f"{assay_run['other']:.0%} |",
    ]
    if spark_run is not None:
        s_start = spark_run["ready"] - spark_run["launched"]
        s_total = spark_run["done"] - spark_run["launched"]
        s_proc = spark_run["done"] - spark_run["ready"]
        raw_batches = len(spark_run["batches"]["raw"])
        win_batches = len(spark_run["batches"]["windows"])
        lines.append(
            f"| Spark local[{os.cpu_count()}] | {s_start:.1f} | {s_proc:.1f} | {s_total:.1f} | "
            f"**{n / s_total:,.0f}** | {n / s_proc:,.0f} | {raw_batches} raw + {win_batches} "
            f"windows | {facts['spark']['rows']:,} | {facts['spark']['events']:,} | "
            f"{len(facts['spark']['windows']):,} | {s_total / a_total:.1f}x | "
            f"{spark_run['other']:.0%} |"
        )
    lines += [""]
    if spark_run is not None:
        ends = {k: v - spark_run["ready"] for k, v in spark_run["ended"].items()}
        lines.append(
            f"- Spark's queries ended {ends['raw']:.1f} s (raw rows) and {ends['windows']:.1f} s "
            f"(windows) after its session was ready (both started "
            f"{spark_run['started'] - spark_run['ready']:.1f} s after it)."
        )
        lines.append(
            f"- Window tables: {facts['windows_differ']:,} of "
            f"{len(facts['assay']['windows']):,} (card, window) rows differ between assay and "
            f"Spark (count and sum(amount) compared). Rows in: assay {assay_run['rows_in']:,}, "
            f"dead-lettered {assay_run['dead_lettered']:,}, late {assay_run['late']:,}."
        )
    lines += [
        "- startup = process start to ready to consume (assay: imports and project load; "
        "Spark: imports, JVM and SparkSession with the jars); processing = ready to every row "
        "and every closed window committed (assay: `stream(until_idle=True)` returns; Spark: "
        "both availableNow queries terminated); total = both; events/s (total) is the "
        "headline number.",
        f"- Spark: two queries over the topic in one session (a streaming query cannot emit "
        f"both its input rows and a stateful aggregate of them): raw rows through "
        f"foreachBatch to Delta, and withWatermark + groupBy(window, card_id) in append mode "
        f"through foreachBatch to Delta; idempotent writes (txnAppId/txnVersion); trigger "
        f"availableNow; spark.sql.shuffle.partitions={args.spark_shuffle_partitions}, "
        f"driver memory {args.spark_driver_memory}, "
        + (
            f"maxOffsetsPerTrigger {args.spark_max_offsets:,}."
            if args.spark_max_offsets
            else "no maxOffsetsPerTrigger (all of the backlog in one micro-batch, its best case "
            "for catching up), plus the no-data batch that closes windows."
        ),
        f"- assay: max_batch_rows {args.batch_rows:,}, max_batch_seconds 1.0; raw rows to "
        "bronze.events, windows to silver.card_1m (no online store: Spark has none); a new "
        "consumer group each run.",
        phase_line(assay_run, a_proc),
    ]
    if latencies:
        lines += latency_lines(args, latencies)
    lines += ["", "Aims (measured, not asserted):", ""]

    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    rate = n / a_total
    lines.append(
        f"- Catch-up >= {AIM_RATE:,} events/s (total): measured {rate:,.0f} "
        f"({verdict(rate >= AIM_RATE)})."
    )
    if spark_run is not None:
        ratio = (spark_run["done"] - spark_run["launched"]) / a_total
        proc = (spark_run["done"] - spark_run["ready"]) / (assay_run["done"] - assay_run["ready"])
        lines.append(
            f"- Ahead of Spark Structured Streaming local: {ratio:.1f}x Spark's total time, "
            f"{proc:.1f}x without either startup ({verdict(ratio > 1 and proc > 1)})."
        )
    for run in latencies:
        p99 = pct(run["latency"], 99)
        rate_ok = run["producer"]["rate"] >= AIM_LATENCY_RATE * 0.98
        lines.append(
            f"- p99 event -> batch committed (with online upsert) < {AIM_P99_S:.0f} s at "
            f"{AIM_LATENCY_RATE:,} events/s, max_batch_seconds {run['batch_seconds']:g}: "
            f"measured {p99:.3f} s at {run['producer']['rate']:,.0f} events/s "
            f"({verdict(p99 < AIM_P99_S and rate_ok)})."
        )
    return "\n".join(lines)


RESTART_HEADING = "### Restart after kill -9 (assay)"


def last_stream_commit(log: Path) -> tuple[int, int | None]:
    """The newest version in a Delta log and the pid of the `assay stream` that wrote it
    (None for a commit that is not a stream batch)."""
    versions = sorted(int(p.stem) for p in log.glob("*.json") if p.stem.isdigit())
    if not versions:
        return -1, None
    with contextlib.suppress(FileNotFoundError, ValueError):
        for line in (log / f"{versions[-1]:020d}.json").read_text().splitlines():
            info = json.loads(line).get("commitInfo")
            if info and "assay.stream" in info:
                return versions[-1], json.loads(info["assay.stream"]).get("pid")
    return versions[-1], None


def wait_commit(log: Path, pid: int, after: int, timeout: float) -> float:
    """Wait for a commit by `pid` after version `after`; return when it was seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        version, writer = last_stream_commit(log)
        if version > after and writer == pid:
            return time.monotonic()
        time.sleep(0.02)
    raise SystemExit(f"no commit by pid {pid} in {timeout:.0f} s ({log})")


def run_restart(
    args: argparse.Namespace, work: Path, bootstrap: str, topics: list[str]
) -> list[dict[str, Any]]:
    """Restart-to-first-commit after kill -9, with and without windows (see the top)."""
    import assay

    runs = []
    for windowed in (False, True):
        topic = create_topic(bootstrap, 3)
        topics.append(topic)
        backlog = argparse.Namespace(**{**vars(args), "events": args.restart_events})
        produce_backlog(bootstrap, topic, backlog)
        root = write_project(
            work / f"restart_{'windows' if windowed else 'group'}",
            topic=topic,
            bootstrap=bootstrap,
            batch_rows=5_000,
            batch_seconds=0.5,
            lateness=60,
            entity="None",
        )
        if not windowed:
            text = (root / "pipelines" / "events.py").read_text()
            start = text.index("    windows=[")
            (root / "pipelines" / "events.py").write_text(text[:start] + ")\n")
        log = Path(assay.Project(root).warehouse.uri("bronze.events")) / "_delta_log"
        command = [sys.executable, "-m", "assay.cli.main", "stream", "bronze.events"]
        command += ["--project", str(root)]

        def start(command: list[str] = command) -> subprocess.Popen[bytes]:
            return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        proc = start()
        seen = wait_commit(log, proc.pid, -1, 120)
        samples = []
        for _ in range(args.restart_kills):
            version, _ = last_stream_commit(log)
            wait_commit(log, proc.pid, version, 120)  # it is reading
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            version, _ = last_stream_commit(log)
            began = time.monotonic()
            proc = start()
            seen = wait_commit(log, proc.pid, version, 300)
            samples.append(seen - began)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        runs.append({"windows": windowed, "samples": samples})
    return runs


def restart_lines(args: argparse.Namespace, runs: list[dict[str, Any]]) -> list[str]:
    lines = [
        RESTART_HEADING,
        "",
        f"{args.restart_events:,} events backlogged on a 3-partition topic; `assay stream` "
        f"(the CLI) killed with SIGKILL after a commit and started again at once, "
        f"{args.restart_kills} times per row; max_batch_rows 5,000, max_batch_seconds 0.5; "
        "default consumer settings.",
        "",
        "| stream | restarts | restart -> first commit p50 s | max s |",
        "|---|---|---|---|",
    ]
    for run in runs:
        kind = (
            "with windows (one process, assigns itself every partition)"
            if run["windows"]
            else "no windows (consumer group, static membership)"
        )
        samples = run["samples"]
        lines.append(f"| {kind} | {len(samples)} | {pct(samples, 50):.2f} | {max(samples):.2f} |")
    lines += [
        "",
        "- restart -> first commit: from launching the new process (imports and project load "
        "included) to its first batch committed to the Delta table. Before static membership "
        "and self-assignment, a restarted member of the default consumer group waited for the "
        "dead member's session to expire: 45-58 s (issue 12's probe).",
    ]
    return lines


def write_restart(lines: list[str]) -> None:
    """Replace only the restart subsection of this benchmark's block in RESULTS.md."""
    results = HERE / "RESULTS.md"
    text = results.read_text()
    head, rest = text.split(START, 1)
    block, tail = rest.split(END, 1)
    block = block.split(RESTART_HEADING, 1)[0].rstrip()
    new = f"{block}\n\n" + "\n".join(lines) + "\n"
    results.write_text(f"{head}{START}{new}{END}{tail}")


def measured(args: argparse.Namespace, name: str, step: Any) -> dict[str, Any]:
    """Run a measured step; again (up to --retries times) when other processes used over
    IDLE_SHARE of the machine's CPU meanwhile. The last attempt counts either way."""
    for attempt in range(args.retries + 1):
        result: dict[str, Any] = step()
        if result["other"] <= IDLE_SHARE or attempt == args.retries:
            return result
        print(f"  {name}: disturbed ({result['other']:.0%} other CPU), again", flush=True)
    raise AssertionError("unreachable")


def write_section(text: str) -> None:
    """Replace this benchmark's marked block; the rest of RESULTS.md stays as it is."""
    replace_block(HERE / "RESULTS.md", f"{START}\n{text.strip()}\n{END}", START, END)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in CHILDREN:
        CHILDREN[sys.argv[1]](*sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--cards", type=int, default=100_000)
    parser.add_argument("--span-minutes", type=int, default=120, help="event times spread over")
    parser.add_argument("--lateness", type=int, default=1800, help="allowed lateness, s")
    parser.add_argument("--batch-rows", type=int, default=100_000, help="assay max_batch_rows")
    parser.add_argument("--spark-max-offsets", type=int, default=0, help="0: unbounded")
    parser.add_argument("--spark-shuffle-partitions", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--spark-driver-memory", default="4g")
    parser.add_argument("--latency-rate", type=int, default=10_000, help="events/s")
    parser.add_argument("--latency-seconds", type=float, default=30)
    parser.add_argument("--latency-lateness", type=int, default=5, help="s")
    parser.add_argument(
        "--latency-batch-seconds", type=float, nargs="+", default=[1.0, 0.25], help="one run each"
    )
    parser.add_argument("--warmup", type=float, default=2.0, help="s left out of one row")
    parser.add_argument("--restart-events", type=int, default=300_000)
    parser.add_argument("--restart-kills", type=int, default=5)
    parser.add_argument(
        "--restart-only", action="store_true", help="only the restart measure (its subsection)"
    )
    parser.add_argument("--no-spark", action="store_true")
    parser.add_argument("--no-latency", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile assay's catch-up")
    parser.add_argument("--idle-wait", type=float, default=120, help="max s to wait for idle")
    parser.add_argument(
        "--retries", type=int, default=1, help="reruns of a step that others' CPU use disturbed"
    )
    parser.add_argument("--timeout", type=float, default=900, help="per child, s")
    parser.add_argument("--work", type=Path, default=HERE / "work")
    parser.add_argument("--no-write", action="store_true", help="print, do not touch RESULTS.md")
    args = parser.parse_args()

    began = time.monotonic()
    work = args.work / "streaming"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    if args.restart_only:
        bootstrap = kafka_bootstrap()
        made: list[str] = []
        try:
            lines = restart_lines(args, run_restart(args, work, bootstrap, made))
        finally:
            delete_topics(bootstrap, made)
        print("\n".join(lines))
        if not args.no_write:
            write_restart(lines)
        return
    setup: dict[str, Any] = {"load_start": os.getloadavg()[0]}
    spark_python = None if args.no_spark else ensure_spark_venv(args.work / "spark-venv")
    if spark_python is not None:
        spark_jars()  # resolved before anything is timed
    bootstrap = kafka_bootstrap()
    topics: list[str] = []
    try:
        topic = create_topic(bootstrap, 3)
        topics.append(topic)
        print(f"producing {args.events:,} events to {topic} ...", flush=True)
        setup["produce_s"] = produce_backlog(bootstrap, topic, args)
        setup["bytes_per_event"] = len(
            json.dumps(
                {
                    "event_id": args.events // 2,
                    "card_id": args.cards // 2,
                    "amount": 250.5,
                    "event_time": T0.isoformat(timespec="milliseconds"),
                }
            )
        )
        print(f"  {setup['produce_s']:.1f} s; assay catching up ...", flush=True)
        assay_run = measured(args, "assay", lambda: run_assay(args, work, bootstrap, topic))
        print(f"  {assay_run['done'] - assay_run['launched']:.1f} s", flush=True)
        from deltalake import DeltaTable  # noqa: F401 - fail early if missing

        import assay

        project = assay.Project(assay_run["root"])
        facts: dict[str, Any] = {
            "assay": table_facts(
                project.warehouse.uri("bronze.events"), project.warehouse.uri("silver.card_1m")
            )
        }
        spark_run = None
        if spark_python is not None:
            print("Spark catching up ...", flush=True)
            python = spark_python
            spark_run = measured(
                args, "Spark", lambda: run_spark(args, work, bootstrap, topic, python)
            )
            print(f"  {spark_run['done'] - spark_run['launched']:.1f} s", flush=True)
            facts["spark"] = table_facts(
                spark_run["work"] + "/delta_raw", spark_run["work"] + "/delta_windows"
            )
            facts["windows_differ"] = compare_windows(
                facts["assay"]["windows"], facts["spark"]["windows"]
            )
        latencies = []
        for seconds in [] if args.no_latency else args.latency_batch_seconds:
            print(
                f"latency at {args.latency_rate:,} events/s, max_batch_seconds {seconds:g} ...",
                flush=True,
            )

            def one(seconds: float = seconds) -> dict[str, Any]:
                run = run_latency(args, work, bootstrap, seconds)
                topics.append(run["topic"])
                return run

            latencies.append(measured(args, "latency", one))
        print("restart after kill -9 ...", flush=True)
        restarts = run_restart(args, work, bootstrap, topics)
    finally:
        delete_topics(bootstrap, topics)
    body = report(args, setup, assay_run, spark_run, facts, latencies, versions(spark_python))
    body = body.rstrip() + "\n\n" + "\n".join(restart_lines(args, restarts))
    print(body)
    for side, f in facts.items():
        if isinstance(f, dict) and f["events"] != args.events:
            print(f"WARNING: {side} holds {f['events']:,} distinct events of {args.events:,}")
    print(f"total {time.monotonic() - began:.0f} s")
    if not args.no_write:
        write_section(body)


if __name__ == "__main__":
    main()
