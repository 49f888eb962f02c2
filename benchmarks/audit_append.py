"""Benchmark: the cost of one audit-log append (hash chain, serialized across processes),
against a plain insert of the same row in its own transaction (the baseline: what any
durable append costs), and of verifying the chain.

Measured per catalog (SQLite file; PostgreSQL when --pg or ASSAY_PG_URL names a server):
- baseline: `INSERT` of the same row into an unchained table, one transaction each;
- append: `AuditLog.append`, one process (median and 95th percentile);
- two processes appending at once: wall time per append;
- verify: `AuditLog.verify` over all the events.

Usage: python benchmarks/audit_append.py [--events 1000] [--pg postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from results_file import replace_block  # noqa: E402

from assay.catalog import Catalog  # noqa: E402
from assay.governance.audit import AuditEvent, AuditLog, events_table, query_hash  # noqa: E402

START, END = "<!-- audit-append:start -->", "<!-- audit-append:end -->"

WRITER = """
import sys
from assay.catalog import Catalog
from assay.governance.audit import AuditEvent, AuditLog
log = AuditLog(Catalog(sys.argv[1]))
for i in range(int(sys.argv[2])):
    log.append(AuditEvent("read", "gold.flights", principal="p", rows=i, columns=("a", "b")))
"""


def _event(i: int) -> AuditEvent:
    return AuditEvent(
        "read",
        "gold.flights",
        principal="alice",
        role="analyst",
        columns=("carrier", "dep_delay"),
        rows=i,
        query_hash=query_hash(f"SELECT * FROM gold.flights -- {i}"),
        detail={"purpose": "sql", "version": 3},
    )


def _baseline_ms(url: str, n: int) -> list[float]:
    """A plain insert of the same row into a copy of the table, without the chain."""
    engine = sa.create_engine(url)
    plain = sa.Table("bench_plain_events", sa.MetaData(), *(c.copy() for c in events_table.c))
    plain.create(engine, checkfirst=True)
    row = {
        "time": sa.func.now(),
        "principal": "alice",
        "role": "analyst",
        "action": "read",
        "dataset": "gold.flights",
        "columns": '["carrier","dep_delay"]',
        "query_hash": query_hash("x"),
        "allowed": True,
        "detail": '{"purpose":"sql","version":3}',
        "prev_hash": "0" * 64,
        "hash": "0" * 64,
    }
    times = []
    for i in range(n):
        began = time.perf_counter()
        with engine.begin() as con:
            con.execute(plain.insert().values(seq=i + 1, rows=i, **row))
        times.append((time.perf_counter() - began) * 1000)
    engine.dispose()
    return times


def _append_ms(log: AuditLog, n: int) -> list[float]:
    times = []
    for i in range(n):
        began = time.perf_counter()
        log.append(_event(i))
        times.append((time.perf_counter() - began) * 1000)
    return times


def _two_processes_ms(url: str, n: int) -> float:
    """Wall time per append with two processes appending n/2 each at once (after both
    have started: their start-up is timed apart and subtracted)."""
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src")}
    began = time.perf_counter()
    empty = [subprocess.Popen([sys.executable, "-c", WRITER, url, "0"], env=env) for _ in (1, 2)]
    assert [p.wait() for p in empty] == [0, 0]
    startup = time.perf_counter() - began
    began = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, url, str(n // 2)], env=env)]
    procs.append(subprocess.Popen([sys.executable, "-c", WRITER, url, str(n // 2)], env=env))
    assert [p.wait() for p in procs] == [0, 0]
    return max(0.0, time.perf_counter() - began - startup) * 1000 / n


def measure(label: str, url: str, n: int) -> dict[str, object]:
    base = _baseline_ms(url, n)
    log = AuditLog(Catalog(url))
    appends = _append_ms(log, n)
    concurrent = _two_processes_ms(url, n)
    began = time.perf_counter()
    result = log.verify()
    verify_s = time.perf_counter() - began
    assert result.ok and result.events == 2 * n, result
    median = statistics.median(appends)
    return {
        "catalog": label,
        "baseline": statistics.median(base),
        "append": median,
        "p95": statistics.quantiles(appends, n=20)[-1],
        "ratio": median / statistics.median(base),
        "concurrent": concurrent,
        "verify": verify_s,
        "events": result.events,
    }


def _pg_database(admin_url: str) -> str:
    name = f"assay_bench_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as con:
        con.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _drop_database(admin_url: str, url: str) -> None:
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as con:
        con.exec_driver_sql(f'DROP DATABASE IF EXISTS "{sa.make_url(url).database}" WITH (FORCE)')
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--pg", default=os.environ.get("ASSAY_PG_URL"))
    parser.add_argument("--no-write", action="store_true", help="print, do not touch RESULTS.md")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        rows.append(measure("SQLite file", f"sqlite:///{folder}/catalog.db", args.events))
    if args.pg:
        url = _pg_database(args.pg)
        try:
            rows.append(measure("PostgreSQL", url, args.events))
        finally:
            _drop_database(args.pg, url)
    lines = [
        START,
        "## Audit log: the cost of an append",
        "",
        f"`python benchmarks/audit_append.py --events {args.events}`. Baseline: a plain insert of",
        "the same row in its own transaction, no chain. An append reads the chain head under a",
        "lock (SQLite BEGIN IMMEDIATE, PostgreSQL SELECT ... FOR UPDATE), hashes the event and",
        "moves the head. Two processes: wall time per append while both append at once.",
        "",
        f"Machine: 2 cores shared with other work (load average {load:.1f} at the start);",
        f"recorded {date.today()}. The p95 and the two-process figure move with that load.",
        "",
        "| catalog | baseline insert ms | append ms (median) | append p95 ms | ratio | "
        "2 processes ms/append | verify s | events verified |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['catalog']} | {r['baseline']:.2f} | {r['append']:.2f} | {r['p95']:.2f} | "
            f"{r['ratio']:.2f}x | {r['concurrent']:.2f} | {r['verify']:.3f} | {r['events']:,} |"
        )
    lines.append(END)
    block = "\n".join(lines)
    print(block)
    if not args.no_write:
        replace_block(HERE / "RESULTS.md", block, START, END)


if __name__ == "__main__":
    main()
